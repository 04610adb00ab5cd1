"""Pytest plugin: every log line of a test session goes through the production logging set-up into
one file, which is scanned at the end for full phone numbers and email addresses.

Why: in-process tests run the real engine, webhooks and providers, so they log what the daemon
would, but structlog's default configuration (used when nothing configured it) has no masking and
writes nowhere we could check. Enable with `pytest -p tests.ops.logscan_plugin`; the file is
`$NOTIFIER_LOGSCAN_FILE` (default: a temporary file). A leak fails the session with the lines.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest

from notifier.logging import configure_logging

FULL_NUMBER = re.compile(r"\+\d{8,15}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

_state: dict[str, Any] = {}


def leaks(text: str) -> list[str]:
    return [line[:300] for line in text.splitlines() if FULL_NUMBER.search(line) or EMAIL.search(line)]


def pytest_configure(config: pytest.Config) -> None:
    target = os.environ.get("NOTIFIER_LOGSCAN_FILE") or tempfile.mkstemp(prefix="notifier-logscan-")[1]
    path = Path(target)
    stream: IO[str] = path.open("a", encoding="utf-8", buffering=1)
    _state.update(path=path, stream=stream)
    configure_logging("json", level=logging.DEBUG, stream=stream)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stream = _state.get("stream")
    if stream is None:
        return
    stream.flush()
    path: Path = _state["path"]
    text = path.read_text(encoding="utf-8", errors="replace")
    found = leaks(text)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    summary = f"log scan: {text.count(chr(10))} lines in {path}, {len(found)} with personal data"
    if reporter is not None:
        reporter.write_line(summary)
        for line in found[:20]:
            reporter.write_line(f"  LEAK: {line}")
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
