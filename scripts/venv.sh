#!/usr/bin/env bash
# Create .venv if it is missing (an existing one is kept), install the locked dependencies into it, then
# the project itself, and stamp it. The Makefile re-runs this when pyproject.toml, a lock file or this
# script is newer than the stamp.
#   1. pip and setuptools at the versions in requirements-pip.lock (a new venv starts with old ones)
#   2. every dependency at the version and hash in requirements.lock (make lock writes both files)
#   3. the project, editable, without dependencies and without a build of its own environment
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMP=$VENV/.callrouter-installed
PYTHON=${PYTHON:-python3}
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "venv: creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

echo "venv: pip and setuptools from requirements-pip.lock"
"${PIP[@]}" install --quiet --require-hashes --no-deps -r requirements-pip.lock
echo "venv: dependencies from requirements.lock"
"${PIP[@]}" install --quiet --require-hashes --no-deps -r requirements.lock
echo "venv: the project (pip install --no-deps -e .)"
"${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .
"${PIP[@]}" check
touch "$STAMP"
