"""Whole calls end to end: caseworkers through identification, menus, the queue, routing, the whisper, the bridge
and the status callbacks, against the stack as deployed, at several levels of simultaneous calls.

Run: .venv/bin/python -m tests.benchmarks.bench_whole_call [--quick] [--bridge dial|conference|both]
     [--levels 10,50,200] [--liaisons 10] [--postgres]

The stack is tests/e2e/stack.py's: uvicorn with 2 worker processes, an RQ worker, a Redis of its own, SQLite
(--postgres: a PostgreSQL of its own per bridge, tests/servers.py), and the Twilio emulator. Ten UWV liaisons (every UWV topic) answer after 0.5 s and talk 4 s (simulated);
each caseworker (a registered phone at the Amsterdam counter) presses # (no case reference), 1 (UWV) and 1
(WW), waits in line, talks, and stays silent at the verdict question. A level keeps that many calls in flight (a new
one starts when one ends, at most 10 new calls a second) until it has placed 30 more than its level (10 with --quick) and all have ended.

The emulator runs at 2x real time (its hold loop asks the wait webhook every 5 simulated seconds, so 200
waiting callers make 80 wait webhooks/s, twice what Twilio would send) with prompts spoken 10x faster than
by default, so the menus do not dominate a call. Outbound pacing is raised (the service to 100 calls/s, the
emulator unpaced): the conference bridge creates the liaison's leg through the REST API.

Measured from the emulator's transcripts (its clock, real seconds = simulated / time scale):
- completed calls per minute (wall clock of the level);
- webhook p50/p99 per path (the emulator times every request it makes, status callbacks included);
- routing time: from "a liaison is free and a call waits" to the REST redirect of that call: from the later of
  (the call's <Enqueue> began: it waits in Twilio's queue; the service learns it from the wait webhook that
  follows at once) and (the hang-up of the previous leg to the liaison the call is given: the moment that
  liaison was free) to the emulator's `redirected` event for the call. With the conference bridge the caller's
  transcript does not name the liaison (its leg is a REST call): the liaison is that of the leg placed into the
  call's room nearest the redirect (its whisper URL names the call), free from the hang-up of their leg before.
Targets: routing p99 <= 250 ms with 50 calls in flight, and p99 at 200 <= 2x p99 at 10. Exits 1 if missed, or
if a level had application errors (the run says nothing about routing then).
"""

from __future__ import annotations

import argparse
import re
import statistics as stats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.config import Settings
from tests.benchmarks.bench_webhooks import DEPLOYED_SETTINGS
from tests.e2e.stack import FAST_PINS, PROFESSIONAL_LINE, Stack, open_all_hours_directory, running_stack
from tests.servers import postgres_server, redis_server
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import CallerScript, Phone

TIME_SCALE = 2.0
SAY_SECONDS_PER_CHAR = 0.005  # a tenth of the emulator's default
# As deployed (DEPLOYED_SETTINGS), each process keeps the directory for this long; the end-to-end stack turns the
# cache off, so that every webhook read the directory from SQL again: not the service as deployed.
DIRECTORY_CACHE_SECONDS = Settings.model_fields["directory_cache_seconds"].default
DIGITS = ["#", "1", "1"]  # no case reference, UWV, WW (silent in line and at the verdict question)
ROUTING_P99_TARGET_MS, GROWTH_TARGET = 250.0, 2.0
LEVEL_FOR_TARGET = 50
NEW_CALLS_PER_SECOND = 10
TURN = re.compile(r"^/turn/[^/]+")  # a turn token before the path (one path per route in the table)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_directory(target: Path, *, liaisons: int, caseworkers: int) -> tuple[Path, list[str], list[str]]:
    """The demo directory (open all hours) with UWV's liaisons replaced by `liaisons` bench liaisons, and
    `caseworkers` more caseworkers at Amsterdam, each with a registered phone. Their addresses and phones."""
    data = yaml.safe_load(open_all_hours_directory(target).read_text())
    codes = [f"uwv-bench-{i:02d}" for i in range(liaisons)]
    data["liaisons"] = [entry for entry in data["liaisons"] if entry["organisation"] != "UWV"] + [
        {"code": code, "name": f"Bench {code}", "organisation": "UWV", "topics": ["ww", "wia", "ziektewet"],
         "address": f"client:{code}"} for code in codes]
    phones = [f"+316130{i:05d}" for i in range(caseworkers)]
    data["caseworkers"] += [{"code": str(5000 + i), "name": f"Bench caseworker {i}", "location": "AMS",
                             "phones": [phone]} for i, phone in enumerate(phones)]
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return target, codes, phones


@dataclass
class Level:
    in_flight: int
    calls: list[CallHandle] = field(default_factory=list)
    seconds: float = 0.0


