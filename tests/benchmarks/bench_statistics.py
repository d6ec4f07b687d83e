"""Dashboard, cases and drill-down queries and one interval's rollup, with 10 thousand and with 10 million call
events, on SQLite or PostgreSQL.

Run: .venv/bin/python -m tests.benchmarks.bench_statistics [--postgres] [--events 10000000]
     (SQLite files in a temporary folder; --postgres: a PostgreSQL of its own, tests/servers.py, one database each)

Both databases hold the same recent week (about 10 000 call events from a generated working week,
rolled up by the real `rollup_since`). The large one also holds three older years: 10 million call
events in all (1.25 million calls of 8 events, one bulk INSERT ... SELECT each) and their rollup rows
(generated in bulk too: the point is what a query reads, not how the history got there). Dashboard
queries ask for the recent week and its month; `rollup_interval` recomputes one busy recent
interval; `rollup_recent` is what the cron job runs; the cases report reads the week's cases; the drill-down
lists the calls behind a figure of one day and shows one call. Exits 1 if a large/small ratio (the summed
dashboard query medians, the cases and drill-down medians, the rollup median, the cron rollup median)
exceeds the target.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, text

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.adapters.sql.drilldown_repository import SqlDrilldown
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.services.statistics import cases, drilldown, statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.servers import postgres_server

AMS = ZoneInfo("Europe/Amsterdam")
SMALL_EVENTS, LARGE_EVENTS = 10_000, 10_000_000
WEEK = (date(2026, 11, 16), date(2026, 11, 22))  # the recent week (Monday to Sunday)
HISTORY = (datetime(2023, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))  # ends before the month asked for
ORGS, TOPICS, LOCATIONS = ["CAK", "CJIB", "DUO", "IND", "TSL", "SVB", "UWV"], ["a", "b", "c", "d"], ["AMS", "UTR", "ENS"]
HISTORY_ROWS_PER_INTERVAL = 8
RECENT_ID = 10_000_000
REPEATS, WARMUP = 30, 3
TARGET_RATIO = 2.0


class FixedClock:
    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@dataclass
class Sized:
    """One database of the comparison, with what the queries need."""

    engine: Engine
    stats: StatsDeps
    cases: SqlCaseStore
    drill: drilldown.DrillDeps


def recent_week(seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Calls of a working week (08:00-18:00 local, Monday to Friday) until SMALL_EVENTS events; a case per two."""
    rng = random.Random(seed)
    calls: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    day = WEEK[0]
    while len(events) < SMALL_EVENTS:
        for quarter in range(40):
            for _ in range(rng.randint(3, 9)):
                start = (datetime(day.year, day.month, day.day, 8, tzinfo=AMS)
                         + timedelta(minutes=15 * quarter, seconds=rng.uniform(0, 899))).astimezone(UTC)
                call_id = RECENT_ID + len(calls)
                case_id = RECENT_ID + len(calls) // 2
                location = rng.choice(LOCATIONS)
                if len(calls) % 2 == 0:
                    opened.append({"id": case_id, "caseworker_id": 1, "location": location, "opened_at": start,
                                   "local_day": start.astimezone(AMS).date(), "last_call_at": start, "calls": 2})
                calls.append({"id": call_id, "sid": f"R{call_id}", "line_number": "+31850001000",
                              "line_kind": "professional" if rng.random() < 0.8 else "citizen",
                              "caller_pseudonym": "p", "caller_masked": "+316****01", "state": "ended",
                              "received_at": start, "language": "nl", "menu_page": 0, "menu_tries": 0, "pin_tries": 0,
                              "last_status_seq": -1, "organisation": rng.choice(ORGS), "topic": rng.choice(TOPICS),
                              "location": location, "case_id": case_id})
                log: list[tuple[str, float, dict[str, str]]] = [
                    ("received", 0, {}), ("identified", 2, {}), ("menu_choice", 8, {}), ("menu_choice", 14, {})]
                queued, roll = 15, rng.random()
                if roll < 0.7:
                    answered = queued + rng.uniform(2, 150)
                    log += [("queued", queued, {}), ("offered", answered - 1, {}), ("answered", answered, {}),
                            ("completed", answered + rng.uniform(30, 600), {"status": "completed"})]
                elif roll < 0.85:
                    log += [("queued", queued, {}), ("abandoned", queued + rng.uniform(1, 200), {"status": "completed"})]
                elif roll < 0.9:
                    log += [("queued", queued, {}), ("callback_requested", queued + 130, {}), ("completed", 170, {})]
                else:
                    log += [("status", 20, {"status": "completed"})]
                events += [{"call_id": call_id, "at": start + timedelta(seconds=s), "kind": kind, "detail": detail}
                           for kind, s, detail in log]
        day += timedelta(days=1 if day.weekday() < 4 else 3)
    return calls, events, opened


