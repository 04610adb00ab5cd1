"""Request validation against the twilio-oai extract, the extract itself, signatures and TwiML parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from notifier.sandbox import TwilioError, mask_number, sign, validate_form
from notifier.sandbox.schema import SCHEMA_FILE, extract
from notifier.sandbox.twiml import Gather, Hangup, Redirect, Say, TwimlError, parse

# the project's shared/ folder sits beside the checkout (here and in CI)
SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "twilio-oai" / "twilio_api_v2010.json"
MESSAGE = {"To": ["+32470000001"], "From": ["+15005550006"], "Body": ["EOS down, reply 1"]}
CALL = {"To": ["+32470000001"], "From": ["+15005550006"], "Url": ["https://example.org/voice"]}


def refusal(title: str, form: dict[str, list[str]]) -> TwilioError:
    with pytest.raises(TwilioError) as caught:
        validate_form(title, form)
    return caught.value


def test_shipped_extract_matches_the_reference_spec() -> None:
    assert SPEC.is_file(), f"Twilio's OpenAPI description is expected at {SPEC} (shared/ beside the checkout)"
    shipped = json.loads(SCHEMA_FILE.read_text())
    regenerated = extract(json.loads(SPEC.read_text()))
    assert shipped["schemas"] == regenerated["schemas"]
    assert shipped["enums"] == regenerated["enums"]
    assert "MIT" in shipped["_licence"] and "twilio-oai" in shipped["_origin"]


def test_valid_requests_pass() -> None:
    validate_form("CreateMessageRequest", MESSAGE | {"ValidityPeriod": ["600"], "SmartEncoded": ["true"]})
    validate_form("CreateCallRequest", CALL | {"StatusCallbackEvent": ["initiated", "ringing", "answered"]})
    validate_form(
        "CreateMessageRequest",
        {
            "To": ["+32470000001"],
            "MessagingServiceSid": ["MG" + "a" * 32],
            "MediaUrl": ["https://example.org/a.png"],
        },
    )


@pytest.mark.parametrize(
    ("title", "form", "code"),
    [
        ("CreateMessageRequest", {"From": ["+15005550006"], "Body": ["x"]}, 21604),
        ("CreateMessageRequest", {"To": ["+32470000001"], "Body": ["x"]}, 21603),
        ("CreateMessageRequest", {"To": ["+32470000001"], "From": ["+15005550006"]}, 21602),
        ("CreateMessageRequest", MESSAGE | {"Colour": ["red"]}, 21200),
        ("CreateMessageRequest", MESSAGE | {"RiskCheck": ["maybe"]}, 21201),
        ("CreateMessageRequest", MESSAGE | {"ValidityPeriod": ["ten"]}, 21201),
        ("CreateMessageRequest", MESSAGE | {"SmartEncoded": ["yes"]}, 21201),
        ("CreateMessageRequest", MESSAGE | {"Body": ["a", "b"]}, 21200),
        ("CreateMessageRequest", MESSAGE | {"Body": ["x" * 1601]}, 21617),
        ("CreateMessageRequest", MESSAGE | {"StatusCallback": ["not a url"]}, 21609),
        ("CreateMessageRequest", MESSAGE | {"To": ["0470000001"]}, 21211),
        ("CreateCallRequest", {"To": ["+32470000001"], "Url": ["https://example.org/v"]}, 21213),
        ("CreateCallRequest", {"To": ["+32470000001"], "From": ["+15005550006"]}, 21205),
        ("CreateCallRequest", CALL | {"Method": ["PUT"]}, 21201),
        ("CreateCallRequest", CALL | {"Timeout": ["601"]}, 21201),
        ("CreateCallRequest", CALL | {"MachineDetection": ["Maybe"]}, 21201),
    ],
)
def test_refusals_carry_twilio_codes(title: str, form: dict[str, list[str]], code: int) -> None:
    error = refusal(title, form)
    assert error.status == 400 and error.code == code
    assert error.body()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


params_strategy = st.dictionaries(
    st.text(alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=12),
    st.one_of(st.text(max_size=20), st.lists(st.text(max_size=8), min_size=1, max_size=3)),
    max_size=6,
)


@given(params=params_strategy, path=st.sampled_from(["/webhooks/twilio/sms", "/voice/gather?ref=K7Q"]))
def test_signature_matches_twilio_request_validator(params: dict[str, str | list[str]], path: str) -> None:
    token = "9f86d081884c7d659a2feaa0c55ad015"
    url = "https://notifier.example.org" + path
    signature = sign(token, url, params)

    class Form(dict[str, str | list[str]]):
        def getall(self, key: str) -> list[str]:
            value = self[key]
            return [value] if isinstance(value, str) else value

    assert RequestValidator(token).validate(url, Form(params), signature)
    assert not RequestValidator("another-token").validate(url, Form(params), signature)


def test_signature_of_the_twilio_docs_example() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert (
        sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_twiml_parse_reads_the_verbs_the_daemon_uses() -> None:
    verbs = parse(
        '<?xml version="1.0"?><Response><Gather numDigits="1" action="/g" method="get">'
        "<Say>TARIC  is\n down</Say></Gather><Redirect>/again</Redirect><Hangup/></Response>"
    )
    assert verbs == [
        Gather(action="/g", method="GET", num_digits=1, prompts=[Say("TARIC is down")]),
        Redirect("/again"),
        Hangup(),
    ]
    with pytest.raises(TwimlError):
        parse("<Reply>no</Reply>")
    with pytest.raises(TwimlError):
        parse("<Response><Say>")


def test_mask_number_hides_the_middle() -> None:
    assert mask_number("+32470123456") == "+3247*****56"
