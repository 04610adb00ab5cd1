#!/usr/bin/env bash
# The test command: set up, lint, type-check (domain, engine and store: strict), run the whole suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check notifier tests bench
.venv/bin/mypy notifier/domain notifier/engine notifier/store
# 3 workers on 2 cores: most tests wait on real clocks and subprocesses, not on the CPU. Tests that
# share a module-scoped fixture stay on one worker, the slow ones start first (tests/conftest.py).
# NOTIFIER_TEST_WORKERS=0 runs the suite in one process.
.venv/bin/python -m pytest -q -n "${NOTIFIER_TEST_WORKERS:-3}" --dist loadgroup --no-loadscope-reorder "$@"
