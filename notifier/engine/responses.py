"""Turns what comes back from people and providers into planner events.

SMS replies carry no reference to the message they answer (from any provider), so a reply is matched by the
sender's number to the open activations that messaged that number; a reference code picks one when
there are several, and we ask back when we cannot tell. Status callbacks and voice webhooks carry
our callback token `<activation id>.<attempt id>` in their URL.

Each webhook is applied once (`once.py`): its receipt commits with its effect, and a replay is
acknowledged and ignored. A batch of spooled status callbacks is applied as one step per activation
(`provider_statuses`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import structlog

from notifier.domain.bundling import bundled_answer
from notifier.domain.events import DeliveryStatus, ProviderStatus, Reply
from notifier.domain.masking import mask_address
from notifier.domain.messages import MessageFields, MessageKind, render
from notifier.domain.plan import ChannelKind
from notifier.domain.replies import ReplyAction, help_text, name_incidents, parse_reply, resolve
from notifier.engine.once import Once
from notifier.engine.stepper import Stepper
from notifier.store import activation_repo, outbox_repo, receipts, replies

log = structlog.get_logger("notifier.responses")
_ANSWERS = (ReplyAction.CONFIRM, ReplyAction.DECLINE)


@dataclass(frozen=True)
class Attempt:
    activation_id: str
    attempt_id: str


def parse_token(token: str) -> Attempt | None:
    activation_id, dot, attempt_id = token.partition(".")
    if not dot or not activation_id or not attempt_id or len(token) > 80:
        return None
    return Attempt(activation_id, attempt_id)


#: the receipt status of an inbound SMS
RECEIVED = "received"


class StatusReport(NamedTuple):
    """A delivery report to apply (`Responses.provider_statuses`): the callback token, the status
    in the engine's words, the provider's error code, its SID and its own word for the status."""

    token: str
    status: DeliveryStatus
    error_code: str | None
    sid: str | None
    raw: str


class Responses:
    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        #: answers SMS that match no open activation (contact review replies); None: not ours
        self.review_handler: Callable[[str, str], Awaitable[str | None]] | None = None
        #: each webhook applied once (receipts)
        self.once = Once(stepper)
        self._once = self.once.once
        self._receipt = self.once.receipt

    @property
    def replays_ignored(self) -> int:
        """Replayed webhooks acknowledged and ignored since start."""
        return self.once.replays_ignored

    async def prefetch(self, sids: Collection[str]) -> None:
        """Read the receipts of a batch of spooled webhooks in one query (`Once.prefetch`)."""
        await self.once.prefetch(sids)

    async def inbound_sms(self, from_: str, body: str, message_sid: str | None = None) -> str:
        """Record the reply, act on it, and return the SMS text to answer with ('' for none).
        A reply whose provider message id was applied before is acknowledged with no answer and ignored."""
        with self.stepper.arrivals.receiving(self.stepper.clock.now()):  # no deadline overtakes it
            async with self._once(message_sid, RECEIVED) as fresh:
                if not fresh:
                    return ""
                return await self._inbound_sms(from_, body, message_sid)

    async def _inbound_sms(self, from_: str, body: str, message_sid: str | None) -> str:
        parsed = parse_reply(body)
        now = self.stepper.clock.now()
        # a plain read: a burst of replies must not queue one by one behind the (SQLite) write lock;
        # the reply row itself commits with its effect in the activation's (group-committed) step
        late = False
        async with self.stepper.db.connect() as conn:
            contacts = await activation_repo.open_contacts(conn, from_)
            if not contacts and parsed.action in (ReplyAction.CONFIRM, ReplyAction.DECLINE):
                # an answer after the tree completed (a quorum met without them): recorded and thanked
                contacts = await activation_repo.open_contacts(conn, from_, "completed")
                late = bool(contacts)
        opt_out: bool | None = None
        if parsed.action is ReplyAction.OPT_OUT:
            opt_out = True
        elif parsed.action is ReplyAction.OPT_IN or parsed.resubscribes:
            opt_out = False
        if opt_out is not None or not contacts:
            async with self.stepper.transaction() as conn:
                if message_sid:
                    await receipts.add(conn, message_sid, RECEIVED, now)
                if opt_out is not None:
                    await outbox_repo.set_opt_out(conn, from_, opt_out, now)
                if not contacts:
                    reply = {
                        "activation_id": None,
                        "person_id": None,
                        "channel": "sms",
                        "address": from_,
                        "raw": body[:1600],
                        "action": str(parsed.action),
                        "provider_id": message_sid,
                        "received_at": now,
                    }
                    await replies.insert_responses(conn, [reply])
        log.info(
            "sms reply",
            sender=mask_address(from_),
            action=str(parsed.action),
            activation_ids=sorted({activation_id for activation_id, _, _ in contacts}),
        )
        if not contacts and self.review_handler is not None and parsed.action is not ReplyAction.OPT_OUT:
            answer = await self.review_handler(from_, body)
            if answer is not None:
                return answer
        if not contacts:
            return ""  # a number we never contacted gets no answer and changes nothing
        if parsed.action in (ReplyAction.OPT_OUT, ReplyAction.OPT_IN):
            await self._record(contacts, from_, body, str(parsed.action), message_sid)
            return ""  # the carrier or provider answers its own keywords
        refs = sorted({ref for _, ref, _ in contacts})
        if parsed.action is ReplyAction.HELP:
            await self._record(contacts, from_, body, "help", message_sid)
            return help_text(refs)
        names: dict[str, str] = {}
        bundle: list[str] = []
        if len(refs) > 1 and parsed.ref is None and parsed.action in _ANSWERS:
            async with self.stepper.db.connect() as conn:
                bundle = [r for r in await outbox_repo.last_sms_bundle(conn, from_) if r in refs]
                if not bundle:
                    found = await activation_repo.activation_names(
                        conn, sorted({aid for aid, _, _ in contacts})
                    )
                    names = dict(found.values())
        response = "confirm" if parsed.action is ReplyAction.CONFIRM else "decline"
        if bundle:  # a bare answer to one SMS that listed several incidents: all of them
            await self._answer(
                [c for c in contacts if c[1] in bundle], from_, body, response, message_sid, received_at=now
            )
            return bundled_answer(response, bundle)
        resolution = resolve(parsed, refs, names)
        if resolution.status != "ok" or resolution.ref is None:
            await self._record(contacts, from_, body, str(parsed.action), message_sid)
            if resolution.status == "ask":
                return await self._which_one(contacts[0][0], refs, names, resolution.reply_text or "")
            return resolution.reply_text or ""
        chosen = [(aid, ref, person) for aid, ref, person in contacts if ref == resolution.ref]
        await self._answer(chosen, from_, body, response, message_sid, received_at=now)
        if late:
            return await self._late_reply(chosen[0][0])
        if response == "confirm":
            return f"Confirmed (ref {resolution.ref}). Thank you."
        return f"Noted: you cannot respond (ref {resolution.ref}). We are contacting your alternate."

    async def _answer(
        self,
        chosen: list[tuple[str, str, str]],
        from_: str,
        body: str,
        response: str,
        sid: str | None,
        received_at: datetime | None = None,
    ) -> None:
        for contact in chosen:
            activation_id, _, person_id = contact

            async def store_reply(conn: Any, row: tuple[str, str, str] = contact) -> None:
                await self._insert(conn, [row], from_, body, response, sid, received_at=received_at)

            # the reply row and its effect commit together: a crash cannot keep one without the other
            await self.stepper.submit(
                activation_id,
                [Reply(person_id=person_id, response=response, channel="sms", attempt_id=None)],
                before_save=store_reply,
            )

    async def _which_one(
        self, activation_id: str, refs: list[str], names: dict[str, str], default: str
    ) -> str:
        """The tree's `which_one` SMS template, if it has one, with `{incidents}` naming each open call."""
        async with self.stepper.db.connect() as conn:
            row = await activation_repo.load_activation_row(conn, activation_id)
        if row is None:
            return default
        snapshot = self.stepper.snapshot_of(activation_id, row.snapshot, cache=False)
        if not snapshot.templates.which_one.sms:
            return default
        message = MessageFields(tree=snapshot.tree_name, extra={"incidents": name_incidents(refs, names)})
        return render(MessageKind.WHICH_ONE, ChannelKind.SMS, message, snapshot.templates, snapshot.kind).text

    async def _late_reply(self, activation_id: str) -> str:
        """The tree's `late_reply` text (built in: "Thank you: already covered ..."), marked and
        referenced like every SMS."""
        async with self.stepper.db.connect() as conn:
            row = await activation_repo.load_activation_row(conn, activation_id)
        if row is None:
            return ""
        snapshot = self.stepper.snapshot_of(activation_id, row.snapshot, cache=False)
        fields = row.fields or {}
        message = MessageFields(
            tree=snapshot.tree_name,
            ref=row.ref,
            nature=str(fields.get("nature", "")),
            service=str(fields.get("service", "")),
        )
        late = render(MessageKind.LATE_REPLY, ChannelKind.SMS, message, snapshot.templates, snapshot.kind)
        return late.text

    async def _record(
        self, contacts: list[tuple[str, str, str]], address: str, raw: str, action: str, sid: str | None
    ) -> None:
        async with self.stepper.transaction() as conn:
            await self._insert(conn, contacts, address, raw, action, sid)

    async def _insert(
        self,
        conn: Any,
        contacts: list[tuple[str, str, str]],
        address: str,
        raw: str,
        action: str,
        sid: str | None,
        received_at: datetime | None = None,
    ) -> None:
        """The response rows; `received_at` is when the reply arrived, so that it comes before the
        acknowledgements it caused in the activity log (the step runs, and logs, after it arrived)."""
        now = received_at or self.stepper.clock.now()
        if sid:
            await receipts.add(conn, sid, RECEIVED, now)
        if contacts:
            await replies.insert_responses(
                conn,
                [
                    {
                        "activation_id": aid,
                        "person_id": person,
                        "channel": "sms",
                        "address": address,
                        "raw": raw[:1600],
                        "action": action,
                        "provider_id": sid,
                        "received_at": now,
                    }
                    for aid, _, person in contacts
                ],
            )

    async def provider_status(
        self,
        token: str,
        status: DeliveryStatus,
        error_code: str | None,
        sid: str | None = None,
        raw: str = "",
    ) -> bool:
        """A delivery report (channel-neutral). Returns False when the token names no attempt.
        A report with the `sid` and the provider's `raw` status of one applied before is ignored."""
        attempt = parse_token(token)
        if attempt is None:
            return False
        what = raw or status
        async with self._once(sid, what) as fresh:
            if not fresh:
                return True
            return await self._provider_status(attempt, status, error_code, sid, what)

    async def _provider_status(
        self,
        attempt: Attempt,
        status: DeliveryStatus,
        error_code: str | None,
        sid: str | None,
        what: str,
    ) -> bool:
        result = await self.stepper.submit(
            attempt.activation_id,
            [
                ProviderStatus(
                    attempt_id=attempt.attempt_id,
                    status=status,
                    error_code=error_code,
                )
            ],
            before_save=self._receipt(sid, what),
        )
        return result is not None

    async def provider_statuses(self, reports: Sequence[StatusReport]) -> None:
        """Many delivery reports at once (a batch of spooled status callbacks): one step per
        activation with its reports' events in the order given, and their receipts written in one
        statement. Each is applied once, as by `provider_status`; a token that names no attempt
        is ignored."""
        parsed = [(attempt, r) for r in reports if (attempt := parse_token(r.token)) is not None]
        async with self.once.fresh([(r.sid, r.raw or r.status) for _, r in parsed]) as verdicts:
            by_activation: dict[str, list[tuple[Attempt, StatusReport]]] = {}
            for (attempt, report), fresh in zip(parsed, verdicts, strict=True):
                if fresh:
                    by_activation.setdefault(attempt.activation_id, []).append((attempt, report))
            done = await asyncio.gather(
                *(self._statuses(aid, items) for aid, items in by_activation.items()),
                return_exceptions=True,
            )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _statuses(self, activation_id: str, items: list[tuple[Attempt, StatusReport]]) -> None:
        events = [
            ProviderStatus(attempt_id=attempt.attempt_id, status=r.status, error_code=r.error_code)
            for attempt, r in items
        ]
        keys = [(r.sid, r.raw or r.status) for _, r in items if r.sid]

        async def write_receipts(conn: Any) -> None:
            await receipts.add_many(conn, keys, self.stepper.clock.now())

        await self.stepper.submit(activation_id, events, before_save=write_receipts if keys else None)
        self.once.applied(keys)

    async def attempt_reply(
        self, token: str, response: str, channel: str, raw: str, sid: str | None = None
    ) -> bool:
        """A voice keypress or an email link POST: the attempt identifies person and activation.
        A keypress with the `sid` (the provider's call id) and digits of one applied before is ignored."""
        attempt = parse_token(token)
        if attempt is None:
            return False
        with self.stepper.arrivals.receiving(self.stepper.clock.now()):  # no deadline overtakes it
            async with self._once(sid, f"digits:{raw}") as fresh:
                if not fresh:
                    return True
                return await self._attempt_reply(attempt, response, channel, raw, sid)

    async def _attempt_reply(
        self, attempt: Attempt, response: str, channel: str, raw: str, sid: str | None
    ) -> bool:
        async with self.stepper.db.connect() as conn:
            row = await outbox_repo.find_outbox(conn, attempt.activation_id, attempt.attempt_id)
        if row is None:
            return False

        receipt = self._receipt(sid, f"digits:{raw}")
        arrived = self.stepper.clock.now()  # before the step: the reply precedes what it caused

        async def store_response(conn: Any) -> None:
            if receipt is not None:
                await receipt(conn)
            reply = {
                "activation_id": row.activation_id,
                "person_id": row.person_id,
                "channel": channel,
                "address": row.address,
                "raw": raw[:200],
                "action": response,
                "provider_id": None,
                "received_at": arrived,
            }
            await replies.insert_responses(conn, [reply])

        await self.stepper.submit(  # the response row commits with its effect
            row.activation_id,
            [Reply(person_id=row.person_id, response=response, channel=channel, attempt_id=row.attempt_id)],
            before_save=store_response,
        )
        return True

    async def find_attempt(self, token: str) -> outbox_repo.OutboxRow | None:
        attempt = parse_token(token)
        if attempt is None:
            return None
        async with self.stepper.db.connect() as conn:
            return await outbox_repo.find_outbox(conn, attempt.activation_id, attempt.attempt_id)


def form_value(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return str(value) if value not in (None, "") else None
