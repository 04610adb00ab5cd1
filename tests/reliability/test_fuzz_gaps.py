"""Issue 8, fuzzing: the gaps left by tests/api/test_fuzz.py (intake and activation bodies, in-memory
engine), tests/api_e2e/test_schemathesis.py (every operation as admin: no 5xx), tests/domain
(`parse_reply` over arbitrary text) and tests/plan/test_fuzz.py (damaged YAML).

Added here:
- the Alertmanager and Grafana parsers under deep mutations (any field at any depth replaced or
  removed): alerts or a `PayloadError` whose every problem names a JSON path, never another error;
- the SMS reply grammar built from its own vocabulary, in any case, spacing and punctuation;
- the endpoints outside the OpenAPI schema (Twilio webhooks, ack links) with random input, signed
  and unsigned, against the real engine: never a 5xx, and a rejection always says why;
- schemathesis as the roles that are *not* admin and without a token: a rejection is a 4xx whose
  JSON body carries an error message.
"""

from __future__ import annotations

import asyncio
import copy
import string
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.api.tokens import Role, TokenStore
from notifier.domain.alerts import PayloadError, parse_alertmanager, parse_grafana, parse_webhook
from notifier.domain.messages import REF_SPACE, reference_code
from notifier.domain.replies import CONFIRM_WORDS, DECLINE_WORDS, ReplyAction, parse_reply
from notifier.sandbox import SIGNATURE_HEADER, preset, sign
from tests.api.payloads import alertmanager_seed_down, grafana_eos_high
from tests.reliability.harness import numbers_for
from tests.reliability.inprocess import faulty_system

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["firing", "resolved", "4", "0001-01-01T00:00:00Z", "9999-12-31T23:59:60Z", ""])
)
_json = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def _mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    body: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        path = draw(st.sampled_from(paths))
        if not path:
            body = draw(_json)
            continue
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_json)
    return body


@settings(max_examples=150, deadline=None)
@given(st.one_of(_mutated(alertmanager_seed_down()), _mutated(grafana_eos_high())))
def test_webhook_parsers_answer_alerts_or_problems_with_paths(body: Any) -> None:
    for parser in (parse_webhook, parse_alertmanager, parse_grafana):
        try:
            alerts = parser(body)
        except PayloadError as exc:
            assert exc.problems, "a rejection lists its problems"
            for problem in exc.problems:
                assert problem.message.strip(), problem
            continue
        for alert in alerts:
            assert alert.dedup_key and alert.status in ("firing", "resolved")
            assert alert.received_at.tzinfo is not None


_refs = st.integers(0, REF_SPACE - 1).map(reference_code)
_space = st.sampled_from([" ", "  ", "\t", "\n", " - ", ", ", ". ", "! "])


def _cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.lower(), word.capitalize()])


@settings(max_examples=150, deadline=None)
@given(
    word=st.sampled_from(sorted(CONFIRM_WORDS | DECLINE_WORDS)).flatmap(_cased),
    ref=st.none() | _refs.flatmap(_cased),
    before=_space,
    between=_space,
    after=st.sampled_from(["", ".", "!", " ", "\n", " 🙂"]),
    ref_first=st.booleans(),
)
def test_reply_grammar_in_any_case_spacing_and_order(
    word: str, ref: str | None, before: str, between: str, after: str, ref_first: bool
) -> None:
    parts = [word] if ref is None else ([ref, word] if ref_first else [word, ref])
    parsed = parse_reply(before + between.join(parts) + after)
    expected = ReplyAction.CONFIRM if word.upper() in CONFIRM_WORDS else ReplyAction.DECLINE
    assert parsed.action is expected, (parts, parsed)
    assert parsed.ref == (ref.upper() if ref else None)


