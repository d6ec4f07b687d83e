"""The short-lived stack a demo day plays on: the web app and an RQ worker on a demo clock, and a
Twilio emulator at the same speed, against the record of `make run` but a Redis database of its own.

While it runs, the RQ workers of the live demo (`make run`) are suspended: their reconciler would
otherwise take the day's calls, which sit in the same SQL record with yesterday's timestamps, for
lost offers and overdue callbacks.

Nothing of the stack outlives the demo day: its processes run in sessions of their own (a Ctrl-C in the
terminal reaches the demo day, which stops them in order), carry CALLROUTER_DEMO_STACK=<token> in
their environment, and a lifeline (demo/lifeline.py) ends every process with that token when the demo
day dies in a way that leaves it no time to stop them (SIGKILL). SIGTERM, SIGINT and SIGHUP stop the
demo day as Ctrl-C does (`stopped_by_signals`).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis as redis_lib

from callrouter.adapters import redis_keys
from callrouter.config import REPO_ROOT, Settings
from callrouter.demo import lifeline

ROOT = REPO_ROOT
DEMO_REDIS_DB = 14
WEB_WORKERS = 2
PAUSE_TTL_SECONDS = 300  # the live workers resume by themselves should this process die
STACK_MARKER = "CALLROUTER_DEMO_STACK"  # in the environment of every process of the stack
STOP_SECONDS = 5.0  # SIGTERM, then SIGKILL after this long
Say = Callable[[str], None]


class DemoDayStopped(BaseException):
    """A signal (SIGINT, SIGTERM, SIGHUP) asked the demo day to stop; raised where the driver is, so every
    `finally` on the way out runs (the stack stops, the live workers resume). A BaseException like
    KeyboardInterrupt, so no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class DemoRedisGone(RuntimeError):
    """The demo day's Redis stopped answering while the day played."""


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise DemoDayStopped (once; a second signal while stopping is ignored).
    SIGINT too when it came in ignored: run in the background of scripts/run.sh, the demo day is still
    in the terminal's foreground group, and Ctrl-C must stop it with the rest."""
    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {signum: signal.getsignal(signum) for signum in watched}
    stopping = False

    def handler(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise DemoDayStopped(signum)

    for signum in watched:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)


