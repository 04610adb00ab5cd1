"""What reaches the engine from outside for the HTTP layer: alerts, rejected requests, SMS
replies, delivery reports, voice keypresses and email answers (alert_intake.py and responses.py
do the work)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from notifier.channels.inbound import DeliveryReport
from notifier.domain.alerts import Alert
from notifier.engine.alert_intake import AlertIntake
from notifier.engine.contract import AlertReceipt, NotFound, Rejected
from notifier.engine.core import Engine
from notifier.engine.queries import RESPONSE, Queries
from notifier.engine.responses import StatusReport


class Intake(Queries):
    def __init__(self, engine: Engine, public_base_url: str = "") -> None:
        super().__init__(engine, public_base_url)
        self.intake = AlertIntake(engine)

    async def submit_alerts(self, incoming: list[Alert]) -> list[AlertReceipt]:
        return await self.intake.submit(incoming)

    async def submit_alerts_together(self, incoming: list[Alert]) -> list[AlertReceipt]:
        return await self.intake.submit_together(incoming)

    async def record_rejected(self, source: str, status: int, reason: str, size: int) -> None:
        await self.intake.record_rejected(source, status, reason, size)

    async def inbound_sms(self, from_: str, to: str, body: str, message_sid: str) -> str:
        return await self.responses.inbound_sms(from_, body, message_sid)

    async def delivery_report(self, token: str, report: DeliveryReport) -> None:
        await self.responses.provider_status(
            token, report.status, report.error_code, sid=report.provider_id, raw=report.detail
        )

    async def delivery_reports(self, reports: Sequence[tuple[str, DeliveryReport]]) -> None:
        await self.responses.provider_statuses(
            [StatusReport(token, r.status, r.error_code, r.provider_id, r.detail) for token, r in reports]
        )

    async def expect_webhooks(self, provider_ids: Collection[str]) -> None:
        await self.responses.prefetch(provider_ids)

    async def call_answer(self, token: str, response: str, raw: str, provider_id: str | None) -> bool:
        return await self.responses.attempt_reply(token, response, "voice", raw, sid=provider_id)

    async def email_ack(self, attempt_id: str, response: str) -> str:
        answer = RESPONSE.get(response)
        if answer is None:
            raise Rejected("response must be 'ack' or 'decline'")
        if not await self.responses.attempt_reply(attempt_id, answer, "email", response):
            raise NotFound("this link does not belong to an activation")
        return (
            "Thank you: your confirmation is recorded."
            if answer == "confirm"
            else "Thank you: we will contact your alternate."
        )
