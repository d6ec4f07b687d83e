#!/usr/bin/env bash
# Lint (ruff), the import contracts (import-linter) and type-check (mypy --strict; its settings are in
# pyproject.toml), and run the whole test suite with the project's venv. Arguments go to pytest: with PYTEST_ARGS,
# the checks and then one pytest run with them; without, the checks beside the whole suite in four runs (below).
set -uo pipefail
cd "$(dirname "$0")/.."

lint_checks() {
  .venv/bin/ruff check callrouter workers twilio_emulator tests || return 1
  .venv/bin/lint-imports --no-cache || return 1  # the import contracts in .importlinter
  .venv/bin/mypy callrouter workers tests/fakes.py || return 1  # the fakes must match the ports
}

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

if (($# > 0)); then  # PYTEST_ARGS: the checks, then exactly what was asked, in one run
  lint_checks || exit 1
  run "$@"
  exit $?
fi
# Everything, in several pytest runs at once, since much of their time is waiting: the unit and integration
# tests keep to their own servers (free ports, own temporary folders) and share two workers by module
# (pytest-xdist); the tests that start whole stacks run one test at a time in each of four runs (lanes), since
# their timing matters. The checks above and the fault suite's cluster (tests/faults/cluster.py, its longest
# lane) start with the unit and integration tests (together they keep the 2 cores busy); when those are done,
# three lanes start: the end-to-end tests in two halves (the fault suite's one-host kill points with the second),
# and the rest (browser, emulator, deploy, and any new folder). The output of each run in the background is
# printed after the run in front, with how long it took. A new test file lands in one of the lanes by itself.
E2E_SECOND_HALF=(tests/e2e/test_concurrency.py tests/e2e/test_conference_bridge.py tests/e2e/test_demo_day.py)
ONE_HOST_FAULTS=(tests/faults/test_killed_mid_step.py tests/faults/test_worker_killed_jobs.py)
declare -a names=() pids=() logs=() starts=()
lane() {  # lane NAME PYTEST-ARGS...: one pytest run in the background, its output kept for the end
  local log
  log=$(mktemp /tmp/callrouter-test-lane.XXXXXX)
  names+=("$1")
  shift
  starts+=("$(date +%s)")
  { run_beside -p no:cacheprovider "$@"; local rc=$?; date +%s >"$log.ended"; return $rc; } >"$log" 2>&1 &
  pids+=("$!")
  logs+=("$log")
}
began=$(date +%s)
checks_log=$(mktemp /tmp/callrouter-test-checks.XXXXXX)
lint_checks >"$checks_log" 2>&1 &
checks_pid=$!
lane "the fault suite's cluster" tests/faults "${ONE_HOST_FAULTS[@]/#/--ignore=}"
run -n 2 --dist loadfile tests/unit tests/integration
first=$?
echo "make test: unit and integration (2 workers) took $(($(date +%s) - began)) s, exit $first"
lane "end to end, first half" tests/e2e "${E2E_SECOND_HALF[@]/#/--ignore=}"
lane "end to end, second half, and the fault suite's kill points on one host" "${E2E_SECOND_HALF[@]}" \
  "${ONE_HOST_FAULTS[@]}"
lane "browser, emulator, deploy" tests --ignore=tests/unit --ignore=tests/integration --ignore=tests/faults \
  --ignore=tests/e2e
wait "$checks_pid"
checked_rc=$?
echo "---- ruff, import contracts, mypy (run beside the unit and integration tests): exit $checked_rc ----"
cat "$checks_log"
rm -f "$checks_log"
failed=$((first != 0 || checked_rc != 0))
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  rc=$?
  echo "---- ${names[$i]} (run beside the others): exit $rc, $(($(cat "${logs[$i]}.ended") - starts[i])) s from \
$((starts[i] - began)) s on ----"
  cat "${logs[$i]}"
  rm -f "${logs[$i]}" "${logs[$i]}.ended"
  ((rc == 0)) || failed=1
done
echo "make test: everything took $(($(date +%s) - began)) s, $( ((failed)) && echo FAILED || echo passed)"
((failed == 0))
