"""Twilio's words, read as the engine's channel-neutral delivery reports.

Twilio reports a message as queued/sending/sent/delivered/undelivered/failed (plus accepted,
scheduled, read, canceled), a call as queued/initiated/ringing/in-progress/completed/busy/no-answer/
failed/canceled, with `AnsweredBy` human/machine_*/fax/unknown when machine detection is on, and an
`ErrorCode` on failures. The engine hears only `notifier.domain.events.DeliveryStatus`:

| Twilio                                              | delivery status    |
|-----------------------------------------------------|--------------------|
| queued, accepted, scheduled, sending, sent,         | sent (under way)   |
| initiated, ringing                                  |                    |
| delivered, read                                     | delivered          |
| failed/undelivered/canceled with 21211, 21614, 30006| failed_permanent   |
| (invalid, not a mobile, landline or unreachable)    |                    |
| failed/undelivered/canceled with 21610 (STOP)       | opted_out          |
| failed, undelivered, canceled (other codes)         | failed             |
| busy / no-answer                                    | busy / no_answer   |
| in-progress, completed, answered                    | answered           |
| AnsweredBy machine_* or fax                         | machine            |

Error codes of the send request itself (REST answers) are classified in `provider.py`.
This module and the sandbox are the only places that know these words (a test greps for them).
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.channels.inbound import DeliveryReport
from notifier.domain.events import DeliveryStatus

UNDER_WAY = frozenset({"queued", "accepted", "scheduled", "sending", "sent", "initiated", "ringing"})
FAILED = frozenset({"failed", "undelivered", "canceled"})
ANSWERED = frozenset({"in-progress", "completed", "answered"})
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
#: error codes on a failed message or call that condemn the address for the rest of the activation
DEAD_CODES: Mapping[str, DeliveryStatus] = {
    "21211": "failed_permanent",
    "21614": "failed_permanent",
    "30006": "failed_permanent",
    "21610": "opted_out",
}
_PLAIN: Mapping[str, DeliveryStatus] = {
    "delivered": "delivered",
    "read": "delivered",
    "busy": "busy",
    "no-answer": "no_answer",
}


def is_machine(answered_by: str | None) -> bool:
    """True when Twilio's AMD says a machine or fax answered; `human` and `unknown` are people."""
    return (answered_by or "").strip().lower() in MACHINE_ANSWERS


def delivery_status(status: str, answered_by: str | None, error_code: str | None) -> DeliveryStatus | None:
    """The neutral status of one Twilio callback, or None when it says nothing we track."""
    status = status.strip().lower()
    if is_machine(answered_by):
        return "machine"
    if status in FAILED:
        return DEAD_CODES.get(error_code or "", "failed")
    if status in UNDER_WAY:
        return "sent"
    if status in ANSWERED:
        return "answered"
    return _PLAIN.get(status)


def report_from_form(params: Mapping[str, str], call: bool) -> DeliveryReport | None:
    """A message (`MessageStatus`/`SmsStatus`) or call (`CallStatus`, `AnsweredBy`) status callback."""
    if call:
        raw, answered_by = params.get("CallStatus") or "", params.get("AnsweredBy")
        sid = params.get("CallSid")
    else:
        raw, answered_by = params.get("MessageStatus") or params.get("SmsStatus") or "", None
        sid = params.get("MessageSid") or params.get("SmsSid")
    code = params.get("ErrorCode") or None
    status = delivery_status(raw, answered_by, code)
    if status is None:
        return None
    detail = raw + (f"/{answered_by}" if answered_by else "")
    return DeliveryReport(status, code, "twilio", sid or None, detail[:60])


def machine_report(params: Mapping[str, str]) -> DeliveryReport | None:
    """The voice webhook's `AnsweredBy`, when it says a machine: the same report (and replay key)
    as the call-status callback that announces the same answer."""
    answered_by = params.get("AnsweredBy")
    if not is_machine(answered_by):
        return None
    return DeliveryReport(
        "machine", None, "twilio", params.get("CallSid") or None, f"in-progress/{answered_by}"
    )
