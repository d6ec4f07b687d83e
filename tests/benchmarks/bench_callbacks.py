"""Callbacks at rate (issue 13, target 4): how many callbacks per second the workers dispatch, exactly once.

Run: .venv/bin/python -m tests.benchmarks.bench_callbacks [--callbacks 40] [--postgres] [--fork]

Starts redis-server, the database, the service (tests.e2e.stack.running_stack: uvicorn, the Twilio emulator)
and two `callrouter worker` processes as the Procfile starts them (RQ's SimpleWorker; --fork: RQ's forking
Worker, a process per job, for comparison). The directory gets `--callbacks` extra UWV liaisons for WW, all
away; as many callbacks are asked (through the service layer, as the console does) for as many caseworker
phones. Then every liaison goes available at once (the JSON API, as their console does) and the clock runs
until every liaison's phone has rung: dispatched callbacks per second, from the first liaison made
available to the last liaison dialled.

Exactly once, in the same run: one worker is SIGKILLed after a third of the dials (a new one and the
reconciler take over), and every callback's attempt job is enqueued a second time once it is dialling.
Every liaison and every caseworker phone must then have rung exactly once, and every callback completed.
There is no outbound pacing setting on this branch (another branch adds one): measured with pacing off,
and the emulator places calls without a limit of its own. Exits 1 below the target or on a double dial.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml
from rq import Queue

from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.bootstrap import build
from callrouter.config import Settings
from callrouter.domain.callbacks import CallbackOrigin, CallbackState
from callrouter.domain.calls import CallRecord, CallState
from callrouter.services.callbacks.lifecycle import request_callback
from tests.benchmarks.bench_webhooks import database
from tests.e2e.stack import FAST_PINS, PROFESSIONAL_LINE, Stack, running_stack
from tests.servers import redis_server
from twilio_emulator.people import Phone

TARGET_PER_SECOND = 10.0


def with_bench_liaisons(directory: Path, count: int) -> list[str]:
    """Adds `count` UWV liaisons for WW (client:bench-NNN) to the directory file; returns their codes."""
    data = yaml.safe_load(directory.read_text())
    codes = [f"bench-{i:03d}" for i in range(count)]
    data["liaisons"].extend({"code": code, "name": f"Bench {code}", "organisation": "UWV", "topics": ["ww"],
                             "address": f"client:{code}"} for code in codes)
    directory.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return codes


def worker(stack: Stack, *, fork: bool) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "callrouter.cli", "worker", "--logging-level", "WARNING",
                             *(["--fork"] if fork else []), "callrouter"],
                            env=stack.env, cwd=stack_root(), start_new_session=True)
    stack.workers.append(proc)
    return proc


def stack_root() -> Path:
    from tests.e2e.stack import ROOT
    return ROOT


def wait(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-bench-callbacks-"))
    settings = {"CALLROUTER_CALLBACK_RETRY_DELAY_SECONDS": "2", "CALLROUTER_CALLBACK_MAX_ATTEMPTS": "3",
                "CALLROUTER_LOG_LEVEL": "ERROR"}
    try:
        with redis_server() as redis_url, database(args.postgres, workdir) as db_url, \
                running_stack(redis_url=redis_url, database_url=db_url, workdir=workdir, settings=settings) as stack:
            directory = workdir / "directory.yaml"
            codes = with_bench_liaisons(directory, args.callbacks)
            sessions = make_session_factory(make_engine(db_url))
            import_directory(path=directory, session_factory=sessions, hasher=FAST_PINS)
            container = build(Settings(**{k.removeprefix("CALLROUTER_").lower(): v for k, v in stack.env.items()
                                          if k.startswith("CALLROUTER_")}))
            deps = container.voice
            phones = [f"+316200{i:05d}" for i in range(args.callbacks)]
            for code in codes:
                stack.phone(code, Phone("answer", answer_after=0.5, talk_seconds=1, whisper_digits=["1"]))
                assert stack.set_presence(code, "away").status_code == 200
            for number in phones:
                stack.emulator.register_phone(number, Phone("answer", answer_after=0.5, talk_seconds=1))
            now = deps.clock.now()
            callbacks = []
            for i, number in enumerate(phones):
                record = CallRecord(sid=f"CA{i:032x}", line_number=PROFESSIONAL_LINE, line_kind="professional",
                                    caller_pseudonym=f"bench{i}", caller_masked="+316*****", state=CallState.QUEUED,
                                    received_at=now, organisation="UWV", topic="ww",
                                    queued_at=now - timedelta(seconds=args.callbacks - i))
                callback, created = request_callback(deps, record=record, origin=CallbackOrigin.CONSOLE,
                                                     phone_number=number)
                assert created
                callbacks.append(callback.id)
            store = SqlCallbackStore(sessions)
            liaison_addresses = [f"client:{code}" for code in codes]
            workers = [worker(stack, fork=args.fork) for _ in range(2)]
            time.sleep(3)  # the workers are up (importing the service takes a moment)
            queue = Queue("callrouter", connection=container.redis)

            dialled = lambda: sum(stack.emulator.dials_to(a) > 0 for a in liaison_addresses)  # noqa: E731
            started = time.perf_counter()
            for code in codes:
                assert stack.set_presence(code, "available").status_code == 200
            killed = False
            duplicated: set[int] = set()
            while dialled() < len(codes):
                if not killed and dialled() >= len(codes) // 3:
                    stack.kill_worker(workers[0])  # mid-run: jobs in its hands are lost with it
                    worker(stack, fork=args.fork)
                    for _ in range(3):
                        queue.enqueue("workers.jobs.reconcile_live_state")
                    killed = True
                for cb_id in callbacks:  # a duplicate of each attempt's job, once it is dialling
                    if cb_id in duplicated:
                        continue
                    current = store.get(cb_id)
                    if current is not None and current.state == CallbackState.DIALLING and current.liaison_id:
                        queue.enqueue("workers.jobs.start_callback_attempt", cb_id, current.liaison_id)
                        duplicated.add(cb_id)
                if time.perf_counter() - started > args.timeout:
                    raise RuntimeError(f"only {dialled()} of {len(codes)} liaisons dialled in {args.timeout} s")
                time.sleep(0.01)
            took = time.perf_counter() - started
            for _ in range(2):
                queue.enqueue("workers.jobs.reconcile_live_state")

            def settled() -> bool:
                return all((c := store.get(cb_id)) is not None and c.state == CallbackState.COMPLETED
                           for cb_id in callbacks)
            wait(settled, timeout=120, what="every callback to complete")
            time.sleep(2)  # late duplicates would dial now
            liaison_dials = [stack.emulator.dials_to(a) for a in liaison_addresses]
            caller_dials = [stack.emulator.dials_to(n) for n in phones]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rate = len(codes) / took
    doubles = sum(n > 1 for n in liaison_dials) + sum(n > 1 for n in caller_dials)
    print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, {'forking Worker' if args.fork else 'SimpleWorker'} x2, "
          f"{len(codes)} callbacks, {len(codes)} liaisons made available at once; no outbound pacing (pacing off: "
          "the setting is not on this branch), emulator without a limit")
    print(f"dispatched: {len(codes)} in {took:.2f} s = {rate:.1f} callbacks/s (target >= {TARGET_PER_SECOND:g}); "
          f"one worker killed mid-run, {len(duplicated)} duplicate attempt jobs")
    print(f"dials: liaisons {sum(liaison_dials)} (max {max(liaison_dials)} each), caseworkers {sum(caller_dials)} "
          f"(max {max(caller_dials)} each); double dials: {doubles}")
    if doubles:
        print("EXACTLY ONCE BROKEN: someone was dialled twice")
        return 1
    return 0 if rate >= TARGET_PER_SECOND else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callbacks", type=int, default=40)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--fork", action="store_true", help="RQ's forking Worker instead of SimpleWorker")
    parser.add_argument("--timeout", type=float, default=180)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
