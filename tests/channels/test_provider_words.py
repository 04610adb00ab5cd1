"""Twilio's codes and status words live in `notifier/channels/twilio*` and the sandbox only.

The words and codes are taken from the Twilio package itself (its classification tables), so a
code added there is checked here too; the domain, the engine and the API speak channel-neutral
outcomes (`failed_permanent`, `busy`, `machine`...).
"""

from __future__ import annotations

import re
from pathlib import Path

from notifier.channels.twilio import provider, status

ROOT = Path(__file__).resolve().parents[2] / "notifier"
ALLOWED = ("channels/twilio", "sandbox/")
#: Twilio words that are also plain English or our own vocabulary (sent, queued, completed...)
NEUTRAL = {
    "sent",
    "queued",
    "accepted",
    "scheduled",
    "sending",
    "read",
    "delivered",
    "failed",
    "busy",
    "completed",
    "answered",
    "initiated",
    "fax",
}


def twilio_codes() -> set[str]:
    codes = {str(c) for c in provider.INVALID_DESTINATION_CODES | provider.OPTED_OUT_CODES}
    codes |= {str(c) for c in provider.RATE_LIMIT_CODES} | set(status.DEAD_CODES)
    source = Path(provider.__file__).read_text() + Path(status.__file__).read_text()
    codes |= set(re.findall(r"\b[23]\d{4}\b", source))  # codes named in the tables' prose too
    return codes


def twilio_words() -> set[str]:
    words = status.UNDER_WAY | status.FAILED | status.ANSWERED | status.MACHINE_ANSWERS | {"no-answer"}
    return set(words) - NEUTRAL


def offenders(needles: set[str], root: Path = ROOT) -> list[str]:
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(needles))) + r")(?![\w-])")
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.suffix not in (".py", ".yaml", ".md", ".html", ".json", ".css"):
            continue
        if rel.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                found.append(f"notifier/{rel}:{number}: {line.strip()}")
    return found


def test_the_tables_know_the_codes_and_words_this_test_looks_for() -> None:
    assert {"21211", "21610", "20429", "30006"} <= twilio_codes()
    assert {
        "undelivered",
        "no-answer",
        "in-progress",
        "ringing",
        "canceled",
        "machine_start",
    } <= twilio_words()


def test_no_twilio_error_code_outside_the_twilio_package_and_the_sandbox() -> None:
    assert offenders(twilio_codes()) == []


def test_no_twilio_status_word_outside_the_twilio_package_and_the_sandbox() -> None:
    assert offenders(twilio_words()) == []


def test_the_check_finds_planted_words_and_spares_the_allowed_places(tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "channels" / "twilio").mkdir(parents=True)
    (tmp_path / "engine" / "x.py").write_text("ok = 1\nif status == 'undelivered' or code == '21211':\n")
    (tmp_path / "channels" / "twilio" / "y.py").write_text("'no-answer', 21610\n")
    assert offenders(twilio_words(), tmp_path) == [
        "notifier/engine/x.py:2: if status == 'undelivered' or code == '21211':"
    ]
    assert len(offenders(twilio_codes(), tmp_path)) == 1
