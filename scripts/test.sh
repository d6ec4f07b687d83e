#!/usr/bin/env bash
# Lint (ruff), the import contracts (import-linter), type-check (mypy --strict; its settings are in
# pyproject.toml), then run the whole test suite with the project's venv. Arguments go to pytest.
# Exit code is pytest's, except that "no tests collected" (5) is a failure too.
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check callrouter workers twilio_emulator tests || exit 1
.venv/bin/lint-imports --no-cache || exit 1  # the import contracts in .importlinter
.venv/bin/mypy callrouter workers tests/fakes.py || exit 1  # the fakes must match the ports
.venv/bin/pytest "$@"
rc=$?
if ((rc == 5)); then
  echo "make test: pytest collected no tests; that counts as a failure" >&2
  exit 1
fi
exit "$rc"
