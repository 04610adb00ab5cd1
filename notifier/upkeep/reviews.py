"""Contact review reminders (NIST SP 800-34 §3.6: review contact lists more often than the plan).

Every run asks the people whose `last_verified` is older than the organisation's
`contact_review_days` (or missing) to confirm their details: by SMS to their first SMS contact,
else by email. The request is remembered in `review_requests`, so a reply can be matched to it by
the sender's number and nobody is asked again before `repeat_days` have passed.

A reply `1` / `yes` writes a new plan version in which `last_verified` is today (in the
organisation's time zone), with its record-of-changes entry; `changed` is flagged to the holder of
the organisation's `plan_owner_role` and logged. The words stay clear of Twilio's opt-out keywords
(STOP, END, CANCEL, QUIT, UNSUBSCRIBE...), which Twilio acts on before we see them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.clock import Clock
from notifier.domain.masking import mask_address
from notifier.domain.plan import ChannelKind, Person, Plan
from notifier.store.plans import PlanStore
from notifier.store.upkeep_tables import review_requests
from notifier.upkeep.outbound import Outbound, first_contact

log = structlog.get_logger("notifier.reviews")

REQUEST_SMS = (
    "Contact review for {org}: we have your details on file as verified {verified}. "
    "Reply 1 (or YES) if your contact details are still correct, or CHANGED if they are not."
)
REQUEST_EMAIL_SUBJECT = "Please confirm your contact details for the continuity plan"
REQUEST_EMAIL = (
    "Hello {name},\n\nThe continuity plan of {org} lists you as a contact. Your contact details were "
    "last verified {verified}; the plan asks for a review every {days} days.\n\nPlease tell the plan "
    "owner ({owner}) whether your details are still correct, or what has changed.\n"
)
CONFIRMED_REPLY = "Thank you: your contact details are confirmed as of {today}."
CHANGED_REPLY = "Thank you. The plan owner has been told and will contact you to update your details."
UNCLEAR_REPLY = "Sorry, we did not understand. Reply 1 if your contact details are correct, or CHANGED."
OWNER_NOTICE = (
    "Contact review: {name} ({person}) replied that their contact details have CHANGED. "
    "Please update the plan."
)


class Answer(StrEnum):
    CONFIRMED = "confirmed"
    CHANGED = "changed"


_CONFIRM = {"1", "yes", "y", "ok", "correct", "confirm", "confirmed"}
_CHANGED = {"changed", "change", "changes", "2", "wrong", "no"}


def parse_answer(body: str) -> Answer | None:
    words = re.findall(r"[a-z0-9]+", body.lower())
    if not words:
        return None
    if words[0] in _CONFIRM:
        return Answer.CONFIRMED
    if words[0] in _CHANGED:
        return Answer.CHANGED
    return None


def is_overdue(person: Person, plan: Plan, today: date) -> bool:
    """The rule `notifier plan check` applies too: missing, or older than contact_review_days."""
    if person.last_verified is None:
        return True
    return (today - person.last_verified).days > plan.organisation.review_policy.contact_review_days


def overdue_people(plan: Plan, today: date) -> list[Person]:
    return [person for person in plan.people if is_overdue(person, plan, today)]


def with_verified(plan: Plan, person_id: str, today: date) -> Plan:
    """A copy of `plan` in which `person_id` was verified `today`."""
    people = tuple(
        p.model_copy(update={"last_verified": today}) if p.id == person_id else p for p in plan.people
    )
    return plan.model_copy(update={"people": people})


class ReviewDesk:
    """Sends review requests and acts on the replies."""

    def __init__(
        self,
        db: AsyncEngine,
        plans: PlanStore,
        outbound: Outbound,
        clock: Clock,
        repeat_days: int = 7,
        on_new_version: Callable[[int, Plan], None] | None = None,
    ) -> None:
        self.db = db
        self.plans = plans
        self.outbound = outbound
        self.clock = clock
        self.repeat_days = repeat_days
        self.on_new_version = on_new_version

    def today(self, plan: Plan) -> date:
        return self.clock.now().astimezone(ZoneInfo(plan.organisation.timezone)).date()

    async def send_reminders(self, fire_at: datetime | None = None) -> str:
        latest = await self.plans.latest()
        if latest is None:
            return "no plan stored"
        _, plan = latest
        today, now = self.today(plan), self.clock.now()
        recent = now - timedelta(days=self.repeat_days)
        async with self.db.connect() as conn:
            asked = set(
                (
                    await conn.execute(
                        select(review_requests.c.person_id).where(
                            and_(review_requests.c.status == "open", review_requests.c.sent_at > recent)
                        )
                    )
                ).scalars()
            )
        sent = 0
        due = overdue_people(plan, today)
        for person in due:
            if person.id in asked:
                continue
            if await self._ask(plan, person, today):
                sent += 1
        return f"{sent} review request(s) sent; {len(due)} contact(s) overdue"

    async def _ask(self, plan: Plan, person: Person, today: date) -> bool:
        target = first_contact(person, (ChannelKind.SMS, ChannelKind.EMAIL))
        if target is None:
            return False
        channel, address = target
        org = plan.organisation
        verified = person.last_verified.isoformat() if person.last_verified else "never"
        key = f"review-{person.id}-{today.isoformat()}"
        if channel is ChannelKind.SMS:
            text = REQUEST_SMS.format(org=org.name[:40], verified=verified)
            ok = await self.outbound.send(key, channel, address, text)
        else:
            owner_role = plan.role(org.plan_owner_role or "")
            text = REQUEST_EMAIL.format(
                name=person.name,
                org=org.name,
                verified=verified,
                days=org.review_policy.contact_review_days,
                owner=owner_role.name if owner_role else "the continuity manager",
            )
            ok = await self.outbound.send(key, channel, address, text, REQUEST_EMAIL_SUBJECT)
        if ok:
            async with self.db.begin() as conn:
                await conn.execute(
                    update(review_requests)
                    .where(and_(review_requests.c.person_id == person.id, review_requests.c.status == "open"))
                    .values(status="superseded")
                )
                await conn.execute(
                    insert(review_requests).values(
                        person_id=person.id,
                        channel=str(channel),
                        address=address,
                        sent_at=self.clock.now(),
                        status="open",
                    )
                )
        return ok

    async def handle_sms(self, from_: str, body: str) -> str | None:
        """An SMS that matched no activation: answer it if it answers a review request, else None.

        A failure here is logged and the reply goes unanswered (it is already stored by the
        caller): a review reply must never turn the Twilio webhook into a 500 and a retry storm.
        """
        try:
            return await self._handle_sms(from_, body)
        except Exception:
            log.exception("review reply could not be processed", sender=mask_address(from_))
            return None

    async def _handle_sms(self, from_: str, body: str) -> str | None:
        async with self.db.connect() as conn:
            request = (
                await conn.execute(
                    select(review_requests)
                    .where(and_(review_requests.c.address == from_, review_requests.c.status == "open"))
                    .order_by(review_requests.c.id.desc())
                    .limit(1)
                )
            ).first()
        if request is None:
            return None
        answer = parse_answer(body)
        if answer is None:
            return UNCLEAR_REPLY
        latest = await self.plans.latest()
        if latest is None:
            return None
        _, plan = latest
        person = plan.person(request.person_id)
        now = self.clock.now()
        version: int | None = None
        if answer is Answer.CONFIRMED and person is not None:
            today = self.today(plan)
            updated = with_verified(plan, person.id, today)
            result = await self.plans.import_plan(
                updated,
                author=f"contact review reply ({person.id})",
                comment=f"{person.id} confirmed their contact details by SMS reply on {today.isoformat()}",
            )
            version = result.version
            if version is not None and self.on_new_version is not None:
                self.on_new_version(version, updated)
            log.info("contact details confirmed", person=person.id, plan_version=version)
        elif answer is Answer.CHANGED:
            log.warning("contact details changed; plan owner told", person=request.person_id)
            await self._tell_owner(plan, request.person_id, person.name if person else request.person_id)
        async with self.db.begin() as conn:
            await conn.execute(
                update(review_requests)
                .where(review_requests.c.id == request.id)
                .values(status=str(answer), answered_at=now, answer=body[:200], plan_version=version)
            )
        if answer is Answer.CONFIRMED:
            return CONFIRMED_REPLY.format(today=self.today(plan).isoformat())
        return CHANGED_REPLY

    async def _tell_owner(self, plan: Plan, person_id: str, name: str) -> None:
        role = plan.role(plan.organisation.plan_owner_role or "")
        if role is None or not role.holders:
            log.warning("no plan owner role to tell about changed contact details", person=person_id)
            return
        text = OWNER_NOTICE.format(name=name, person=person_id)
        for holder in role.holders[:1]:
            owner = plan.person(holder)
            target = owner and first_contact(owner, (ChannelKind.SMS, ChannelKind.EMAIL))
            if target:
                channel, address = target
                subject = "Contact details changed" if channel is ChannelKind.EMAIL else None
                await self.outbound.send(f"review-changed-{person_id}", channel, address, text, subject)
