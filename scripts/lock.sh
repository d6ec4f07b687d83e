#!/usr/bin/env bash
# Write the lock files from pyproject.toml, with hashes, resolved on PyPI for Python 3.11 on any platform:
#   requirements.lock      the project's dependencies and its [test] extra (make run and make test install it)
#   requirements-pip.lock  pip and setuptools for the venv itself (scripts/venv.sh upgrades them first)
# Uses uv (from PyPI) in a throwaway venv unless `uv` is on PATH. Run after changing a dependency:
#   make lock          (UPGRADE=1 make lock moves every pin to the newest release that fits)
set -euo pipefail
cd "$(dirname "$0")/.."

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  tools=$(mktemp -d)
  trap 'rm -rf "$tools"' EXIT
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check 'uv>=0.5'
  UV="$tools/venv/bin/uv"
fi
common=(--universal --python-version 3.11 --generate-hashes --quiet)
[ "${UPGRADE:-0}" = 1 ] && common+=(--upgrade)

export UV_CUSTOM_COMPILE_COMMAND="make lock"
"$UV" pip compile "${common[@]}" pyproject.toml --extra test -o requirements.lock
printf 'pip\nsetuptools\n' | "$UV" pip compile "${common[@]}" - -o requirements-pip.lock
echo "lock: wrote requirements.lock ($(grep -c '==' requirements.lock) packages) and requirements-pip.lock"
