"""A phone call as Twilio runs it: progress callbacks, answering machine detection, TwiML, keypresses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from notifier.sandbox import twiml
from notifier.sandbox.core import SandboxState
from notifier.sandbox.personas import Persona
from notifier.sandbox.records import API_VERSION, PlacedCall, new_sid, rfc2822
from notifier.sandbox.schema import TwilioError

MAX_HOPS = 10
DIAL_DELAY = 0.2
BUSY_DELAY = 1.0
SECONDS_PER_WORD = 0.3
PLAY_SECONDS = 3.0
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def create_call(state: SandboxState, account_sid: str, form: Mapping[str, list[str]]) -> PlacedCall:
    to = _first(form, "To") or ""
    persona = state.personas.for_number(to)
    if persona.invalid:
        raise TwilioError(400, 21211, "Invalid 'To' Phone Number")
    now = state.clock.now()
    timeout = _first(form, "Timeout")
    call = PlacedCall(
        sid=new_sid("CA"),
        account_sid=account_sid,
        to=to,
        from_=_first(form, "From") or "",
        url=_first(form, "Url"),
        twiml=_first(form, "Twiml"),
        method=(_first(form, "Method") or "POST").upper(),
        status="queued",
        created_at=now,
        updated_at=now,
        status_callback=_first(form, "StatusCallback"),
        status_callback_events=list(form.get("StatusCallbackEvent") or ["completed"]),
        machine_detection=_first(form, "MachineDetection"),
        timeout=int(timeout) if timeout else 60,
    )
    state.calls.append(call)
    state.spawn(lambda: _run(state, call, persona, (_first(form, "StatusCallbackMethod") or "POST")))
    return call


def _call_params(call: PlacedCall) -> dict[str, Any]:
    params: dict[str, Any] = {
        "CallSid": call.sid,
        "AccountSid": call.account_sid,
        "From": call.from_,
        "To": call.to,
        "Caller": call.from_,
        "Called": call.to,
        "CallStatus": call.status,
        "Direction": "outbound-api",
        "ApiVersion": API_VERSION,
    }
    if call.answered_by:
        params["AnsweredBy"] = call.answered_by
    return params


async def _progress(state: SandboxState, call: PlacedCall, event: str, status: str, method: str) -> None:
    call.status = status
    call.updated_at = state.clock.now()
    await state.changed()
    if not call.status_callback or event not in call.status_callback_events:
        return
    params = _call_params(call)
    params.update(
        CallbackSource="call-progress-events",
        SequenceNumber=str(len(call.callbacks)),
        Timestamp=rfc2822(call.updated_at),
    )
    if event == "completed":
        params["CallDuration"] = str(call.duration() or 0)
    call.callbacks.append(await state.webhook("call-status", call.status_callback, params, method))


async def _run(state: SandboxState, call: PlacedCall, persona: Persona, callback_method: str) -> None:
    try:
        await state.clock.sleep(DIAL_DELAY)
        await _progress(state, call, "initiated", "initiated", callback_method)
        if persona.voice == "failed":
            final = "failed"
        elif persona.voice == "busy":
            await state.clock.sleep(BUSY_DELAY)
            final = "busy"
        else:
            await _progress(state, call, "ringing", "ringing", callback_method)
            if persona.voice == "no-answer":
                await state.clock.sleep(call.timeout)
                final = "no-answer"
            else:
                await state.clock.sleep(min(persona.ring_seconds, call.timeout))
                await _answer(state, call, persona, callback_method)
                final = "completed"
        await _progress(state, call, "completed", final, callback_method)
    finally:
        call.finished = True
        await state.changed()


async def _answer(state: SandboxState, call: PlacedCall, persona: Persona, callback_method: str) -> None:
    machine = persona.voice == "machine"
    if call.machine_detection:
        detected_end = call.machine_detection == "DetectMessageEnd"
        call.answered_by = ("machine_end_beep" if detected_end else "machine_start") if machine else "human"
    call.start_time = state.clock.now()
    await _progress(state, call, "answered", "in-progress", callback_method)
    await _converse(state, call, [] if machine else persona.presses())
    call.end_time = state.clock.now()


async def _fetch(
    state: SandboxState,
    call: PlacedCall,
    kind: str,
    url: str,
    method: str,
    extra: dict[str, Any] | None = None,
) -> str | None:
    params = _call_params(call)
    params.update(extra or {})
    callback = await state.webhook(kind, url, params, method)
    call.callbacks.append(callback)
    if callback.status is None or not 200 <= callback.status < 300:
        return None
    return callback.body


async def _speak(state: SandboxState, call: PlacedCall, prompt: twiml.Say | twiml.Play | twiml.Pause) -> None:
    if isinstance(prompt, twiml.Say):
        call.said.append(prompt.text)
        await state.changed()
        await state.clock.sleep(SECONDS_PER_WORD * len(prompt.text.split()))
    elif isinstance(prompt, twiml.Play):
        call.played.append(prompt.url)
        await state.clock.sleep(PLAY_SECONDS)
    else:
        await state.clock.sleep(prompt.length)


async def _converse(state: SandboxState, call: PlacedCall, presses: list[str]) -> None:
    """Play documents until a hangup, their end, or `MAX_HOPS` documents (a redirect loop)."""
    url = call.url or ""
    document = call.twiml if call.twiml else await _fetch(state, call, "twiml", url, call.method)
    for _hop in range(MAX_HOPS):
        if document is None:
            call.said.append(APPLICATION_ERROR)
            return
        try:
            verbs = twiml.parse(document)
        except twiml.TwimlError:
            call.said.append(APPLICATION_ERROR)
            return
        next_step: tuple[str, str, dict[str, Any] | None] | None = None
        for verb in verbs:
            if isinstance(verb, twiml.Hangup):
                return
            if isinstance(verb, twiml.Redirect):
                next_step = (urljoin(url, verb.url), verb.method, None)
                break
            if isinstance(verb, twiml.Gather):
                for prompt in verb.prompts:
                    await _speak(state, call, prompt)
                if not presses:
                    await state.clock.sleep(verb.timeout)
                    continue
                digits = presses.pop(0)
                if verb.num_digits is not None:
                    digits = digits[: verb.num_digits]
                call.digits_sent.append(digits)
                next_step = (urljoin(url, verb.action or url), verb.method, {"Digits": digits})
                break
            await _speak(state, call, verb)
        if next_step is None:
            return
        url, method, extra = next_step
        kind = "gather" if extra else "redirect"
        document = await _fetch(state, call, kind, url, method, extra)