def run_level(stack: Stack, *, in_flight: int, total: int, phones: list[str], timeout: float) -> Level:
    """Keep `in_flight` calls going until `total` have been placed and all have ended; new calls at most
    NEW_CALLS_PER_SECOND (a level builds up as a busy morning does, not as one burst)."""
    level = Level(in_flight)
    running: list[CallHandle] = []
    started = time.perf_counter()
    deadline = started + timeout
    while len(level.calls) < total or running:
        running = [call for call in running if not call.done]
        allowed = int((time.perf_counter() - started) * NEW_CALLS_PER_SECOND) + 1
        while len(running) < in_flight and len(level.calls) < min(total, allowed):
            phone = phones[len(level.calls) % len(phones)]
            call = stack.emulator.place_call(from_=phone, to=PROFESSIONAL_LINE,
                                             script=CallerScript(digits=list(DIGITS)))
            running.append(call)
            level.calls.append(call)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{len(running)} calls of level {in_flight} still running after {timeout:.0f} s")
        time.sleep(0.02)
    level.seconds = time.perf_counter() - started
    return level


def room_legs(stack: Stack) -> dict[str, list[CallHandle]]:
    """The liaison legs the conference bridge placed by REST, by the caller's CallSid (the `call` parameter of the
    whisper URL each was created with), in the order they were placed."""
    placed: dict[str, list[CallHandle]] = defaultdict(list)
    for leg in stack.emulator.calls:
        if leg.direction == "outbound-api" and leg.url and leg.transcript:
            query = parse_qs(urlsplit(leg.url).query)
            if query.get("via") == ["room"] and query.get("call"):
                placed[query["call"][0]].append(leg)
    for legs in placed.values():
        legs.sort(key=lambda leg: leg.transcript[0].t)
    return placed


def talked(call: CallHandle) -> bool:
    """The caller talked with a liaison: a <Dial> bridge, or their room started (a liaison was in it with them)."""
    return bool(call.events("bridged") or call.events("conference_started"))


def routing_ms(stack: Stack, calls: list[CallHandle], *, since: float) -> list[float]:
    """One sample per redirect of a waiting call (see the module docstring); emulator events after `since`."""
    freed: dict[str, list[float]] = defaultdict(list)  # liaison address -> moments a leg to it hung up
    for leg in stack.emulator.calls:
        if leg.direction != "inbound":
            freed[leg.to] += [e.t for e in leg.transcript if e.kind == "hangup"]
    in_room = room_legs(stack)
    samples = []
    for call in calls:
        transcript = list(call.transcript)
        queued_at = None
        for index, event in enumerate(transcript):
            if event.kind == "enqueued" and queued_at is None:
                queued_at = event.t
            elif event.kind == "redirected" and queued_at is not None:
                liaison = next((e for e in transcript[index:] if e.kind in ("dialing", "dial_started")), None)
                address = (liaison.get("to") if liaison and liaison.kind == "dialing"
                           else (liaison.get("to") or [None])[0] if liaison else None)
                before = event.t
                if address is None or address.startswith("conference:"):
                    # the room's liaison leg is a REST call: the one placed for this call nearest the redirect
                    nearest = min(in_room.get(call.sid, []), key=lambda leg: abs(leg.transcript[0].t - event.t),
                                  default=None)
                    if nearest is not None:
                        address, before = nearest.to, min(event.t, nearest.transcript[0].t)
                free = max((t for t in freed.get(address or "", []) if t <= before), default=since)
                start = max(queued_at, free)
                samples.append((event.t - start) / TIME_SCALE * 1000)
                queued_at = None
    return samples


def webhook_latencies(stack: Stack, *, since: float) -> dict[str, list[float]]:
    """Milliseconds per webhook path (status callbacks included), for requests after `since` (emulator time)."""
    found: dict[str, list[float]] = defaultdict(list)
    for leg in stack.emulator.calls:
        for event in list(leg.transcript):
            if event.kind in ("webhook", "status_callback") and event.t >= since:
                found[TURN.sub("", urlsplit(event["url"]).path)].append(event["seconds"] * 1000)
    return found


@contextmanager
def database(postgres: bool, workdir: Path) -> Iterator[str]:
    """A SQLite file in `workdir`, or a PostgreSQL of its own (started for this stack, so empty)."""
    if not postgres:
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    with postgres_server() as url:
        yield url