def insert_recent(engine: Engine, recent: tuple[list[dict[str, Any]], ...]) -> None:
    calls, events, opened = recent
    with engine.begin() as conn:
        conn.execute(insert(CaseRow.__table__), opened)
        conn.execute(insert(CallRow.__table__), calls)
        conn.execute(insert(CallEventRow.__table__), events)


_KINDS = ("CASE i % 8 WHEN 0 THEN 'received' WHEN 1 THEN 'identified' WHEN 2 THEN 'menu_choice' WHEN 3 THEN "
          "'menu_choice' WHEN 4 THEN 'queued' WHEN 5 THEN 'offered' WHEN 6 THEN 'answered' ELSE 'completed' END")
_DIMS = "interval_start, organisation, topic, location, line_kind, local_day, local_hour"
_COUNTS = ("received, offered, answered, abandoned, short_abandoned, answer_ms, answer_timed, longest_wait_ms, "
           "talk_ms, talked, callbacks_requested, callbacks_completed, callbacks_failed, in_progress, "
           "outcome_answered, outcome_abandoned_in_queue, outcome_abandoned_in_menu, outcome_callback_requested, "
           "outcome_closed, outcome_no_liaison, outcome_refused, outcome_transferred, outcome_failed")
_CALL_COLUMNS = ("id, sid, line_number, line_kind, caller_pseudonym, caller_masked, state, received_at, language, "
                 "menu_page, menu_tries, pin_tries, last_status_seq, organisation, topic, location, outcome, case_id")


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs between SQLite and PostgreSQL in the bulk generator: a series n(i) of 0..:last, a
    moment :first + seconds (a timestamp as the column stores it), its UTC day and hour, the k-th of a JSON list."""

    series: str
    moment: str
    day: str
    hour: str
    pick: str


SQLITE = Dialect(
    series="WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) ",
    moment="strftime('%Y-%m-%d %H:%M:%S', :first + {s}, 'unixepoch') || '.000000'",
    day="date(:first + {s}, 'unixepoch')", hour="CAST(strftime('%H', :first + {s}, 'unixepoch') AS INTEGER)",
    pick="json_extract({names}, '$[' || ({k}) || ']')")
POSTGRES = Dialect(
    series="WITH n(i) AS (SELECT generate_series(0, CAST(:last AS bigint))) ",
    moment="to_timestamp(:first + {s})", day="CAST(to_timestamp(:first + {s}) AT TIME ZONE 'UTC' AS date)",
    hour="CAST(extract(hour FROM to_timestamp(:first + {s}) AT TIME ZONE 'UTC') AS integer)",
    pick="(CAST({names} AS json) ->> CAST({k} AS integer))")


def insert_history(engine: Engine, sql: Dialect, *, events: int) -> None:
    """Old calls (8 events each, a case per two) spread evenly over HISTORY, and rollup rows for every interval."""
    calls = events // 8
    first, last = (int(moment.timestamp()) for moment in HISTORY)
    step = (last - first) // calls
    intervals = (last - first) // 900
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO cases(id, caseworker_id, location, opened_at, local_day, last_call_at, calls) "
                          f"{sql.series}SELECT i + 1, 1, 'AMS', {sql.moment.format(s='i * 2 * :step')}, "
                          f"{sql.day.format(s='i * 2 * :step')}, {sql.moment.format(s='i * 2 * :step')}, 2 FROM n"),
                     {"last": (calls + 1) // 2 - 1, "first": first, "step": step})
        conn.execute(text(f"INSERT INTO calls({_CALL_COLUMNS}) {sql.series}SELECT i + 1, 'H' || i, '+31850001000', "
                          f"'professional', 'p', '+316****01', 'ended', {sql.moment.format(s='i * :step')}, 'nl', 0, "
                          "0, 0, -1, 'UWV', 'a', 'AMS', 'answered', i / 2 + 1 FROM n"),
                     {"last": calls - 1, "first": first, "step": step})
        conn.execute(text(f"INSERT INTO call_events(call_id, at, kind, detail) {sql.series}SELECT i / 8 + 1, "
                          f"{sql.moment.format(s='(i / 8) * :step + (i % 8) * 5')}, {_KINDS}, '{{}}' FROM n"),
                     {"last": calls * 8 - 1, "first": first, "step": step})
        rows = "(SELECT i / :per AS q, i % :per AS k FROM n) AS r"
        key = (f"{sql.moment.format(s='q * 900')}, {sql.pick.format(names=':orgs', k='k % 7')}, "
               f"{sql.pick.format(names=':topics', k='k % 4')}, {sql.pick.format(names=':locations', k='k % 3')}, "
               f"CASE k % 2 WHEN 0 THEN 'professional' ELSE 'citizen' END, {sql.day.format(s='q * 900')}, "
               f"{sql.hour.format(s='q * 900')}")
        names = {"last": intervals * HISTORY_ROWS_PER_INTERVAL - 1, "per": HISTORY_ROWS_PER_INTERVAL, "first": first,
                 "orgs": json.dumps(ORGS), "topics": json.dumps(TOPICS), "locations": json.dumps(LOCATIONS)}
        conn.execute(text(f"INSERT INTO call_stats({_DIMS}, {_COUNTS}) {sql.series}SELECT {key}, 5, 5, 4, 1, 0, "
                          f"120000, 4, 60000, 720000, 4, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0 FROM {rows}"), names)
        for threshold, answered in ((20, 2), (60, 3), (120, 4)):
            conn.execute(text(f"INSERT INTO call_stats_answered_within({_DIMS}, threshold_seconds, answered) "
                              f"{sql.series}SELECT {key}, {threshold}, {answered} FROM {rows}"), names)


def analyze(engine: Engine) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` would have them after a bulk load;
    on SQLite the bulk load's write-ahead log checkpointed too, as the automatic checkpoints of a running service
    keep it (reading through a log of gigabytes makes every query and commit slower, whatever it reads)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    if engine.dialect.name == "sqlite" and engine.url.database:
        engine.dispose()  # no pooled connection left in a transaction
        with closing(sqlite3.connect(engine.url.database)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def build(url: str, *, history_events: int, recent: tuple[list[dict[str, Any]], ...]) -> Sized:
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    if history_events:
        insert_history(engine, POSTGRES if engine.dialect.name == "postgresql" else SQLITE, events=history_events)
    insert_recent(engine, recent)
    analyze(engine)
    generated = time.perf_counter() - started
    sessions = make_session_factory(engine)
    sunday_night = datetime(2026, 11, 22, 23, 59, tzinfo=AMS)
    deps = StatsDeps(store=SqlStatsStore(sessions), clock=FixedClock(sunday_night))
    statistics.rollup_since(deps, since=datetime(2026, 11, 16, tzinfo=AMS), until=sunday_night)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM call_events")).scalar_one()
        rollups = conn.execute(text("SELECT count(*) FROM call_stats")).scalar_one()
    print(f"  {count:>10,} call events, {rollups:>9,} rollup rows (generated in {generated:.1f} s)")
    return Sized(engine, deps, SqlCaseStore(sessions), drilldown.DrillDeps(store=SqlDrilldown(sessions)))


def queries(deps: StatsDeps) -> dict[str, Callable[[], object]]:
    week = {"first_day": WEEK[0], "last_day": WEEK[1]}
    month = {"first_day": date(2026, 11, 1), "last_day": date(2026, 11, 30)}
    return {
        "week by day": lambda: statistics.by_day(deps, **week),
        "week by hour of day": lambda: statistics.by_hour_of_day(deps, **week),
        "month by week": lambda: statistics.by_week(deps, **month),
        "month by month": lambda: statistics.by_month(deps, **month),
        "week org x topic": lambda: statistics.view(deps, grain="day", by=("organisation", "topic"), **week),
        "week by day, UWV": lambda: statistics.by_day(deps, organisation="UWV", **week),
        "Wednesday by interval": lambda: statistics.view(deps, grain="interval", first_day=date(2026, 11, 18),
                                                         last_day=date(2026, 11, 18)),
    }


WEDNESDAY = {"first_day": date(2026, 11, 18), "last_day": date(2026, 11, 18)}


def other_queries(db: Sized) -> dict[str, Callable[[], object]]:
    """The cases report and the drill-down: they read calls and events, not the rollups."""
    week = cases.CaseFilters(first_day=WEEK[0], last_day=WEEK[1])
    return {
        "cases, week": lambda: cases.report(db.cases, filters=week),
        "cases, week, UWV": lambda: cases.report(db.cases, filters=cases.CaseFilters(
            first_day=WEEK[0], last_day=WEEK[1], organisation="UWV")),
        "drill answered, Wed": lambda: drilldown.calls_behind(db.drill, filters={}, figure="answered", **WEDNESDAY),
        "drill UWV abandoned, Wed": lambda: drilldown.calls_behind(db.drill, filters={"organisation": "UWV"},
                                                                   figure="abandoned", **WEDNESDAY),
        "drill one call": lambda: drilldown.call_detail(db.drill, ref=f"R{RECENT_ID + 500}", organisations=None),
    }


def median_ms(action: Callable[[], object], *, repeats: int = REPEATS) -> float:
    for _ in range(WARMUP):
        action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return stats.median(samples)


def compare(title: str, small: dict[str, Callable[[], object]], large: dict[str, Callable[[], object]]) -> float:
    """Print each query's medians and ratio; the ratio of their sums. Both databases must give the same answers."""
    totals = [0.0, 0.0]
    for name, small_query in small.items():
        a, b = median_ms(small_query), median_ms(large[name])
        answer, other = small_query(), large[name]()
        # The same answer (equal, not the same repr: PostgreSQL may return a period's threshold rows in any order).
        assert answer and answer == other, f"{name}: {answer!r:.300} != {other!r:.300}"
        totals[0] += a
        totals[1] += b
        print(f"{name:<28}{a:>12.2f}{b:>12.2f}{b / a:>8.2f}")
    ratio = totals[1] / totals[0]
    print(f"{title:<28}{totals[0]:>12.2f}{totals[1]:>12.2f}{ratio:>8.2f}")
    return ratio


