"""Where the time of one new-call webhook goes: py-spy on one web process under wrk load (issue 13, target 6).

Run: .venv/bin/python -m tests.benchmarks.profile_webhooks [--postgres] [--seconds 15] [--out stacks.txt]

Starts redis-server, the database and the service (one uvicorn process, `--workers 1`), loads it with
signed new calls from a caseworker (as bench_webhooks does) and samples the process with py-spy
(`pip install py-spy`; not a dependency of the project). Prints the share of samples, over all threads
of the process except idle ones, in each part: signature check, replay guard, other Redis, SQL, TwiML,
the call flow's own Python, the framework (uvicorn, starlette, FastAPI, the event loop and the threadpool
hand-off). A sample is counted in the first part, from the top of its stack, whose pattern it matches.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from tests.benchmarks.bench_webhooks import DEPLOYED_SETTINGS, WrkLoad, database, first_webhooks, write_requests
from tests.e2e.stack import running_stack
from tests.servers import redis_server

# (part, substrings of a frame "function (file)"); the first part matched from the innermost frame wins.
PARTS = [
    ("signature check", ("request_validator.py", "compute_signature")),
    ("replay guard (Redis)", ("redis_replay.py",)),
    ("Redis (other)", ("/redis/",)),
    ("SQL", ("sqlalchemy", "sqlite3", "psycopg", "adapters/sql/")),
    ("TwiML", ("twiml.py", "twilio/twiml", "with_turn", "xml/etree")),
    ("call flow (services, domain)", ("callrouter/services/", "callrouter/domain/")),
    ("webhook edge (parse, canonical form)", ("twilio_webhook.py", "voice_routes.py", "urllib/parse")),
    ("framework (uvicorn, starlette, fastapi, asyncio, threads)",
     ("uvicorn", "starlette", "fastapi", "asyncio", "uvloop", "anyio", "h11", "httptools", "concurrent/futures",
      "threading.py")),
]
IDLE = ("_read_from_socket", "Condition.wait", "_WriterQueue.join", "sleep", "_keep (",
        "select (selectors.py)", "_worker (concurrent", "wait (threading.py)", "run_forever", "_run_once",
        "acquire", "park", "poll (selectors.py)", "epoll")


def classify(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for part, patterns in PARTS:
            if any(p in frame for p in patterns):
                return part
    return "other"


def is_idle(stack: str) -> bool:
    top = stack.split(";")[-1]
    return any(word in top for word in IDLE)


def summarise(collapsed: Path) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or is_idle(stack):
            continue
        counts[classify(stack)] += int(n)
    total = sum(counts.values()) or 1
    return {part: counts[part] / total for part, _ in [*PARTS, ("other", ())]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-profile-"))
    try:
        with redis_server() as redis_url, database(args.postgres, workdir) as db_url, \
                running_stack(redis_url=redis_url, database_url=db_url, workdir=workdir, workers_per_process=1,
                              settings=DEPLOYED_SETTINGS) as stack:
            pid = stack.processes[0].pid
            load = WrkLoad(workdir, threads=2, connections=args.connections)
            warm = write_requests(workdir / "warm.txt", first_webhooks(3000, public_url=stack.app_url))
            timed = write_requests(workdir / "timed.txt",
                                   first_webhooks(2500 * args.seconds, public_url=stack.app_url))
            load.run("warm", stack.app_url, warm, "<Gather", 2)
            collapsed = args.out or workdir / "stacks.txt"
            record = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                                       "--duration", str(args.seconds), "--output", str(collapsed), "--nonblocking", "--gil"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            result: dict[str, object] = {}
            runner = threading.Thread(target=lambda: result.update(
                run=load.run("timed", stack.app_url, timed, "<Gather", args.seconds)))
            runner.start()
            _, err = record.communicate(timeout=args.seconds + 60)
            runner.join()
            if record.returncode != 0:
                print(f"py-spy failed: {err}")
                return 1
            run = result["run"]
            print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, one web process: {run.line()}")  # type: ignore[attr-defined]
            for part, share in sorted(summarise(collapsed).items(), key=lambda kv: -kv[1]):
                print(f"  {share * 100:5.1f} %  {part}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