@contextmanager
def bench_stack(*, bridge: str, liaisons: int, caseworkers: int,
                postgres: bool = False) -> Iterator[tuple[Stack, list[str], list[str]]]:
    with redis_server() as redis_url, tempfile.TemporaryDirectory(prefix="bench-whole-call-") as folder, \
            database(postgres, Path(folder)) as database_url:
        workdir = Path(folder)
        settings = {"CALLROUTER_BRIDGE": bridge, "CALLROUTER_OUTBOUND_CALLS_PER_SECOND": "100",
                    "CALLROUTER_WIDEN_AFTER_SECONDS": "30", **DEPLOYED_SETTINGS}
        options = {"say_seconds_per_char": SAY_SECONDS_PER_CHAR, "calls_per_second": None}
        with running_stack(redis_url=redis_url, database_url=database_url,
                           workdir=workdir, time_scale=TIME_SCALE, settings=settings,
                           emulator_options=options) as stack:
            path, codes, phones = bench_directory(workdir / "bench-directory.yaml", liaisons=liaisons,
                                                  caseworkers=caseworkers)
            engine = make_engine(stack.database_url)
            import_directory(path=path, session_factory=make_session_factory(engine), hasher=FAST_PINS)
            engine.dispose()
            time.sleep(DIRECTORY_CACHE_SECONDS + 0.5)  # every process sees the imported directory
            stack.start_worker()
            for code in codes:
                stack.phone(code, Phone("answer", answer_after=0.5, talk_seconds=4))
                response = stack.set_presence(code, "available")
                assert response.status_code == 200, response.text
            yield stack, codes, phones


def measure(bridge: str, *, levels: list[int], liaisons: int, quick: bool, postgres: bool = False) -> dict[int, float]:
    """Print one bridge's table; the routing p99 (ms) per level (NaN for a level with application errors: the
    service missed Twilio's 15 s or failed, so the calls that got through say nothing about routing)."""
    print(f"\nbridge {bridge} on {'PostgreSQL' if postgres else 'SQLite'}: {liaisons} liaisons, levels {levels}, "
          f"new calls at most {NEW_CALLS_PER_SECOND}/s, "
          f"time scale {TIME_SCALE}x, outbound pacing raised (service 100/s, emulator unpaced)")
    p99s = {}
    with bench_stack(bridge=bridge, liaisons=liaisons, caseworkers=max(levels), postgres=postgres) as (
            stack, _codes, phones):
        for in_flight in levels:
            total = in_flight + (10 if quick else 30)
            since = stack.emulator.engine.clock.now()
            level = run_level(stack, in_flight=in_flight, total=total, phones=phones, timeout=600)
            completed = [c for c in level.calls if talked(c)]
            errors = sum(1 for c in level.calls if c.events("application_error"))
            routing = routing_ms(stack, level.calls, since=since)
            p99s[in_flight] = percentile(routing, 99) if not errors else float("nan")
            print(f"\n  {in_flight} calls in flight: {len(level.calls)} calls in {level.seconds:.1f} s, "
                  f"{len(completed)} bridged ({len(completed) / level.seconds * 60:.0f} completed calls/min), "
                  f"{errors} with an application error")
            print(f"  routing time (ms): n={len(routing)} p50 {percentile(routing, 50):.0f}  "
                  f"p99 {percentile(routing, 99):.0f}  max {max(routing, default=float('nan')):.0f}")
            print(f"  {'webhook path':<44}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}")
            for path, values in sorted(webhook_latencies(stack, since=since).items()):
                print(f"  {path:<44}{len(values):>6}{stats.median(values):>9.1f}{percentile(values, 99):>9.1f}")
    return p99s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 calls after each level's first wave (30 without)")
    parser.add_argument("--bridge", choices=("dial", "conference", "both"), default="dial")
    parser.add_argument("--levels", default="10,50,200")
    parser.add_argument("--liaisons", type=int, default=10)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]
    began = time.perf_counter()
    missed = []
    for bridge in ("dial", "conference") if args.bridge == "both" else (args.bridge,):
        p99s = measure(bridge, levels=levels, liaisons=args.liaisons, quick=args.quick, postgres=args.postgres)
        at_target = p99s.get(LEVEL_FOR_TARGET)
        growth = p99s[max(levels)] / p99s[min(levels)] if p99s[min(levels)] > 0 else float("inf")
        print(f"\n  {bridge}: routing p99 at {LEVEL_FOR_TARGET} in flight "
              f"{at_target if at_target is not None else float('nan'):.0f} ms (target <= {ROUTING_P99_TARGET_MS:.0f}); "
              f"p99 {max(levels)} / {min(levels)} in flight {growth:.2f} (target <= {GROWTH_TARGET})")
        if at_target is None or not at_target <= ROUTING_P99_TARGET_MS or not growth <= GROWTH_TARGET:
            missed.append(bridge)
    print(f"\ntotal run {time.perf_counter() - began:.0f} s" + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
