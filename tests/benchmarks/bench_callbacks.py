"""Callbacks at rate (issue 13, target 4): how many callbacks per second the workers dispatch, exactly once.

Run: .venv/bin/python -m tests.benchmarks.bench_callbacks [--callbacks 40] [--postgres] [--fork]

Starts redis-server, the database, the service (tests.e2e.stack.running_stack: uvicorn, the Twilio emulator)
and `--workers` (2) `callrouter worker` processes as the Procfile starts them (RQ's SimpleWorker; --fork: RQ's forking
Worker, a process per job, for comparison). The directory gets `--callbacks` extra UWV liaisons for WW, all
away; as many callbacks are asked (through the service layer, as the console does) for as many caseworker
phones. Then every liaison goes available at once (the JSON API, as their console does, 8 at a time) and the clock runs
until the liaisons' phones have rung once per callback: dispatched callbacks per second, from the first
liaison made available to the last callback's liaison dialled.

Exactly once, in the same run: one worker is SIGKILLed after a third of the dials (a new one and the
reconciler take over), and every callback's attempt job is enqueued a second time once it is dialling.
Every callback must then have completed, having rung one liaison and its caseworker's phone exactly once.
Outbound pacing on, as deployed: the service places at most `--cps` (25) calls a second across its
processes (CALLROUTER_OUTBOUND_CALLS_PER_SECOND; Twilio's 1 by default, raised on request), and the run checks
from the emulator's record that no second saw more; the emulator's own pacing is lifted, so the service's is
what holds. Exits 1 below the target, on a double dial, or when the pace was exceeded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import yaml
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry

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
from twilio_emulator.config import EmulatorConfig
from twilio_emulator.people import Phone
from workers.jobs import RECONCILE_EVERY_SECONDS

TARGET_PER_SECOND = 10.0
# The emulator paces REST-created calls like Twilio's default 1 call per second where it can (newer
# emulators): lifted here, and said so in the output, so the service's own rate is what is measured.
EMULATOR_UNPACED: dict[str, object] = (
    {"calls_per_second": 0} if "calls_per_second" in {f.name for f in fields(EmulatorConfig)} else {})


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
                "CALLROUTER_LOG_LEVEL": "ERROR", "CALLROUTER_OUTBOUND_CALLS_PER_SECOND": str(args.cps)}
    try:
        with redis_server() as redis_url, database(args.postgres, workdir) as db_url, \
                running_stack(redis_url=redis_url, database_url=db_url, workdir=workdir, settings=settings,
                              emulator_options=EMULATOR_UNPACED) as stack:
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
            try:
                result = dispatch_all(args, stack, container, sessions, codes, phones, callbacks)
            finally:
                for proc in list(stack.workers):  # also when something failed: no worker outlives its Redis
                    stack.kill_worker(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report(args, *result)


def dispatch_all(args, stack, container, sessions, codes, phones, callbacks):  # type: ignore[no-untyped-def]
    """Every liaison available at once; the workers dispatch; one killed, duplicates enqueued."""
    if True:
        if True:
            store = SqlCallbackStore(sessions)
            liaison_addresses = [f"client:{code}" for code in codes]
            workers = [worker(stack, fork=args.fork) for _ in range(args.workers)]
            queue = Queue("callrouter", connection=container.redis)
            # The reconciler once before the run, as `callrouter cron` has done long before on a deployed service:
            # it marks the live state as present (a first reconcile rebuilds Redis from SQL, and mid-run that
            # rebuild would hand back every claimed attempt). Each worker also builds its services on it.
            # --rebuild-mid-run leaves it out: the fault path (a rebuild while attempts are claimed) is measured.
            first = [queue.enqueue("workers.jobs.reconcile_live_state") for _ in range(args.workers)
                     if not args.rebuild_mid_run]
            wait(lambda: all(j.get_status(refresh=True) == "finished" for j in first), timeout=60,
                 what="the first reconcile")

            dialled = lambda: sum(stack.emulator.dials_to(a) for a in liaison_addresses)  # noqa: E731
            started = time.perf_counter()
            pool = ThreadPoolExecutor(max_workers=8)  # liaisons click at once, each in their own console
            presences = [pool.submit(stack.set_presence, code, "available") for code in codes]
            killed = False
            duplicated: set[int] = set()
            reached: dict[int, float] = {}  # number of liaison dials -> when it was first seen
            next_reconcile = 0.0
            while (count := dialled()) < len(codes):
                now = time.perf_counter()
                reached.setdefault(count, now - started)
                if not killed and args.kill and count >= len(codes) // 3:
                    stack.kill_worker(workers[0])  # mid-run: the job in its hands is lost with it
                    worker(stack, fork=args.fork)
                    killed = True
                if killed and now >= next_reconcile:  # as `callrouter cron` does (workers/cron.py)
                    queue.enqueue("workers.jobs.reconcile_live_state")
                    next_reconcile = now + RECONCILE_EVERY_SECONDS
                # A duplicate of each attempt's job once it is dialling (one query: the emulator shares this
                # process, and a busy poll here would slow its answers down).
                for current in store.in_states(frozenset({CallbackState.DIALLING})):
                    if current.id not in duplicated and current.liaison_id:
                        queue.enqueue("workers.jobs.start_callback_attempt", current.id, current.liaison_id)
                        duplicated.add(current.id)
                if now - started > args.timeout:
                    states = Counter(c.state.value for cb_id in callbacks if (c := store.get(cb_id)))
                    raise RuntimeError(f"only {count} of {len(codes)} liaisons dialled in {args.timeout} s; "
                                       f"callbacks {dict(states)}, {len(queue)} jobs queued")
                time.sleep(0.1)
            took = time.perf_counter() - started
            reached[len(codes)] = took
            # Attempts claimed by the killed worker but never placed wait for the reconciler (after the dial
            # timeout and a margin): the rate is taken over the others, the whole run is shown beside it.
            lost = sum(any(e.cause == "attempt never placed" for e in store.events(cb_id)) for cb_id in callbacks)
            steady = len(codes) - lost
            steady_took = min((t for n, t in reached.items() if n >= steady), default=took)
            pool.shutdown()
            jobs = [j for j in (Job.fetch(i, connection=container.redis) for i in
                                FinishedJobRegistry(queue=queue).get_job_ids())
                    if j.func_name.endswith("start_callback_attempt") and j.started_at and j.ended_at]
            if jobs:
                runs = sorted((j.ended_at - j.started_at).total_seconds() for j in jobs)  # type: ignore[operator]
                waits = sorted((j.started_at - j.enqueued_at).total_seconds() for j in jobs)  # type: ignore[operator]
                print(f"attempt jobs: {len(jobs)}, run p50 {runs[len(runs) // 2] * 1e3:.0f} ms max {runs[-1] * 1e3:.0f} ms;"
                      f" queued p50 {waits[len(waits) // 2] * 1e3:.0f} ms max {waits[-1] * 1e3:.0f} ms")
                dialled_runs = sorted((j.ended_at - j.started_at).total_seconds()  # type: ignore[operator]
                                      for j in jobs if j.return_value() is True)
                if dialled_runs:
                    print(f"    of them {len(dialled_runs)} dialled a liaison: run p50 "
                          f"{dialled_runs[len(dialled_runs) // 2] * 1e3:.0f} ms max {dialled_runs[-1] * 1e3:.0f} ms")
            available_in = max(f.result().elapsed.total_seconds() for f in presences)
            assert {f.result().status_code for f in presences} == {200}
            for cb_id in callbacks:  # and a late duplicate of every attempt's job: the callback is taken
                current = store.get(cb_id)
                if current is not None and current.liaison_id:
                    queue.enqueue("workers.jobs.start_callback_attempt", cb_id, current.liaison_id)
                    duplicated.add(cb_id)
            for _ in range(2):
                queue.enqueue("workers.jobs.reconcile_live_state")

            def settled() -> bool:
                return all((c := store.get(cb_id)) is not None and c.state == CallbackState.COMPLETED
                           for cb_id in callbacks)
            wait(settled, timeout=120, what="every callback to complete")
            time.sleep(2)  # late duplicates would dial now
            liaison_dials = [stack.emulator.dials_to(a) for a in liaison_addresses]
            caller_dials = [stack.emulator.dials_to(n) for n in phones]
            for cb_id in callbacks:  # what happened to a callback that took more than one attempt
                final = store.get(cb_id)
                if final is not None and final.attempts > 1:
                    causes = "; ".join(f"{e.to_state}: {e.cause}" for e in store.events(cb_id))
                    print(f"callback {cb_id}: {final.attempts} attempts ({causes})")
            if max(liaison_dials) > 1:
                print(f"liaisons rung more than once (for several callbacks, or twice for one): "
                      f"{sum(n > 1 for n in liaison_dials)}")
    print(f"(the slowest presence change took {available_in:.2f} s)")
    for code, dials in zip(codes, liaison_dials, strict=True):  # which liaison rang more often than it took a callback
        took_callbacks = [cb_id for cb_id in callbacks if (c := store.get(cb_id)) is not None
                          and c.liaison_id == stack.liaison_id(code)]
        if dials != len(took_callbacks):
            print(f"liaison {code}: rung {dials} times, the last liaison of callbacks {took_callbacks}: "
                  + " | ".join(f"{cb_id}: " + "; ".join(f"{e.to_state}: {e.cause}" for e in store.events(cb_id))
                               for cb_id in took_callbacks))
    starts = sorted(c.created_at for c in stack.emulator.engine.calls.values()
                    if c.direction == "outbound-api" and c.to.startswith("client:bench-"))
    scale = stack.emulator.engine.clock.scale
    if starts:
        per_half = Counter(int((t - starts[0]) / scale * 2) for t in starts)
        print("liaison dials per half second from the first: "
              + " ".join(str(per_half.get(i, 0)) for i in range(max(per_half) + 1)))
    busiest = busiest_second(stack)
    print(f"outbound pace: at most {busiest} calls placed in any second (the setting: {args.cps:g}/s)")
    return codes, (steady, steady_took, took), liaison_dials, caller_dials, duplicated, busiest


def busiest_second(stack: Stack) -> int:
    """The most REST-created calls the emulator saw start in one second of real time (its clock runs faster)."""
    engine = stack.emulator.engine
    with engine.lock:
        created = sorted(c.created_at for c in engine.calls.values() if c.direction == "outbound-api")
    window, most, first = engine.clock.scale, 0, 0  # one real second in the emulator's seconds
    for last, at in enumerate(created):
        while at - created[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def report(args: argparse.Namespace, codes: list[str], timing: tuple[int, float, float], liaison_dials: list[int],
           caller_dials: list[int], duplicated: set[int], busiest: int) -> int:
    steady, steady_took, took = timing
    rate = steady / steady_took
    # A liaison may take several callbacks (one after another); each callback rings one liaison and its caller once.
    doubles = max(sum(liaison_dials) - len(codes), 0) + sum(n > 1 for n in caller_dials)
    print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, {'forking Worker' if args.fork else 'SimpleWorker'} x{args.workers}, "
          f"{len(codes)} callbacks, {len(codes)} liaisons made available at once; outbound pacing "
          f"{args.cps:g} calls/s (raised from Twilio's default 1 for the benchmark), "
          f"{'the emulator pacing lifted (calls_per_second=0)' if EMULATOR_UNPACED else 'emulator without a limit'}")
    print(f"dispatched: {steady} in {steady_took:.2f} s = {rate:.1f} callbacks/s (target >= {TARGET_PER_SECOND:g}); "
          f"all {len(codes)} in {took:.1f} s ({len(codes) - steady} lost with the killed worker, placed by the "
          "reconciler after the dial timeout)")
    print(f"    "
          f"{'one worker killed mid-run, ' if args.kill else ''}{len(duplicated)} duplicate attempt jobs")
    print(f"dials: liaisons {sum(liaison_dials)} for {len(codes)} callbacks, caseworkers {sum(caller_dials)} "
          f"(max {max(caller_dials)} each); double dials: {doubles}")
    if doubles:
        print("EXACTLY ONCE BROKEN: someone was dialled twice")
        return 1
    if busiest > args.cps + 1:  # a window may straddle two slots' edges
        print(f"OUTBOUND PACE EXCEEDED: {busiest} calls in one second at {args.cps:g}/s")
        return 1
    return 0 if rate >= TARGET_PER_SECOND else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callbacks", type=int, default=40)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--fork", action="store_true", help="RQ's forking Worker instead of SimpleWorker")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--rebuild-mid-run", action="store_true",
                        help="no reconcile before the run: the first one, after the kill, rebuilds Redis from SQL")
    parser.add_argument("--cps", type=float, default=25, help="the service's outbound calls per second (pacing)")
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="kill no worker mid-run")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
