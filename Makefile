# callrouter: `make run` starts the service locally, `make test` runs every test.
# The shell logic is in scripts/; each step installs only what is missing.

.DEFAULT_GOAL := help
.NOTPARALLEL:
SHELL := /bin/bash

VENV  := .venv
STAMP := $(VENV)/.callrouter-installed
PYTEST_ARGS ?=
DEMO_DAY_ARGS ?=

.PHONY: help run demo-day test lint typecheck bench deps venv lock clean

help: ## list the targets
	@echo "make <target>:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 12

run: $(STAMP) ## start Redis, migrate, load demo/directory.yaml, run web + worker + emulator
	@bash scripts/run.sh

demo-day: $(STAMP) ## play a working day at high speed into the dashboard (make run's Redis and database; DEMO_DAY_ARGS=--help)
	@.venv/bin/callrouter db upgrade >/dev/null && .venv/bin/callrouter demo day $(DEMO_DAY_ARGS)

test: deps $(STAMP) ## install what is missing, then run all tests (PYTEST_ARGS=... for pytest)
	@bash scripts/test.sh $(PYTEST_ARGS)

lint: $(STAMP) ## ruff on the code and the tests, then mypy --strict (make typecheck)
	@.venv/bin/ruff check callrouter workers twilio_emulator tests
	@.venv/bin/mypy callrouter workers

typecheck: $(STAMP) ## mypy --strict with the pydantic plugin on callrouter and workers (settings in pyproject.toml)
	@.venv/bin/mypy callrouter workers

bench: $(STAMP) ## run tests/benchmarks/bench_*.py (BENCH=routing for one)
	@bash scripts/install-deps.sh redis postgres wrk
	@bash scripts/bench.sh

deps: ## Debian packages for tests: redis-server, postgresql, chromium, chromium-driver, haproxy
	@bash scripts/install-deps.sh python redis postgres chromium haproxy

venv: $(STAMP) ## the Python venv .venv from requirements.lock, reinstalled when it or pyproject.toml changes

lock: ## rewrite requirements.lock and requirements-pip.lock from pyproject.toml (PyPI, with hashes; UPGRADE=1 for newer)
	@bash scripts/lock.sh

$(STAMP): pyproject.toml requirements.lock requirements-pip.lock scripts/venv.sh
	@bash scripts/install-deps.sh python
	@bash scripts/venv.sh

clean: ## remove local state (var/: SQLite file, Redis data); keeps .venv
	rm -rf var
