"""The SMS reply grammar: what a person may text back, and which open activation it answers.

Why it is strict. A continuity call tree must never mistake "no problem, on my way" for a
decline or "yes I can't" for a confirmation, so a reply is understood only when *every* word in it
is a known action word (all meaning the same thing) or the reference code of an activation.
Anything else is `unknown`, and the engine answers with the help text; asking again costs one
SMS, a wrong answer can cost the recovery.

Twilio's keywords. Twilio handles its opt-out words (STOP, STOPALL, UNSUBSCRIBE, END, QUIT,
CANCEL, REVOKE, OPTOUT) before our webhook sees them, and only when the whole message is the
keyword. We mirror that exactly: a message that *is* one of those words is `opt_out` (record the
number as opted out); a longer message that merely contains one is `unknown` - we never act on
those words as commands and never claim an opt-out Twilio did not perform. START and UNSTOP are
`opt_in`.

YES is special. With Twilio's default keyword handling YES also re-subscribes an opted-out number
(with Advanced Opt-Out it is configurable). A person who texts YES while a call is open means
"confirm", so YES parses as `confirm` with `resubscribes=True`, telling the engine that Twilio
may also have cleared the number's opt-out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from notifier.domain.messages import REF_PATTERN


class ReplyAction(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    HELP = "help"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    UNKNOWN = "unknown"


CONFIRM_WORDS = frozenset({"1", "YES", "Y", "OK", "OKAY", "ACK", "CONFIRM", "CONFIRMED"})
DECLINE_WORDS = frozenset({"2", "NO", "N", "DECLINE", "DECLINED", "CANNOT"})
HELP_WORDS = frozenset({"HELP", "INFO"})
TWILIO_OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"}
)
TWILIO_OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
TWILIO_RESUBSCRIBE_WORDS = frozenset({"START", "UNSTOP", "YES"})

_WORD_ACTIONS: dict[str, ReplyAction] = {
    **{w: ReplyAction.CONFIRM for w in CONFIRM_WORDS},
    **{w: ReplyAction.DECLINE for w in DECLINE_WORDS},
    **{w: ReplyAction.HELP for w in HELP_WORDS},
}
_REF = re.compile(REF_PATTERN)
# "1K7Q" or "K7Q1": a digit answer glued to a reference code.
_GLUED = re.compile(rf"(?:([12])({REF_PATTERN})|({REF_PATTERN})([12]))")
_TOKEN = re.compile(r"\w+")
_MAX_LENGTH = 1600  # Twilio's body limit; anything longer is not a reply to us


@dataclass(frozen=True)
class ParsedReply:
    action: ReplyAction
    ref: str | None = None
    resubscribes: bool = False  # Twilio may have cleared the number's opt-out (START/UNSTOP/YES)


def _tokens(text: str) -> list[str]:
    normalised = unicodedata.normalize("NFKC", text[: _MAX_LENGTH * 2]).upper()
    return _TOKEN.findall(normalised)


def _split_glued(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        glued = _GLUED.fullmatch(token)
        if glued is None:
            out.append(token)
        elif glued.group(1):
            out.extend((glued.group(1), glued.group(2)))
        else:
            out.extend((glued.group(3), glued.group(4)))
    return out


def parse_reply(text: str) -> ParsedReply:
    """Understand one inbound SMS body. Never raises; anything unclear is `unknown`."""
    tokens = _tokens(text)
    if len(tokens) == 1 and tokens[0] in TWILIO_OPT_OUT_WORDS:
        return ParsedReply(ReplyAction.OPT_OUT)
    if len(tokens) == 1 and tokens[0] in TWILIO_OPT_IN_WORDS:
        return ParsedReply(ReplyAction.OPT_IN, resubscribes=True)
    if not tokens or any(t in TWILIO_OPT_OUT_WORDS or t in TWILIO_OPT_IN_WORDS for t in tokens):
        return ParsedReply(ReplyAction.UNKNOWN)
    actions: set[ReplyAction] = set()
    refs: set[str] = set()
    for token in _split_glued(tokens):
        if token in _WORD_ACTIONS:
            actions.add(_WORD_ACTIONS[token])
        elif _REF.fullmatch(token):
            refs.add(token)
        else:
            return ParsedReply(ReplyAction.UNKNOWN)
    if len(refs) > 1 or len(actions) > 1:
        return ParsedReply(ReplyAction.UNKNOWN)
    ref = next(iter(refs), None)
    if not actions:
        return ParsedReply(ReplyAction.UNKNOWN, ref=ref)
    action = actions.pop()
    resubscribes = len(tokens) == 1 and tokens[0] in TWILIO_RESUBSCRIBE_WORDS
    return ParsedReply(action, ref=ref, resubscribes=resubscribes)


@dataclass(frozen=True)
class Resolution:
    """Which open activation a reply answers, or the text to send back when we cannot tell."""

    status: Literal["ok", "ask", "no_match"]
    ref: str | None = None
    reply_text: str | None = None


_TARGETED = frozenset({ReplyAction.CONFIRM, ReplyAction.DECLINE})
_MAX_LISTED_REFS = 5
_NAME_MAX = 40  # characters of an incident's name in the "which one?" question


def _listed(refs: list[str]) -> str:
    shown = ", ".join(refs[:_MAX_LISTED_REFS])
    return shown + (f" and {len(refs) - _MAX_LISTED_REFS} more" if len(refs) > _MAX_LISTED_REFS else "")


def help_text(open_refs: list[str]) -> str:
    """The answer to HELP or to an unreadable reply; short enough for one SMS segment."""
    if not open_refs:
        return "No open call for this number. Replies: 1 confirm, 2 cannot respond."
    example = open_refs[0]
    refs = f" Open: {_listed(open_refs)}." if len(open_refs) > 1 else ""
    return f"Reply 1 to confirm, 2 if you cannot respond. Add the ref to choose, e.g. 1 {example}.{refs}"


def name_incidents(refs: list[str], names: Mapping[str, str]) -> str:
    """`SEED EMCS core unavailable (K7Q); TARIC down (M2P)`: each open call named, so that a person
    can tell one from the other (bare refs when no names are known)."""
    named = {ref.upper(): name for ref, name in names.items() if name}
    if not named:
        return _listed(refs)
    shown = "; ".join(f"{named[r][:_NAME_MAX]} ({r})" if r in named else r for r in refs[:_MAX_LISTED_REFS])
    return shown + (f"; and {len(refs) - _MAX_LISTED_REFS} more" if len(refs) > _MAX_LISTED_REFS else "")


def resolve(parsed: ParsedReply, open_refs: list[str], names: Mapping[str, str] | None = None) -> Resolution:
    """Pick the activation a confirm/decline answers among the person's open ones.

    Only confirm and decline target an activation. HELP, opt-out and opt-in apply to the number,
    so they resolve "ok" without a ref; `unknown` is "no_match" with the help text to send back.
    When several are open, the question back names each incident (`names`: ref -> what it is
    about, e.g. "SEED EMCS core unavailable"), not bare refs: a person cannot tell K7Q from M2P.
    """
    refs = [r.upper() for r in open_refs]
    if parsed.action is ReplyAction.UNKNOWN:
        return Resolution("no_match", reply_text=help_text(refs))
    if parsed.action not in _TARGETED:
        return Resolution("ok")
    if parsed.ref is not None:
        if parsed.ref.upper() in refs:
            return Resolution("ok", ref=parsed.ref.upper())
        known = f" Open: {_listed(refs)}." if refs else " No call is open for this number."
        return Resolution("no_match", reply_text=f"No open call with ref {parsed.ref}.{known}")
    if len(refs) == 1:
        return Resolution("ok", ref=refs[0])
    if not refs:
        return Resolution("no_match", reply_text="No call is open for this number.")
    digit = "1" if parsed.action is ReplyAction.CONFIRM else "2"
    listed = name_incidents(refs, names or {})
    question = (
        f"You have {len(refs)} open calls ({listed}). "
        f"Which one? Reply {digit} and the ref, e.g. {digit} {refs[0]}."
    )
    return Resolution("ask", reply_text=question)
