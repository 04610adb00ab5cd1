"""The SMS reply grammar (DESIGN §4 Responses): strict, never raises, never acts on opt-out words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.domain.messages import REF_SPACE, reference_code
from notifier.domain.replies import (
    TWILIO_OPT_OUT_WORDS,
    ParsedReply,
    ReplyAction,
    parse_reply,
    resolve,
)

C, D = ReplyAction.CONFIRM, ReplyAction.DECLINE


@pytest.mark.parametrize(
    ("text", "action", "ref"),
    [
        ("1", C, None),
        ("yes", C, None),
        (" Y ", C, None),
        ("OK", C, None),
        ("ack", C, None),
        ("Confirm", C, None),
        ("confirmed!", C, None),
        ("2", D, None),
        ("no", D, None),
        ("N", D, None),
        ("decline", D, None),
        ("cannot", D, None),
        ("1 K7Q", C, "K7Q"),
        ("K7Q 1", C, "K7Q"),
        ("k7q yes", C, "K7Q"),
        ("ok k7q.", C, "K7Q"),
        ("2 m3t", D, "M3T"),
        ("1K7Q", C, "K7Q"),
        ("K7Q2", D, "K7Q"),
        ("yes, confirmed", C, None),
        ("\uff11", C, None),  # full-width digit one, as some phone keyboards send it
        ("HELP", ReplyAction.HELP, None),
        ("info K7Q", ReplyAction.HELP, "K7Q"),
    ],
)
def test_accepted_replies(text: str, action: ReplyAction, ref: str | None) -> None:
    parsed = parse_reply(text)
    assert (parsed.action, parsed.ref) == (action, ref)


@pytest.mark.parametrize("word", sorted(TWILIO_OPT_OUT_WORDS))
def test_twilio_opt_out_words_are_opt_out_never_commands(word: str) -> None:
    assert parse_reply(word.lower()).action is ReplyAction.OPT_OUT
    assert parse_reply(f"{word}.").action is ReplyAction.OPT_OUT
    # inside a longer reply they are neither an opt-out (Twilio did not do one) nor an ack
    assert parse_reply(f"1 {word}").action is ReplyAction.UNKNOWN
    assert parse_reply(f"K7Q {word}").action is ReplyAction.UNKNOWN


def test_opt_in_words_and_yes_resubscribes() -> None:
    assert parse_reply("START") == ParsedReply(ReplyAction.OPT_IN, resubscribes=True)
    assert parse_reply("unstop").action is ReplyAction.OPT_IN
    # plain YES is a confirmation; Twilio's default handling may also have re-subscribed the number
    assert parse_reply("YES") == ParsedReply(ReplyAction.CONFIRM, resubscribes=True)
    assert parse_reply("1").resubscribes is False


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "no problem, on my way",  # must not be read as a decline
        "yes I can't",
        "1 2",
        "yes no",
        "1 K7Q M3T",  # two refs
        "K7Q",  # a ref alone says nothing
        "3",
        "9",
        "K70 1",  # not a valid code (0 is not in the alphabet)
        "ok привет",
        "1_K7Q",
    ],
)
def test_unclear_replies_are_unknown(text: str) -> None:
    assert parse_reply(text).action is ReplyAction.UNKNOWN


@given(st.text())
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_reply(text)
    assert parsed.action in set(ReplyAction)
    assert resolve(parsed, ["K7Q", "M3T"]).status in {"ok", "ask", "no_match"}


def test_every_reference_code_parses_back() -> None:
    codes = {reference_code(seed) for seed in range(REF_SPACE)}
    assert len(codes) == REF_SPACE
    for code in list(codes)[:500]:
        assert parse_reply(f"1 {code.lower()}") == ParsedReply(C, ref=code)


def test_resolve_single_open_activation() -> None:
    assert resolve(parse_reply("1"), ["K7Q"]).ref == "K7Q"
    assert resolve(parse_reply("2 k7q"), ["K7Q"]).status == "ok"


def test_resolve_ambiguous_asks_back_listing_refs() -> None:
    result = resolve(parse_reply("yes"), ["K7Q", "M3T"])
    assert result.status == "ask"
    assert result.reply_text is not None
    assert "K7Q" in result.reply_text and "M3T" in result.reply_text
    assert "1 K7Q" in result.reply_text
    decline = resolve(parse_reply("2"), ["K7Q", "M3T"])
    assert decline.reply_text is not None and "2 K7Q" in decline.reply_text
    assert resolve(parse_reply("1 M3T"), ["K7Q", "M3T"]).ref == "M3T"


def test_the_which_one_question_names_the_incidents() -> None:
    names = {"K7Q": "SEED EMCS core unavailable", "M3T": "EOS customs decisions delayed"}
    result = resolve(parse_reply("1"), ["K7Q", "M3T"], names)
    assert result.status == "ask" and result.reply_text == (
        "You have 2 open calls (SEED EMCS core unavailable (K7Q); EOS customs decisions delayed (M3T)). "
        "Which one? Reply 1 and the ref, e.g. 1 K7Q."
    )
    long = resolve(parse_reply("2"), ["K7Q", "M3T"], {"K7Q": "x" * 200})
    assert long.reply_text is not None and f"{'x' * 40} (K7Q); M3T" in long.reply_text


def test_resolve_wrong_or_missing_activation() -> None:
    wrong = resolve(parse_reply("1 P4X"), ["K7Q"])
    assert wrong.status == "no_match"
    assert wrong.reply_text is not None and "P4X" in wrong.reply_text and "K7Q" in wrong.reply_text
    assert resolve(parse_reply("1"), []).status == "no_match"
    unknown = resolve(parse_reply("on my way"), ["K7Q"])
    assert unknown.status == "no_match" and unknown.reply_text is not None
    assert "Reply 1" in unknown.reply_text


def test_number_wide_actions_resolve_without_ref() -> None:
    for text in ("STOP", "START", "HELP"):
        assert resolve(parse_reply(text), ["K7Q", "M3T"]).status == "ok"
        assert resolve(parse_reply(text), ["K7Q", "M3T"]).ref is None
