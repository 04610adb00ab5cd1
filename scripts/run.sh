#!/usr/bin/env bash
# The main job on the embedded default: set up, then run the demo (SQLite in a temporary directory,
# the built-in Twilio/SMTP sandbox, the example plan, the NIST sample call tree).
set -euo pipefail
cd "$(dirname "$0")/.."
NOTIFIER_SETUP_ALERTMANAGER=0 bash scripts/setup.sh
exec .venv/bin/notifier demo "$@"
