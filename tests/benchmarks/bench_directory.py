"""Directory import at the size of the next step: the 650+ library help points (IDO) next to the pilot counters.

Run: .venv/bin/python -m tests.benchmarks.bench_directory

Imports the demo directory (3 counters, a few dozen caseworkers) and, in the same run, the demo directory
grown by 650 help points with 4 caseworkers each (phones, argon2 PIN hashes as in production), each into a
fresh SQLite file, then imports each again (nothing changes: the idempotent re-import an administrator
runs after every edit). Prints the seconds and the cost per directory row; the target is that a row of
the large directory costs at most 2x a row of the small one (the import grows linearly, no per-row scans).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from tests.e2e.stack import FAST_PINS, ROOT

HELP_POINTS = 650
CASEWORKERS_PER_POINT = 4
TARGET_RATIO = 2.0


def grown(data: dict[str, Any]) -> dict[str, Any]:
    """The demo directory plus HELP_POINTS help points, each connected to 3-7 organisations."""
    orgs = [o["code"] for o in data["organisations"]]
    pin_hash = FAST_PINS.hash("4321")
    locations, caseworkers = list(data["locations"]), list(data["caseworkers"])
    for i in range(HELP_POINTS):
        code = f"IDO{i:03d}"
        locations.append({"code": code, "name": f"Informatiepunt Digitale Overheid {i}",
                          "organisations": orgs[: 3 + i % 5]})
        for j in range(CASEWORKERS_PER_POINT):
            n = i * CASEWORKERS_PER_POINT + j
            caseworkers.append({"code": f"{5000 + n:04d}", "name": f"Medewerker {n}", "location": code,
                                "phones": [f"+3162{n:07d}"], "pin_hash": pin_hash})
    return {**data, "locations": locations, "caseworkers": caseworkers}


def rows(data: dict[str, Any]) -> int:
    return sum(len(data.get(key) or []) for key in ("organisations", "locations", "caseworkers", "liaisons", "lines"))


def timed_imports(data: dict[str, Any], workdir: Path, name: str) -> tuple[float, float]:
    """Seconds of the first import and of the re-import, into a fresh SQLite file."""
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    url = f"sqlite:///{workdir / f'{name}.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    times = []
    for _ in range(2):
        started = time.perf_counter()
        import_directory(path=path, session_factory=sessions, hasher=FAST_PINS)
        times.append(time.perf_counter() - started)
    engine.dispose()
    return times[0], times[1]


def main() -> int:
    demo = yaml.safe_load((ROOT / "demo" / "directory.yaml").read_text())
    large = grown(demo)
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-bench-directory-"))
    try:
        small_first, small_again = timed_imports(demo, workdir, "demo")
        large_first, large_again = timed_imports(large, workdir, "ido")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    small_rows, large_rows = rows(demo), rows(large)
    print(f"demo directory: {small_rows} rows, import {small_first:.2f} s, re-import {small_again:.2f} s")
    print(f"with {HELP_POINTS} help points: {large_rows} rows, import {large_first:.2f} s, re-import {large_again:.2f} s")
    worst = 0.0
    for what, small, large_s in (("import", small_first, large_first), ("re-import", small_again, large_again)):
        ratio = (large_s / large_rows) / (small / small_rows)
        worst = max(worst, ratio)
        print(f"{what}: {large_s / large_rows * 1e3:.2f} ms vs {small / small_rows * 1e3:.2f} ms per row, "
              f"ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