@contextmanager
def databases(postgres: bool, folder: Path) -> Iterator[tuple[str, str]]:
    """The URLs of an empty small and an empty large database."""
    if not postgres:
        yield f"sqlite:///{folder / 'small.sqlite3'}", f"sqlite:///{folder / 'large.sqlite3'}"
        return
    with postgres_server() as url:
        engine = make_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("bench_small", "bench_large"):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        base = url.rsplit("/", 1)[0]
        yield f"{base}/bench_small", f"{base}/bench_large"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--events", type=int, default=LARGE_EVENTS, help="call events in the large database")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    recent = recent_week()
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as folder, databases(args.postgres, Path(folder)) as urls:
        print(f"databases ({'PostgreSQL' if args.postgres else 'SQLite'}):")
        small = build(urls[0], history_events=0, recent=recent)
        large = build(urls[1], history_events=args.events - len(recent[1]), recent=recent)
        try:
            busy = datetime(2026, 11, 18, 10, 0, tzinfo=AMS).astimezone(UTC)
            print(f"\n{'median ms':<28}{'10k events':>12}{'large':>12}{'ratio':>8}")
            query_ratio = compare("all dashboard queries", queries(small.stats), queries(large.stats))
            other_ratio = compare("cases and drill-down", other_queries(small), other_queries(large))
            a = median_ms(lambda: statistics.rollup_interval(small.stats, start=busy), repeats=20)
            b = median_ms(lambda: statistics.rollup_interval(large.stats, start=busy), repeats=20)
            rollup_ratio = b / a
            print(f"{'rollup_interval (busy)':<28}{a:>12.2f}{b:>12.2f}{rollup_ratio:>8.2f}")
            a = median_ms(lambda: statistics.rollup_recent(small.stats), repeats=10)
            b = median_ms(lambda: statistics.rollup_recent(large.stats), repeats=10)
            recent_ratio = b / a
            print(f"{'rollup_recent (cron)':<28}{a:>12.2f}{b:>12.2f}{recent_ratio:>8.2f}")
        finally:
            small.engine.dispose()
            large.engine.dispose()
        worst = max(query_ratio, other_ratio, rollup_ratio, recent_ratio)
        print(f"\ntarget: each ratio <= {TARGET_RATIO} (worst {worst:.2f}); total run {time.perf_counter() - began:.0f} s")
        return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
