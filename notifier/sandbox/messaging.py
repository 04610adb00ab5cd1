"""SMS as the carrier network plays it: queued -> sent -> delivered, replies, STOP handling."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from notifier.sandbox.core import InboundMessage, SandboxState
from notifier.sandbox.personas import Persona
from notifier.sandbox.records import API_VERSION, Callback, SentMessage, new_sid, num_segments
from notifier.sandbox.schema import TwilioError

SEND_DELAY = 0.2
DELIVERY_DELAY = 0.5
FAILURE_CODES = {"undelivered": 30003, "failed": 30006}
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES"}


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def sender_key(message: SentMessage) -> str:
    return message.from_ or message.messaging_service_sid or ""


def create_message(state: SandboxState, account_sid: str, form: Mapping[str, list[str]]) -> SentMessage:
    """Accept a validated create request, or refuse it as Twilio would for this persona."""
    to = _first(form, "To") or ""
    sender = _first(form, "From") or _first(form, "MessagingServiceSid") or ""
    persona = state.personas.for_number(to)
    if persona.invalid:
        raise TwilioError(400, 21211, "Invalid 'To' Phone Number")
    if persona.opted_out or (to, sender) in state.opt_outs:
        raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")
    now = state.clock.now()
    validity = _first(form, "ValidityPeriod")
    message = SentMessage(
        sid=new_sid("SM"),
        account_sid=account_sid,
        to=to,
        from_=_first(form, "From") or "",
        body=_first(form, "Body") or "",
        status="queued",
        created_at=now,
        updated_at=now,
        status_callback=_first(form, "StatusCallback"),
        messaging_service_sid=_first(form, "MessagingServiceSid"),
        validity_period=int(validity) if validity else None,
    )
    state.messages.append(message)
    callbacks: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    if message.status_callback:
        state.spawn(lambda: _post_callbacks(state, message, callbacks))
    state.spawn(lambda: _deliver(state, message, persona, callbacks))
    return message


def _status_params(message: SentMessage) -> dict[str, Any]:
    params: dict[str, Any] = {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "AccountSid": message.account_sid,
        "From": message.from_,
        "To": message.to,
        "MessageStatus": message.status,
        "SmsStatus": message.status,
        "ApiVersion": API_VERSION,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    return params


async def _set_status(
    state: SandboxState,
    message: SentMessage,
    status: str,
    callbacks: asyncio.Queue[dict[str, Any] | None],
    at: datetime | None = None,
) -> None:
    message.status = status
    message.updated_at = at or state.clock.now()
    if status == "sent":
        message.sent_at = message.updated_at
    await state.changed()
    if message.status_callback:
        callbacks.put_nowait(_status_params(message))


async def _post_callbacks(
    state: SandboxState, message: SentMessage, callbacks: asyncio.Queue[dict[str, Any] | None]
) -> None:
    """Post one message's status callbacks in order. Twilio does not hold a message back while our
    answer to its previous callback is slow: the handset gets it (and may answer) on the carrier's
    time, so the delivery (`_deliver`) goes on without waiting for these posts."""
    assert message.status_callback is not None
    while (params := await callbacks.get()) is not None:
        message.callbacks.append(await state.webhook("message-status", message.status_callback, params))


async def _deliver(
    state: SandboxState,
    message: SentMessage,
    persona: Persona,
    callbacks: asyncio.Queue[dict[str, Any] | None],
) -> None:
    try:
        await _set_status(state, message, "queued", callbacks)
        delay = SEND_DELAY + state.queue_delay(sender_key(message), num_segments(message.body))
        slot = state.clock.now() + timedelta(seconds=delay)  # when the carrier sends it
        await state.clock.sleep(delay)
        await _set_status(state, message, "sent", callbacks, at=slot)  # (however late we woke)
        await state.clock.sleep(DELIVERY_DELAY)
        if persona.sms_delivery != "delivered":
            message.error_code = FAILURE_CODES[persona.sms_delivery]
            await _set_status(state, message, persona.sms_delivery, callbacks)
            return
        await _set_status(state, message, "delivered", callbacks)
    finally:
        callbacks.put_nowait(None)  # the last status is out: the poster ends after posting it
    if persona.sms_reply is not None:
        await state.clock.sleep(persona.reply_after)
        await send_inbound(state, from_=message.to, to=sender_key(message), body=persona.sms_reply)


async def send_inbound(state: SandboxState, from_: str, to: str, body: str) -> InboundMessage:
    """Deliver a message from a handset to our number: opt-out words are applied, then forwarded."""
    word = body.strip().upper()
    if word in OPT_OUT_WORDS:
        state.opt_outs.add((from_, to))
    elif word in OPT_IN_WORDS:
        state.opt_outs.discard((from_, to))
    sid = new_sid("SM")
    params: dict[str, Any] = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": state.account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": str(num_segments(body)),
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
        "FromCountry": "",
        "ToCountry": "",
    }
    if to.startswith("MG"):
        params["MessagingServiceSid"] = to
    if state.inbound_sms_url:
        callback = await state.webhook("inbound-sms", state.inbound_sms_url, params)
    else:
        callback = Callback(kind="inbound-sms", url="", params=params, status=None, at=state.clock.now())
    inbound = InboundMessage(sid=sid, from_=from_, to=to, body=body, callback=callback)
    state.inbound.append(inbound)
    await state.changed()
    return inbound
