#!/usr/bin/env bash
# Lint (ruff), the import contracts (import-linter), type-check (mypy --strict; its settings are in
# pyproject.toml), then run the whole test suite with the project's venv. Arguments go to pytest.
# With PYTEST_ARGS, one pytest run with them; without, the whole suite in three runs (below).
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check callrouter workers twilio_emulator tests || exit 1
.venv/bin/lint-imports --no-cache || exit 1  # the import contracts in .importlinter
.venv/bin/mypy callrouter workers tests/fakes.py || exit 1  # the fakes must match the ports

# pytest's exit code, except that "no tests collected" (5) is a failure too.
run() {
  .venv/bin/pytest "$@"
  checked $?
}
# The same for a run in the background: a script's background job starts with SIGINT ignored, and Python keeps it
# so; the run puts Python's handler back, so that Ctrl-C stops it (and its stacks) as it stops the one in front.
run_beside() {
  .venv/bin/python -c 'import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.main(sys.argv[1:]))' "$@"
  checked $?
}
checked() {
  local rc=$1
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
# Everything, in three runs. The unit and integration tests keep to their own servers (free ports, own temporary
# folders), so two workers share them by module (pytest-xdist), one per core. Then the tests that start whole stacks
# whose timing matters, one test at a time in each of two runs side by side: the fault suite (one cluster of its
# own, tests/faults/cluster.py) and the rest (deploy, emulator, e2e, browser). Both mostly wait on the stacks'
# timers (a run of all of them one after the other kept 0.6 of the 2 cores busy), so side by side they take about
# as long as the longer of the two instead of both together. The rest's output follows the fault suite's.
started=$(date +%s)
run -n 2 --dist loadfile tests/unit tests/integration
first=$?
echo "make test: unit and integration (2 workers) took $(($(date +%s) - started)) s, exit $first"
started=$(date +%s)
stacks_log=$(mktemp /tmp/callrouter-test-stacks.XXXXXX)
run_beside -p no:cacheprovider --ignore=tests/unit --ignore=tests/integration --ignore=tests/faults tests >"$stacks_log" 2>&1 &
stacks_pid=$!
run tests/faults
faults=$?
echo "make test: the fault suite took $(($(date +%s) - started)) s, exit $faults"
wait "$stacks_pid"
second=$?
echo "---- deploy, emulator, e2e, browser (run beside the fault suite) ----"
cat "$stacks_log"
rm -f "$stacks_log"
echo "make test: deploy, emulator, e2e, browser and the fault suite took $(($(date +%s) - started)) s, exit $second and $faults"
((first == 0 && second == 0 && faults == 0))
