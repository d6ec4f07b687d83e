"""Dashboard queries and one interval's rollup, with 10 thousand and with 10 million call events.

Run: .venv/bin/python -m tests.benchmarks.bench_statistics   (SQLite files in a temporary folder)

Both databases hold the same recent week (about 10 000 call events from a generated working week,
rolled up by the real `rollup_since`). The large one also holds three older years: 10 million call
events in all (1.25 million calls of 8 events, one bulk INSERT ... SELECT each) and their rollup rows
(generated in bulk too: the point is what a query reads, not how the history got there). Dashboard
queries ask for the recent week and its month; `rollup_interval` recomputes one busy recent
interval; `rollup_recent` is what the cron job runs. Exits 1 if a large/small ratio (the summed
query medians, the rollup median, the cron rollup median) exceeds the target.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import statistics as stats
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps

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


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it in SQLite


def recent_week(seed: int = 7) -> tuple[list[tuple], list[tuple]]:
    """Calls of a working week (08:00-18:00 local, Monday to Friday) until SMALL_EVENTS events."""
    rng = random.Random(seed)
    calls: list[tuple] = []
    events: list[tuple] = []
    day = WEEK[0]
    while len(events) < SMALL_EVENTS:
        for quarter in range(40):
            for _ in range(rng.randint(3, 9)):
                start = datetime(day.year, day.month, day.day, 8, tzinfo=AMS) + timedelta(
                    minutes=15 * quarter, seconds=rng.uniform(0, 899))
                call_id = RECENT_ID + len(calls)
                calls.append((call_id, f"R{call_id}", "professional" if rng.random() < 0.8 else "citizen",
                              _stamp(start), rng.choice(ORGS), rng.choice(TOPICS), rng.choice(LOCATIONS)))
                log = [("received", 0, {}), ("identified", 2, {}), ("menu_choice", 8, {}), ("menu_choice", 14, {})]
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
                events += [(call_id, _stamp(start + timedelta(seconds=s)), kind, json.dumps(detail))
                           for kind, s, detail in log]
        day += timedelta(days=1 if day.weekday() < 4 else 3)
    return calls, events


def insert_recent(path: Path, calls: list[tuple], events: list[tuple]) -> None:
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO calls(id, sid, line_number, line_kind, caller_pseudonym, caller_masked, state, "
                         "received_at, language, menu_page, menu_tries, pin_tries, last_status_seq, organisation, "
                         "topic, location) VALUES (?, ?, '+31850001000', ?, 'p', '+316****01', 'ended', ?, 'nl', 0, 0, "
                         "0, -1, ?, ?, ?)", calls)
        conn.executemany("INSERT INTO call_events(call_id, at, kind, detail) VALUES (?, ?, ?, ?)", events)


_SERIES = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
_KINDS = ("CASE i % 8 WHEN 0 THEN 'received' WHEN 1 THEN 'identified' WHEN 2 THEN 'menu_choice' WHEN 3 THEN "
          "'menu_choice' WHEN 4 THEN 'queued' WHEN 5 THEN 'offered' WHEN 6 THEN 'answered' ELSE 'completed' END")


def insert_history(path: Path, *, events: int) -> None:
    """Old calls (8 events each) spread evenly over HISTORY, and rollup rows for every interval of it."""
    calls = events // 8
    first, last = (int(moment.timestamp()) for moment in HISTORY)
    step = (last - first) // calls
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    at = "strftime('%Y-%m-%d %H:%M:%S', :first + {offset}, 'unixepoch') || '.000000'"
    conn.execute("INSERT INTO calls(id, sid, line_number, line_kind, caller_pseudonym, caller_masked, state, "
                 "received_at, language, menu_page, menu_tries, pin_tries, last_status_seq, organisation, topic, "
                 "location, outcome) " + _SERIES + "SELECT i + 1, 'H' || i, '+31850001000', 'professional', 'p', "
                 "'+316****01', 'ended', " + at.format(offset="i * :step") + ", 'nl', 0, 0, 0, -1, 'UWV', 'a', "
                 "'AMS', 'answered' FROM n", {"last": calls - 1, "first": first, "step": step})
    conn.execute("INSERT INTO call_events(call_id, at, kind, detail) " + _SERIES + "SELECT i / 8 + 1, "
                 + at.format(offset="(i / 8) * :step + (i % 8) * 5") + ", " + _KINDS + ", '{}' FROM n",
                 {"last": calls * 8 - 1, "first": first, "step": step})
    intervals = (last - first) // 900
    rows = "(SELECT i / :per AS q, i % :per AS k FROM n)"
    key = ("strftime('%Y-%m-%d %H:%M:%S', :first + q * 900, 'unixepoch') || '.000000', "
           "json_extract(:orgs, '$[' || (k % 7) || ']'), json_extract(:topics, '$[' || (k % 4) || ']'), "
           "json_extract(:locations, '$[' || (k % 3) || ']'), CASE k % 2 WHEN 0 THEN 'professional' ELSE 'citizen' "
           "END, date(:first + q * 900, 'unixepoch'), CAST(strftime('%H', :first + q * 900, 'unixepoch') AS INTEGER)")
    names = {"last": intervals * HISTORY_ROWS_PER_INTERVAL - 1, "per": HISTORY_ROWS_PER_INTERVAL, "first": first,
             "orgs": json.dumps(ORGS), "topics": json.dumps(TOPICS), "locations": json.dumps(LOCATIONS)}
    dims = "interval_start, organisation, topic, location, line_kind, local_day, local_hour"
    counts = ("received, offered, answered, abandoned, short_abandoned, answer_ms, answer_timed, longest_wait_ms, "
              "talk_ms, talked, callbacks_requested, callbacks_completed, callbacks_failed, in_progress, "
              "outcome_answered, outcome_abandoned_in_queue, outcome_abandoned_in_menu, outcome_callback_requested, "
              "outcome_closed, outcome_no_liaison, outcome_refused, outcome_transferred, outcome_failed")
    conn.execute(f"INSERT INTO call_stats({dims}, {counts}) " + _SERIES + f"SELECT {key}, 5, 5, 4, 1, 0, 120000, 4, "
                 "60000, 720000, 4, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0 FROM " + rows, names)
    for threshold, answered in ((20, 2), (60, 3), (120, 4)):
        conn.execute(f"INSERT INTO call_stats_answered_within({dims}, threshold_seconds, answered) " + _SERIES
                     + f"SELECT {key}, {threshold}, {answered} FROM " + rows, names)
    conn.commit()
    conn.close()


def build(folder: Path, *, history_events: int, recent: tuple[list[tuple], list[tuple]]) -> StatsDeps:
    path = folder / "stats.sqlite3"
    upgrade(f"sqlite:///{path}")
    started = time.perf_counter()
    if history_events:
        insert_history(path, events=history_events)
    insert_recent(path, *recent)
    generated = time.perf_counter() - started
    engine = make_engine(f"sqlite:///{path}")
    sunday_night = datetime(2026, 11, 22, 23, 59, tzinfo=AMS)
    deps = StatsDeps(store=SqlStatsStore(make_session_factory(engine)), clock=FixedClock(sunday_night))
    statistics.rollup_since(deps, since=datetime(2026, 11, 16, tzinfo=AMS), until=sunday_night)
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT count(*) FROM call_events").fetchone()[0]
        rollups = conn.execute("SELECT count(*) FROM call_stats").fetchone()[0]
    print(f"  {count:>10,} call events, {rollups:>9,} rollup rows (generated in {generated:.1f} s)")
    return deps


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


def median_ms(action: Callable[[], object], *, repeats: int = REPEATS) -> float:
    for _ in range(WARMUP):
        action()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return stats.median(samples)


def main() -> int:
    began = time.perf_counter()
    recent = recent_week()
    folder = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    try:
        print("databases (SQLite):")
        (folder / "small").mkdir()
        (folder / "large").mkdir()
        small = build(folder / "small", history_events=0, recent=recent)
        large = build(folder / "large", history_events=LARGE_EVENTS - len(recent[1]), recent=recent)
        busy = datetime(2026, 11, 18, 10, 0, tzinfo=AMS).astimezone(UTC)
        print(f"\n{'median ms':<24}{'10k events':>12}{'10M events':>12}{'ratio':>8}")
        totals = [0.0, 0.0]
        for name, small_query in queries(small).items():
            a, b = median_ms(small_query), median_ms(queries(large)[name])
            assert small_query() and repr(small_query()) == repr(queries(large)[name]())  # the same answer
            totals[0] += a
            totals[1] += b
            print(f"{name:<24}{a:>12.2f}{b:>12.2f}{b / a:>8.2f}")
        query_ratio = totals[1] / totals[0]
        print(f"{'all dashboard queries':<24}{totals[0]:>12.2f}{totals[1]:>12.2f}{query_ratio:>8.2f}")
        a = median_ms(lambda: statistics.rollup_interval(small, start=busy), repeats=20)
        b = median_ms(lambda: statistics.rollup_interval(large, start=busy), repeats=20)
        rollup_ratio = b / a
        print(f"{'rollup_interval (busy)':<24}{a:>12.2f}{b:>12.2f}{rollup_ratio:>8.2f}")
        a = median_ms(lambda: statistics.rollup_recent(small), repeats=10)
        b = median_ms(lambda: statistics.rollup_recent(large), repeats=10)
        recent_ratio = b / a
        print(f"{'rollup_recent (cron)':<24}{a:>12.2f}{b:>12.2f}{recent_ratio:>8.2f}")
        print(f"\ntarget: ratio <= {TARGET_RATIO}; total run {time.perf_counter() - began:.0f} s")
        return 0 if max(query_ratio, rollup_ratio, recent_ratio) <= TARGET_RATIO else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