_form = st.dictionaries(
    st.sampled_from(
        [
            "From",
            "To",
            "Body",
            "MessageSid",
            "Digits",
            "CallStatus",
            "MessageStatus",
            "AnsweredBy",
            "ErrorCode",
            "CallSid",
            "x",
        ]
    ),
    st.text(string.printable + "éß€🙂\x00", max_size=40),
    max_size=6,
)
_token = st.one_of(
    st.none(), st.text(max_size=90), st.from_regex(r"\A[0-9a-f]{16}\.a[0-9]{1,4}\Z"), st.just("..")
)
WEBHOOKS = [
    "/webhooks/twilio/sms",
    "/webhooks/twilio/status",
    "/webhooks/twilio/voice",
    "/webhooks/twilio/gather",
    "/webhooks/twilio/call-status",
]


async def test_unschemed_endpoints_never_fail_with_5xx_and_say_why(tmp_path: Path) -> None:
    """Webhooks and ack links are not in /openapi.json, so schemathesis never reaches them."""
    numbers = numbers_for(2)
    quiet = [preset("never_answers", n) for n in numbers]
    async with faulty_system(tmp_path, numbers, "[{kind: sms, wait: 30m}]", personas=quiet) as system:
        await system.activate()
        auth = system.runtime.settings.twilio.auth_token.get_secret_value()
        failures: list[str] = []

        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(
            path=st.sampled_from(WEBHOOKS),
            form=_form,
            t=_token,
            signed=st.booleans(),
            ack=st.text(string.ascii_letters + string.digits + "-_.~%", max_size=120),
            post=st.booleans(),
        )
        def probe(path: str, form: dict[str, str], t: str | None, signed: bool, ack: str, post: bool) -> None:
            url = path + (f"?{urlencode({'t': t})}" if t is not None else "")
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if signed:
                headers[SIGNATURE_HEADER] = sign(auth, system.base + url, form)
            with httpx.Client(base_url=system.base, timeout=30) as client:
                answers = [client.post(url, content=urlencode(form), headers=headers)]
                ack_path = "/ack/" + ack.replace("/", "")
                answers.append(
                    client.post(ack_path, data={"response": "ack"}) if post else client.get(ack_path)
                )
            for response in answers:
                if response.status_code >= 500:
                    failures.append(
                        f"{response.request.url.path}: {response.status_code} {response.text[:120]}"
                    )
                elif response.status_code >= 400 and not response.text.strip():
                    failures.append(f"{response.request.url.path}: {response.status_code} with no reason")
                if not signed and path.startswith("/webhooks") and response.request.url.path == path:
                    assert response.status_code == 403, (url, response.status_code)

        await asyncio.to_thread(probe)
        assert failures == []


async def test_schemathesis_rejections_as_other_roles_carry_an_error(tmp_path: Path) -> None:
    numbers = numbers_for(2)
    quiet = [preset("never_answers", n) for n in numbers]
    async with faulty_system(tmp_path, numbers, "[{kind: sms, wait: 30m}]", personas=quiet) as system:
        assert system.runtime.db is not None
        store = TokenStore(system.runtime.db)
        tokens = {
            role: (await store.create(f"{role.value}-fuzz", role))[1] for role in Role if role != Role.ADMIN
        }
        await system.activate()
        failures: list[str] = []

        def run() -> None:
            api = schemathesis.openapi.from_url(f"{system.base}/openapi.json")
            for result in api.get_all_operations():
                for who in [*tokens, None]:
                    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                    _fuzz_operation(
                        result.ok(),  # type: ignore[union-attr]
                        system.base,
                        headers,
                        who.value if who else "anonymous",
                        failures,
                    )

        await asyncio.to_thread(run)
        assert failures == [], "\n".join(failures[:20])


def _fuzz_operation(
    operation: Any, base: str, headers: dict[str, str], who: str, failures: list[str]
) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base, headers=headers, timeout=30)
        where = f"{who} {case.method} {case.formatted_path}"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:160]}")
        elif response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                failures.append(f"{where}: {response.status_code} body is not JSON")
                return
            # our problem format names `error` (or FastAPI's `detail`); the PagerDuty-compatible
            # routes answer as PagerDuty does, with a list of `errors`
            reason = None
            if isinstance(body, dict):
                reason = body.get("error") or body.get("detail") or body.get("errors")
            if not reason:
                failures.append(f"{where}: {response.status_code} without an error: {body}")

    fuzz()
