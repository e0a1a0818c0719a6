#!/usr/bin/env bash
# Runs the test suite in its own virtualenv (.venv), creating it on first use.
#   scripts/test.sh                      the default suite (CPU, about 11 to 15 minutes on 2 cores)
#   scripts/test.sh -m slow              the slow tier (-m horovod: the Horovod tier)
#   scripts/test.sh -m reference         PyTorch/transformers rerun live against tests/golden/
#   scripts/test.sh [-m EXPR] [-k EXPR] [-x] [-v] [--lf] [tests/FILE.py[::TEST] ...]
# The reference tier installs requirements-reference.txt into a second virtualenv
# (.venv-reference, no TensorFlow) and runs it only in child processes.
set -euo pipefail
usage_error() { echo "error: $1 (see --help)" >&2; exit 2; }
args=("$@")
marker=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --help|-h) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -m|-k) [[ $# -ge 2 && -n "$2" ]] || usage_error "$1 needs an expression"
           [[ "$1" == -m ]] && marker="$2"
           shift 2 ;;
    -x|-v|-q|-s|--lf|--ff) shift ;;
    tests/*) [[ -e "${1%%::*}" || -e "$(dirname "$0")/../${1%%::*}" ]] || usage_error "no such test file: ${1%%::*}"
             shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
VENV="${VENV:-.venv}"
ensure_venv "$VENV" requirements-test.txt
if [[ "$marker" == *reference* ]]; then
  REFERENCE_VENV="${REFERENCE_VENV:-.venv-reference}"
  ensure_venv "$REFERENCE_VENV" requirements-reference.txt
  export BERT_REFERENCE_PYTHON="$PWD/$REFERENCE_VENV/bin/python"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$VENV/bin/python" -m pytest -q "${args[@]}"
