#!/usr/bin/env bash
# Run each tests/benchmarks/bench_*.py as a module (python -m tests.benchmarks.bench_x).
# BENCH=routing runs only bench_routing. Runs every one, then exits 1 naming those that missed their target.
set -euo pipefail
cd "$(dirname "$0")/.."

shopt -s nullglob
files=(tests/benchmarks/bench_*.py)
if [[ -n ${BENCH:-} ]]; then
  files=(tests/benchmarks/bench_"${BENCH#bench_}".py)
  [[ -f ${files[0]} ]] || { echo "bench: no ${files[0]}" >&2; exit 1; }
fi
if ((${#files[@]} == 0)); then
  echo "bench: no tests/benchmarks/bench_*.py yet"
  exit 0
fi
# Benchmarks that also run a second time with these arguments (their other database).
declare -A again=([tests.benchmarks.bench_webhooks]="--postgres" [tests.benchmarks.bench_callbacks]="--postgres"
                  [tests.benchmarks.bench_statistics]="--postgres")
missed=()
for file in "${files[@]}"; do
  module=tests.benchmarks.$(basename "$file" .py)
  echo "== python -m $module"
  .venv/bin/python -m "$module" || missed+=("$module")
  if [[ -n ${again[$module]:-} ]]; then
    echo "== python -m $module ${again[$module]}"
    # shellcheck disable=SC2086
    .venv/bin/python -m "$module" ${again[$module]} || missed+=("$module ${again[$module]}")
  fi
done
if ((${#missed[@]})); then
  echo "bench: target missed (or run invalid): ${missed[*]}"
  exit 1
fi
