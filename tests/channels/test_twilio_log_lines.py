"""Log lines per provider request (issue 13, finding 4): one line of ours per SMS, none from the
Twilio SDK's request logger, which wrote nine INFO lines per request on 78bb7e0 (3,971 of 4,427
log lines of one session) although the code said that logger was quiet."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from notifier.channels.base import Outcome
from notifier.channels.twilio import TwilioProvider
from notifier.logging import configure_logging
from notifier.sandbox import Sandbox

from .test_twilio import SENDER, daemon, provider, sandbox, sms

__all__ = ["daemon", "provider", "sandbox"]  # fixtures of test_twilio, used here


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The daemon's logging set-up (JSON lines, INFO) into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    stream = io.StringIO()
    configure_logging("json", level=logging.INFO, stream=stream)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved[0], saved[1]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_one_log_line_per_sms_and_none_from_the_sdk(
    provider: TwilioProvider, sandbox: Sandbox, log_stream: io.StringIO
) -> None:
    sends = 5
    for i in range(sends):
        result = await provider.send(sms(token=f"tok-{i}"), SENDER)
        assert result.outcome is Outcome.ACCEPTED
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    provider_lines = [
        line for line in lines if str(line.get("logger", "")).startswith(("twilio", "notifier.channels"))
    ]
    print(f"log lines per SMS sent: {len(provider_lines) / sends:.1f}")
    assert [line["event"] for line in provider_lines] == ["twilio.accepted"] * sends
    assert all("+32470000001" not in json.dumps(line) for line in lines)
