#!/usr/bin/env bash
# Lint (ruff), the import contracts (import-linter), type-check (mypy --strict; its settings are in
# pyproject.toml), then run the whole test suite with the project's venv. Arguments go to pytest.
# With PYTEST_ARGS, one pytest run with them; without, the whole suite in two runs (below).
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check callrouter workers twilio_emulator tests || exit 1
.venv/bin/lint-imports --no-cache || exit 1  # the import contracts in .importlinter
.venv/bin/mypy callrouter workers tests/fakes.py || exit 1  # the fakes must match the ports

# pytest's exit code, except that "no tests collected" (5) is a failure too.
run() {
  .venv/bin/pytest "$@"
  local rc=$?
  if ((rc == 5)); then
    echo "make test: pytest collected no tests; that counts as a failure" >&2
    return 1
  fi
  return "$rc"
}

if (($# > 0)); then  # PYTEST_ARGS: exactly what was asked, in one run
  run "$@"
  exit $?
fi
# Everything, in two runs. The unit and integration tests keep to their own servers (free ports, own temporary
# folders), so two workers share them by module (pytest-xdist), one per core. The rest (deploy, emulator, e2e,
# browser, the fault suite) starts whole stacks whose timing matters, so it runs alone, one test at a time.
started=$(date +%s)
run -n 2 --dist loadfile tests/unit tests/integration
first=$?
echo "make test: unit and integration (2 workers) took $(($(date +%s) - started)) s, exit $first"
started=$(date +%s)
run --ignore=tests/unit --ignore=tests/integration tests
second=$?
echo "make test: deploy, emulator, e2e, browser, faults took $(($(date +%s) - started)) s, exit $second"
((first == 0 && second == 0))
