#!/usr/bin/env bash
# The test command: set up, lint, type-check (domain, engine and store: strict), run the whole suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check notifier tests bench
.venv/bin/mypy notifier/domain notifier/engine notifier/store
.venv/bin/python -m pytest -q "$@"
