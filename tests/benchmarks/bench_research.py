"""The research export for a year of calls at the demo day's volume x 100, against one week of the same data.

Run: .venv/bin/python -m tests.benchmarks.bench_research [--calls-per-day 25000] [--days 261]
     (SQLite in a temporary folder; --days counts working days, 261 = the working days of a year)

The demo day has 250 calls (`callrouter demo day --calls 250`); x 100 is 25,000 calls a working day, 6.5 million
calls in a year, with 8 events each (52 million events), a case for every two calls and a liaison's result on
every third call, generated in bulk with SQL. Each export runs in a fresh process (`--one`), which streams the
CSV to /dev/null through the real code (callrouter.services.statistics.research) and reports its rows, its
time and its peak resident memory (ru_maxrss). Baseline: the first week (5 working days) of the same database,
in the same run. Targets: time per row year/week <= 1.5 (reads stay index ranges) and peak memory year/week
<= 1.5 (the stream holds one batch, never the period). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.adapters.sql.research_repository import SqlResearchSource
from callrouter.services.statistics import research

FIRST_MONDAY = date(2025, 12, 29)  # the year's first working week starts here
DEMO_DAY_CALLS = 250
TARGET_TIME_RATIO, TARGET_MEMORY_RATIO = 1.5, 1.5
_SERIES = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
# A working day's calls from 08:00 UTC, `step` seconds apart; day d is the (d % 5)-th weekday of week d / 5.
_AT = ("strftime('%Y-%m-%d %H:%M:%S', :first + ((c / :per) / 5) * 604800 + ((c / :per) % 5) * 86400 + 28800 "
       "+ (c % :per) * :step + {offset}, 'unixepoch') || '.000000'")
_KINDS = ("CASE i % 8 WHEN 0 THEN 'received' WHEN 1 THEN 'identified' WHEN 2 THEN 'menu_choice' WHEN 3 THEN "
          "'menu_choice' WHEN 4 THEN 'queued' WHEN 5 THEN 'offered' WHEN 6 THEN 'answered' ELSE 'completed' END")
_OFFSETS = ("CASE i % 8 WHEN 0 THEN 0 WHEN 1 THEN 2 WHEN 2 THEN 8 WHEN 3 THEN 14 WHEN 4 THEN 20 "
            "WHEN 5 THEN 20 + (c * 37) % 120 WHEN 6 THEN 21 + (c * 37) % 120 ELSE 321 + (c * 37) % 120 END")


def generate(path: Path, *, per_day: int, days: int) -> float:
    """The year's calls, events, cases and results; the seconds it took."""
    started = time.perf_counter()
    calls = per_day * days
    first = int(datetime.combine(FIRST_MONDAY, datetime.min.time(), tzinfo=UTC).timestamp())
    names = {"first": first, "per": per_day, "step": max(1, 9 * 3600 // per_day)}
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("INSERT INTO calls(id, sid, line_number, line_kind, caller_pseudonym, caller_masked, state, "
                 "received_at, language, menu_page, menu_tries, pin_tries, last_status_seq, organisation, topic, "
                 "location, outcome, case_id) " + _SERIES + ", m(c) AS (SELECT i FROM n) SELECT c + 1, 'B' || c, "
                 "'+31850001000', 'professional', 'p', '+316****01', 'ended', " + _AT.format(offset="0")
                 + ", 'nl', 0, 0, 0, -1, json_extract('[\"UWV\",\"SVB\",\"DUO\",\"CAK\"]', '$[' || (c % 4) || ']'), "
                 "'a', json_extract('[\"AMS\",\"UTR\",\"ENS\"]', '$[' || (c % 3) || ']'), 'answered', c / 2 + 1 "
                 "FROM m", {**names, "last": calls - 1})
    conn.commit()
    conn.execute("INSERT INTO call_events(call_id, at, kind, detail) " + _SERIES + ", m(i, c) AS (SELECT i, i / 8 "
                 "FROM n) SELECT c + 1, " + _AT.format(offset=_OFFSETS) + ", " + _KINDS + ", CASE i % 8 WHEN 7 THEN "
                 "'{\"status\": \"completed\"}' ELSE '{}' END FROM m", {**names, "last": calls * 8 - 1})
    conn.commit()
    conn.execute("INSERT INTO conversation_outcomes(call_id, liaison_id, outcome, referred_organisation, note, "
                 "recorded_at, updated_at, recorded_by) " + _SERIES + "SELECT i * 3 + 1, 1, CASE i % 2 WHEN 0 THEN "
                 "'resolved' ELSE 'referred' END, CASE i % 2 WHEN 0 THEN NULL ELSE 'SVB' END, 'a note never exported', "
                 "'2026-01-05 09:00:00.000000', '2026-01-05 09:00:00.000000', 1 FROM n", {"last": calls // 3 - 1})
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def working_day(index: int) -> date:
    return FIRST_MONDAY + timedelta(days=7 * (index // 5) + index % 5)


def one(database_url: str, first: str, last: str, fmt: str) -> None:
    """In its own process: stream the export to /dev/null; print rows, seconds and peak memory as JSON."""
    engine = make_engine(database_url)
    deps = research.ResearchDeps(source=SqlResearchSource(make_session_factory(engine)), pseudonym_key=b"bench",
                                 kept_days=400, zone=ZoneInfo("Europe/Amsterdam"))
    asked = research.ask(first_day=date.fromisoformat(first), last_day=date.fromisoformat(last), fmt=fmt, kept_days=400)
    started = time.perf_counter()
    chars = 0
    with open("/dev/null", "w") as sink:
        for chunk in research.export_chunks(deps, asked):
            chars += len(chunk)
            sink.write(chunk)
    seconds = time.perf_counter() - started
    rows = None
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT count(*) FROM calls WHERE received_at >= ? AND received_at < ?",
                            (f"{first} 00:00", f"{date.fromisoformat(last) + timedelta(days=1)} 00:00")).fetchone()[0]
    print(json.dumps({"rows": rows, "seconds": seconds, "chars": chars,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(database_url: str, first: date, last: date, fmt: str = "csv") -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_research", "--one", database_url,
                          first.isoformat(), last.isoformat(), fmt], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls-per-day", type=int, default=DEMO_DAY_CALLS * 100)
    parser.add_argument("--days", type=int, default=261, help="working days (261: a year)")
    parser.add_argument("--one", nargs=4, metavar=("URL", "FIRST", "LAST", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        one(*args.one)
        return 0
    began = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="bench-research-"))
    try:
        url = f"sqlite:///{folder / 'research.sqlite3'}"
        upgrade(url)
        generated = generate(folder / "research.sqlite3", per_day=args.calls_per_day, days=args.days)
        print(f"{args.calls_per_day * args.days:,} calls ({args.calls_per_day:,} a working day x {args.days} days), "
              f"{args.calls_per_day * args.days * 8:,} events, generated in {generated:.0f} s "
              f"({(folder / 'research.sqlite3').stat().st_size / 2**30:.1f} GiB)")
        week_last = working_day(min(args.days, 5) - 1)
        year_last = working_day(args.days - 1)
        print(f"\n{'export (CSV, own process)':<28}{'rows':>12}{'seconds':>10}{'rows/s':>10}{'peak MiB':>10}")
        results = {}
        for name, last in (("week (baseline)", week_last), ("year", year_last)):
            found = measure(url, FIRST_MONDAY, last)
            results[name] = found
            print(f"{name:<28}{found['rows']:>12,}{found['seconds']:>10.1f}{found['rows'] / found['seconds']:>10,.0f}"
                  f"{found['peak_mib']:>10.1f}")
        week, year = results["week (baseline)"], results["year"]
        time_ratio = (year["seconds"] / year["rows"]) / (week["seconds"] / week["rows"])
        memory_ratio = year["peak_mib"] / week["peak_mib"]
        print(f"\ntime per row year/week {time_ratio:.2f} (target <= {TARGET_TIME_RATIO}); "
              f"peak memory year/week {memory_ratio:.2f} (target <= {TARGET_MEMORY_RATIO}); "
              f"year's CSV {year['chars'] / 2**30:.2f} GiB; total run {time.perf_counter() - began:.0f} s")
        return 0 if time_ratio <= TARGET_TIME_RATIO and memory_ratio <= TARGET_MEMORY_RATIO else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