def demo_redis_url(redis_url: str) -> str:
    """The configured Redis with database 14 (15 when the service itself uses 14)."""
    parts = urlsplit(redis_url)
    current = parts.path.strip("/") or "0"
    db = DEMO_REDIS_DB if current != str(DEMO_REDIS_DB) else DEMO_REDIS_DB + 1
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_workers_paused(redis_url: str, say: Say, *, timeout: float = 15.0) -> Iterator[None]:
    """Suspend the live demo's RQ workers (RQ's own `rq suspend`) and wait until each has stopped taking jobs."""
    from rq import Queue, Worker
    from rq.suspension import is_suspended, resume, suspend

    conn = redis_lib.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)
    try:
        workers = Worker.all(connection=conn)
    except redis_lib.RedisError:
        workers = []  # no live demo running: nothing to pause
    if not workers or is_suspended(conn):
        yield
        conn.close()
        return
    suspend(conn, ttl=PAUSE_TTL_SECONDS)
    try:
        # A worker blocked waiting for a job notices the suspension only after its next job: give it one.
        Queue("callrouter", connection=conn).enqueue("os.getpid", result_ttl=0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(w.get_state() == "suspended" for w in Worker.all(connection=conn)):
                break
            time.sleep(0.1)
        else:
            say("the live demo's workers did not pause in time; its reconciler may touch the day's calls")
        yield
    finally:
        resume(conn)
        conn.close()


@dataclass
class DemoStack:
    app_url: str
    api_token: str
    redis_url: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _redis_checked: float = 0.0

    def check_redis(self, *, every: float = 1.0) -> None:
        """DemoRedisGone when the stack's Redis does not answer (checked at most once per `every` seconds)."""
        now = time.monotonic()
        if now - self._redis_checked < every:
            return
        self._redis_checked = now
        conn = redis_lib.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            conn.ping()
        except redis_lib.RedisError as exc:
            raise DemoRedisGone(f"the demo day's Redis ({self.redis_url}) went away: {exc}") from None
        finally:
            conn.close()

    def set_presence(self, liaison_id: int, status: str) -> int:
        """PUT the liaison's presence through the JSON API, as a liaison's app would; the HTTP status."""
        response = httpx.put(f"{self.app_url}/api/liaisons/{liaison_id}/presence", json={"status": status},
                             headers={"Authorization": f"Bearer {self.api_token}"}, timeout=10)
        return response.status_code

    def set_anchor(self, *, start: str, scale: float) -> float:
        """Start the demo clock now for every process (unless one already did); the real start time."""
        conn = redis_lib.Redis.from_url(self.redis_url)
        key = redis_keys.demo_clock_anchor(start=start, scale=scale)
        conn.set(key, repr(time.time()), nx=True, ex=24 * 3600)
        anchor = float(conn.get(key) or 0)
        conn.close()
        return anchor


def stack_env(settings: Settings, *, app_url: str, redis_url: str, emulator_url: str, clock_start: str,
              scale: float, api_token: str) -> dict[str, str]:
    return {
        **os.environ,
        "CALLROUTER_ENVIRONMENT": settings.environment,
        "CALLROUTER_DATABASE_URL": settings.database_url,
        "CALLROUTER_REDIS_URL": redis_url,
        # the demo stack runs on its own database of the plain URL, never through Sentinel or on RQ's Redis
        "CALLROUTER_REDIS_SENTINELS": "", "CALLROUTER_RQ_REDIS_URL": "", "CALLROUTER_RQ_REDIS_SENTINEL_SERVICE": "",
        "CALLROUTER_PUBLIC_URL": app_url,
        "CALLROUTER_TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "CALLROUTER_TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "CALLROUTER_TWILIO_API_BASE_URL": emulator_url,
        "CALLROUTER_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        "CALLROUTER_API_TOKENS": f"{api_token}:admin:*",
        "CALLROUTER_IVR_FLOWS_DIR": str(settings.ivr_flows_dir),
        "CALLROUTER_TIMEZONE": settings.timezone,
        "CALLROUTER_DEMO_CLOCK_START": clock_start,
        "CALLROUTER_DEMO_TIME_SCALE": repr(scale),
        "CALLROUTER_LOG_LEVEL": "WARNING",
    }


def pauses_key(clock_start: str, scale: float) -> str:
    return redis_keys.demo_clock_pauses(start=datetime.fromisoformat(clock_start).astimezone(UTC).isoformat(),
                                        scale=scale)


def work_key(clock_start: str, scale: float) -> str:
    return redis_keys.demo_clock_work(start=datetime.fromisoformat(clock_start).astimezone(UTC).isoformat(),
                                      scale=scale)


@contextmanager
def running_stack(settings: Settings, *, emulator_url: str, clock_start: str, scale: float, log_dir: Path,
                  port: int, clock_stopped: bool = False) -> Iterator[DemoStack]:
    """The web app (one uvicorn worker) and an RQ worker with its scheduler, on a flushed demo Redis.

    clock_stopped: the demo clock stands still from now until the driver starts it (day_run.SharedPauses), so
    the processes' start-up is no virtual time, whichever of them reads the clock first."""
    if settings.redis_sentinels or settings.rq_redis_url or settings.rq_redis_sentinel_service:
        raise RuntimeError("the demo day runs on a plain CALLROUTER_REDIS_URL only: unset CALLROUTER_REDIS_SENTINELS, "
                           "CALLROUTER_RQ_REDIS_URL and CALLROUTER_RQ_REDIS_SENTINEL_SERVICE")
    redis_url = demo_redis_url(settings.redis_url)
    conn = redis_lib.Redis.from_url(redis_url)
    conn.flushdb()
    if clock_stopped:
        conn.hset(pauses_key(clock_start, scale), mapping={"stood": "0", "since": repr(time.time())})
    conn.close()
    token = secrets.token_urlsafe(16)
    app_url = f"http://127.0.0.1:{port}"
    env = stack_env(settings, app_url=app_url, redis_url=redis_url, emulator_url=emulator_url,
                    clock_start=clock_start, scale=scale, api_token=token)
    marker = f"{STACK_MARKER}={secrets.token_hex(8)}"
    env[STACK_MARKER] = marker.split("=", 1)[1]
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = DemoStack(app_url, token, redis_url, env)
    guard = lifeline.start(marker)  # should this process be killed outright, the stack goes with it
    commands = {
        "web": [sys.executable, "-m", "uvicorn", "callrouter.web.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(WEB_WORKERS), "--no-access-log", "--log-level", "warning"],
        # SimpleWorker: no fork per job, so the services are built once, not for every callback.
        "worker": [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
                   "rq.worker.SimpleWorker", "--url", redis_url, "--logging_level", "WARNING", "callrouter"],
    }
    try:
        for name, command in commands.items():
            with (log_dir / f"{name}.log").open("wb") as out:
                stack.processes.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out,
                                                        stderr=subprocess.STDOUT, start_new_session=True))
        wait_healthy(app_url, stack.processes[0], what=f"the demo day's web process (see {log_dir / 'web.log'})")
        yield stack
    finally:
        _stop(stack.processes)
        guard.terminate()  # the stack is down: the lifeline ends without a sweep
        guard.wait(timeout=5)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], *, what: str = "web process", timeout: float = 30.0) -> None:
    """Until `url`/healthz answers 200; RuntimeError (naming `what`) when `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer on {url} within {timeout:.0f} s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group (uvicorn's workers, RQ's scheduler are in it), SIGKILL after STOP_SECONDS."""
    for proc in processes:
        _killpg(proc, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in processes:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _killpg(proc, signal.SIGKILL)  # also what the group leader left behind
        proc.wait(timeout=5)


def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone

