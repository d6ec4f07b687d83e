#!/usr/bin/env bash
# Create .venv if it is missing (an existing one is kept), install the project into it, stamp it.
# The Makefile re-runs this when pyproject.toml is newer than the stamp.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.callrouter-installed
PYTHON=${PYTHON:-python3}

if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "venv: creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

echo "venv: pip install -e '.[test]' honcho"
# honcho runs the Procfile for `make run` (to be listed in pyproject.toml's dependencies).
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]' honcho
touch "$STAMP"
