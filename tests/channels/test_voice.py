"""TwiML documents for the acknowledgement call, parsed as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from notifier.channels.twilio.voice import (
    KeyAction,
    VoiceUrls,
    call_script,
    digits_response,
    is_machine,
    machine_message,
    parse_digits,
    voice_document,
)

URLS = VoiceUrls("https://notifier.example.org/", "tok/1+x")
TEXT = "This is a drill. Continuity alert for TARIC: tariff lookups failing."


def _verbs(twiml: str) -> list[ET.Element]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return list(root)


def test_call_script_gathers_one_digit_twice_then_hangs_up() -> None:
    verbs = _verbs(call_script(TEXT, URLS))
    assert [v.tag for v in verbs] == ["Gather", "Gather", "Say", "Hangup"]
    for gather in verbs[:2]:
        assert gather.attrib["numDigits"] == "1"
        assert gather.attrib["method"] == "POST"
        assert gather.attrib["action"] == "https://notifier.example.org/webhooks/twilio/gather?t=tok%2F1%2Bx"
        said = [s.text for s in gather.findall("Say")]
        assert said[0] == TEXT
        assert said[1] is not None and "Press 1 to confirm, 2 if you cannot respond, 9 to repeat" in said[1]
    assert [v.tag for v in _verbs(call_script(TEXT, URLS, repeated=True))] == ["Gather", "Say", "Hangup"]


def test_machine_message_has_no_menu() -> None:
    twiml = machine_message(TEXT)
    assert "Gather" not in twiml and "Press 1" not in twiml
    assert TEXT in twiml and "reply to the text message" in twiml
    assert "Gather" not in voice_document(TEXT, URLS, "machine_end_beep")
    assert "Gather" in voice_document(TEXT, URLS, "human")
    assert "Gather" in voice_document(TEXT, URLS, "unknown")


@pytest.mark.parametrize(
    ("digits", "action"),
    [
        ("1", KeyAction.CONFIRM),
        ("2", KeyAction.DECLINE),
        ("9", KeyAction.REPEAT),
        ("5", KeyAction.INVALID),
        ("", KeyAction.INVALID),
        (None, KeyAction.INVALID),
        ("#", KeyAction.INVALID),
    ],
)
def test_parse_digits(digits: str | None, action: KeyAction) -> None:
    assert parse_digits(digits) is action


def test_digit_responses() -> None:
    assert "confirmation has been recorded" in digits_response("1", TEXT, URLS)
    assert "cannot respond" in digits_response("2", TEXT, URLS)
    assert digits_response("9", TEXT, URLS) == call_script(TEXT, URLS)
    other = _verbs(digits_response("7", TEXT, URLS))
    assert [v.tag for v in other] == ["Say", "Gather", "Say", "Hangup"]
    assert TEXT not in ET.tostring(other[1], encoding="unicode")  # only the menu again


def test_amd_values() -> None:
    assert all(is_machine(v) for v in ("machine_start", "machine_end_beep", "machine_end_silence", "fax"))
    assert not any(is_machine(v) for v in ("human", "unknown", "", None))


def test_script_text_is_xml_escaped() -> None:
    twiml = call_script("SEED <down> & EOS", URLS)
    assert "SEED &lt;down&gt; &amp; EOS" in twiml
    assert _verbs(twiml)[0].find("Say") is not None
