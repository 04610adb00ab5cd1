"""Just enough TwiML to play a call the way a phone would hear it.

The daemon's voice flow is a conversation of documents: `<Say>` the message, `<Gather>` a digit,
post it to `action`, follow what comes back. Parsing the verbs the daemon uses lets tests assert what
a callee heard and drive the keypress path end to end.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """The document is not TwiML Twilio would run (Twilio would say "an application error occurred")."""


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class Pause:
    length: float = 1.0


@dataclass(frozen=True)
class Gather:
    action: str | None = None
    method: str = "POST"
    num_digits: int | None = None
    timeout: float = 5.0
    finish_on_key: str = "#"
    prompts: list[Say | Play | Pause] = field(default_factory=list)


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    pass


Verb = Say | Play | Pause | Gather | Redirect | Hangup


def _prompt(element: ET.Element) -> Say | Play | Pause | None:
    if element.tag == "Say":
        return Say(" ".join((element.text or "").split()))
    if element.tag == "Play":
        return Play((element.text or "").strip())
    if element.tag == "Pause":
        return Pause(float(element.get("length", "1")))
    return None


def parse(document: str) -> list[Verb]:
    """The verbs of a `<Response>` in order; unknown verbs are ignored as Twilio ignores nothing we use."""
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise TwimlError(f"TwiML is not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML root must be <Response>, got <{root.tag}>")
    verbs: list[Verb] = []
    try:
        for element in root:
            prompt = _prompt(element)
            if prompt is not None:
                verbs.append(prompt)
            elif element.tag == "Gather":
                num_digits = element.get("numDigits")
                verbs.append(
                    Gather(
                        action=element.get("action"),
                        method=element.get("method", "POST").upper(),
                        num_digits=int(num_digits) if num_digits else None,
                        timeout=float(element.get("timeout", "5")),
                        finish_on_key=element.get("finishOnKey", "#"),
                        prompts=[p for p in (_prompt(child) for child in element) if p is not None],
                    )
                )
            elif element.tag == "Redirect":
                verbs.append(Redirect((element.text or "").strip(), element.get("method", "POST").upper()))
            elif element.tag == "Hangup":
                verbs.append(Hangup())
    except ValueError as exc:
        raise TwimlError(f"bad TwiML attribute: {exc}") from None
    return verbs
