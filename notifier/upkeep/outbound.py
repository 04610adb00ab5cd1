"""One-off messages outside any activation: review requests, drill heads-ups, report emails.

They go through the outbox like every other message (as rows of no activation, `tracked` 0): the
dispatcher applies the per-sender rate limits, the in-flight window and the opt-out check (a
number that texted STOP gets no reminder either), and sends them through the channel's failover
chain. Nobody escalates on them; `send` returns once the row is stored. Only the masked address
is ever logged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import structlog

from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind, Person
from notifier.store import outbox_repo

log = structlog.get_logger("notifier.upkeep")


def attempt_id(key: str) -> str:
    """The outbox attempt id of an upkeep message (also its X-Notifier-Attempt mail header)."""
    return "u" + hashlib.sha256(key.encode()).hexdigest()[:23]


@dataclass(frozen=True)
class Outbound:
    """Queues one-off messages in the engine's outbox (`stepper`: its transactions and wake-up)."""

    stepper: Any  # notifier.engine.stepper.Stepper

    async def send(
        self,
        key: str,
        channel: ChannelKind,
        to: str,
        text: str,
        subject: str | None = None,
        html: str | None = None,
    ) -> bool:
        """Queue one message (durably); True once it is stored."""
        now = self.stepper.clock.now()
        message: dict[str, Any] = {"text": text}
        if subject is not None:
            message["subject"] = subject
        if html is not None:
            message["html"] = html
        row = {
            "activation_id": None,
            "attempt_id": attempt_id(key),
            "person_id": "",
            "channel": channel.value,
            "address": to,
            "message_kind": "upkeep",
            "message": message,
            "tracked": 0,
            "status": "pending",
            "not_before": now,
            "tries": 0,
            "created_at": now,
        }
        async with self.stepper.transaction() as conn:
            await outbox_repo.insert_outbox(conn, [row])
        self.stepper.outbox_changed.set()
        log.info("upkeep message queued", key=key, channel=str(channel), to=mask_address(to))
        return True


def first_contact(person: Person, prefer: tuple[ChannelKind, ...]) -> tuple[ChannelKind, str] | None:
    """The person's first contact method of the first preferred kind they have."""
    for kind in prefer:
        for method in person.contacts:
            if method.kind is kind:
                return kind, method.address
    return None


def email_of(person: Person) -> str | None:
    found = first_contact(person, (ChannelKind.EMAIL,))
    return found[1] if found else None
