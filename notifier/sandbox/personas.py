"""Scripted people on the other end of a phone number or mailbox.

Why personas: escalation logic is only tested when someone confirms, declines, ignores, is busy, is
an answering machine or has opted out. A persona says how one destination behaves; numbers nobody
scripted behave like a phone left in a drawer (SMS delivered, never a reply, calls not answered).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

SmsDelivery = Literal["delivered", "undelivered", "failed"]
VoiceBehaviour = Literal["answer", "busy", "no-answer", "failed", "machine"]

DEFAULT_LINK_PATTERN = r"https?://[^\s\"'<>]+"


@dataclass(frozen=True)
class Persona:
    """How one destination answers. `digits` may list one press per `<Gather>`, comma-separated ("9,1")."""

    number: str = ""
    sms_reply: str | None = None
    reply_after: float = 30.0
    sms_delivery: SmsDelivery = "delivered"
    voice: VoiceBehaviour = "answer"
    digits: str | None = None
    invalid: bool = False
    opted_out: bool = False
    email: str | None = None
    email_click: bool = False
    email_click_after: float = 60.0
    email_link_pattern: str = DEFAULT_LINK_PATTERN
    ring_seconds: float = 4.0

    def __post_init__(self) -> None:
        if not self.number and not self.email:
            raise ValueError("a persona needs a number or an email address")
        re.compile(self.email_link_pattern)

    def presses(self) -> list[str]:
        """The keys pressed at each successive `<Gather>`."""
        return [part.strip() for part in (self.digits or "").split(",") if part.strip()]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


UNKNOWN_NUMBER = Persona(number="+00", voice="no-answer")

PRESETS: dict[str, Persona] = {
    "confirms": Persona(number="+00", sms_reply="1", reply_after=20.0, digits="1", email_click=True),
    "declines": Persona(number="+00", sms_reply="2", reply_after=25.0, digits="2"),
    "never_answers": Persona(number="+00", voice="no-answer"),
    "busy": Persona(number="+00", voice="busy"),
    "machine": Persona(number="+00", voice="machine"),
    "invalid_number": Persona(number="+00", invalid=True, sms_delivery="failed", voice="failed"),
    "opted_out": Persona(number="+00", opted_out=True),
}


def preset(name: str, number: str = "", **overrides: Any) -> Persona:
    """A named behaviour bound to `number` (and optionally changed by `overrides`)."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown persona preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
    return replace(base, number=number, **overrides)


def persona_from_mapping(data: dict[str, Any]) -> Persona:
    """Build from YAML/JSON: `{number: ..., preset: confirms, reply_after: 5}` or plain fields."""
    fields = dict(data)
    unknown = set(fields) - {f.name for f in dataclasses.fields(Persona)} - {"preset"}
    if unknown:
        raise ValueError(f"unknown persona field(s): {', '.join(sorted(unknown))}")
    for key in ("number", "email"):
        if key in fields and not isinstance(fields[key], str):
            raise ValueError(f'{key}: must be a (quoted) string such as "+32470000001"')
    name = fields.pop("preset", None)
    if name is not None:
        return preset(str(name), **fields)
    return Persona(**fields)


def load_personas(path: Path) -> list[Persona]:
    """Read a YAML list of personas; errors name the file and the entry index."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{where}: not valid YAML") from None
    items = raw.get("personas", raw) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of personas (or a mapping with key 'personas')")
    personas = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: personas[{index}]: expected a mapping")
        try:
            personas.append(persona_from_mapping(item))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: personas[{index}]: {exc}") from None
    return personas


@dataclass
class PersonaBook:
    """Personas by phone number and by email address; unknown destinations get the drawer default."""

    by_number: dict[str, Persona] = field(default_factory=dict)
    by_email: dict[str, Persona] = field(default_factory=dict)

    def add(self, *personas: Persona) -> None:
        for persona in personas:
            if persona.number:
                self.by_number[persona.number] = persona
            if persona.email:
                self.by_email[persona.email.lower()] = persona

    def for_number(self, number: str) -> Persona:
        return self.by_number.get(number) or replace(UNKNOWN_NUMBER, number=number)

    def for_email(self, address: str) -> Persona | None:
        return self.by_email.get(address.lower())

    def all(self) -> list[Persona]:
        unique = {id(p): p for p in [*self.by_number.values(), *self.by_email.values()]}
        return list(unique.values())
