"""TwiML for the acknowledgement call: the script, the answering-machine message, the keypresses.

The call asks for one digit: 1 confirm, 2 cannot respond, 9 repeat (DESIGN §4). Twilio fetches
`/webhooks/twilio/voice?t=<token>` when the call connects (with `AnsweredBy` because calls are
placed with `machine_detection=Enable`) and posts the digit to `/webhooks/twilio/gather?t=<token>`.
If nobody presses anything the script plays once more and then says goodbye, so a silent line is
not held open. The repetition is a second `<Gather>` in the same document rather than a
`<Redirect>` back to `/voice`: it needs no state carried in the URL and no extra round trip, and a
webhook that drops the query string cannot turn it into an endless loop. (`VoiceUrls.repeat` and
`repeated=True` remain for callers that fetch a single-pass script.)

An answering machine hears the message and how to answer, with no menu: a voicemail can press
nothing, and it never counts as an acknowledgement.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

from twilio.twiml.voice_response import VoiceResponse

from notifier.channels.twilio.status import is_machine

MENU = "Press 1 to confirm, 2 if you cannot respond, 9 to repeat this message."
NO_ANSWER = "We did not receive an answer. Goodbye."
GATHER_TIMEOUT_S = 8


class KeyAction(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    REPEAT = "repeat"
    INVALID = "invalid"


_KEYS = {"1": KeyAction.CONFIRM, "2": KeyAction.DECLINE, "9": KeyAction.REPEAT}


def parse_digits(digits: str | None) -> KeyAction:
    return _KEYS.get((digits or "").strip(), KeyAction.INVALID)


def goodbye(text: str) -> str:
    """A call that has nothing (more) to say: the text, then hang up."""
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


class VoiceUrls:
    """The webhook URLs one call uses, from the public base URL and the attempt's opaque token."""

    def __init__(self, public_base_url: str, token: str) -> None:
        self._base = public_base_url.rstrip("/") + "/webhooks/twilio"
        self._token = quote(token, safe="")

    @property
    def gather(self) -> str:
        return f"{self._base}/gather?t={self._token}"

    @property
    def repeat(self) -> str:
        return f"{self._base}/voice?t={self._token}&repeat=1"


def _gather(response: VoiceResponse, urls: VoiceUrls, text: str | None, language: str) -> None:
    gather = response.gather(num_digits=1, action=urls.gather, method="POST", timeout=GATHER_TIMEOUT_S)
    if text:
        gather.say(text, language=language)
    gather.say(MENU, language=language)


def call_script(text: str, urls: VoiceUrls, repeated: bool = False, language: str = "en-GB") -> str:
    """The message with the menu; without an answer it repeats once (unless `repeated`), then goodbye."""
    response = VoiceResponse()
    _gather(response, urls, text, language)
    if not repeated:
        _gather(response, urls, text, language)
    response.say(NO_ANSWER, language=language)
    response.hangup()
    return str(response)


def machine_message(text: str, callback_hint: str = "", language: str = "en-GB") -> str:
    """For voicemail: the message and how to answer; no menu, and it does not count as an ack."""
    response = VoiceResponse()
    response.pause(length=1)
    response.say(text, language=language)
    hint = callback_hint or "Please reply to the text message with 1 to confirm or 2 if you cannot respond."
    response.say(hint, language=language)
    response.hangup()
    return str(response)


def voice_document(
    text: str, urls: VoiceUrls, answered_by: str | None, repeated: bool = False, language: str = "en-GB"
) -> str:
    """What the `/voice` webhook returns: the machine message or the call script."""
    if is_machine(answered_by):
        return machine_message(text, language=language)
    return call_script(text, urls, repeated=repeated, language=language)


def digits_response(digits: str | None, text: str, urls: VoiceUrls, language: str = "en-GB") -> str:
    """What the `/gather` webhook returns for a keypress (the webhook records confirm/decline)."""
    action = parse_digits(digits)
    response = VoiceResponse()
    if action is KeyAction.CONFIRM:
        response.say("Thank you. Your confirmation has been recorded. Goodbye.", language=language)
        response.hangup()
    elif action is KeyAction.DECLINE:
        response.say(
            "Thank you. We have recorded that you cannot respond, and will contact the next person. Goodbye.",
            language=language,
        )
        response.hangup()
    elif action is KeyAction.REPEAT:
        return call_script(text, urls, language=language)
    else:
        response.say("Sorry, that is not an option.", language=language)
        _gather(response, urls, None, language)
        response.say(NO_ANSWER, language=language)
        response.hangup()
    return str(response)
