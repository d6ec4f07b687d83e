"""One callrouter host for the kill-point fault tests (tests/faults/test_worker_killed_jobs.py,
tests/faults/test_killed_mid_step.py): a real Redis, a real PostgreSQL, real `callrouter worker` and uvicorn
processes, the Twilio emulator for the REST API. The point is a step's exactly-once, not the network, so no
HAProxy and no second host: a webhook is posted signed, as Twilio (through HAProxy) posts it.

"In the middle" is made deterministic with a test-only hook (callrouter/pause_points.py): the process is
started with FAULT_TEST_PAUSE_BEFORE naming the call before which it stops for good; the test waits for its
marker file and SIGKILLs the process group there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis as redis_lib
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import REPO_ROOT
from callrouter.pause_points import PAUSE_BEFORE, PAUSE_FILE
from tests.e2e.stack import ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, FAST_PINS, open_all_hours_directory
from tests.faults.cluster import wait_until
from tests.servers import free_port, postgres_process, redis_process
from twilio_emulator.config import EmulatorConfig
from twilio_emulator.driver import Emulator

QUEUE = "callrouter"
PUBLIC_URL = "https://callrouter.test"


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the process group (the test started it in its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@dataclass
class OneHost:
    env: dict[str, str]
    redis: redis_lib.Redis
    sessions: sessionmaker[Session]
    workdir: Path
    emulator: Emulator

    @property
    def marker(self) -> Path:
        return self.workdir / "paused"

    def _spawn(self, argv: list[str], log: str, *, pause_before: str | None,
               env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        full = {**self.env, **(env or {})}
        if pause_before:
            self.marker.unlink(missing_ok=True)
            full.update({PAUSE_BEFORE: pause_before, PAUSE_FILE: str(self.marker)})
        with (self.workdir / log).open("ab") as out:
            return subprocess.Popen(argv, cwd=REPO_ROOT, env=full, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def worker(self, *, pause_before: str | None = None, burst: bool = False,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self._spawn([sys.executable, "-m", "callrouter.cli", "worker", "--logging-level", "WARNING",
                            *(["--burst"] if burst else []), QUEUE], "worker.log", pause_before=pause_before, env=env)

    def paused(self, point: str, *, what: str) -> None:
        wait_until(self.marker.exists, timeout=60, what=f"{what} paused before {point}", every=0.05)
        assert self.marker.read_text() == point

    def run_until_paused(self, func: str, *args: object, pause_before: str, env: dict[str, str] | None = None) -> Job:
        """Enqueue the job on a worker that stops before `pause_before`, and SIGKILL it there."""
        proc = self.worker(pause_before=pause_before, env=env)
        try:
            job = Queue(QUEUE, connection=self.redis).enqueue(func, *args, job_timeout=120)
            self.paused(pause_before, what=func)
        finally:
            kill(proc)
        return job

    def run(self, func: str, *args: object, env: dict[str, str] | None = None) -> object:
        """Enqueue the job on a clean worker that quits when the queue is empty (so the jobs this one
        enqueues run too); its result."""
        job = Queue(QUEUE, connection=self.redis).enqueue(func, *args, job_timeout=120)
        proc = self.worker(burst=True, env=env)
        try:
            wait_until(lambda: proc.poll() is not None, timeout=90, what=f"{func} and what it enqueued done")
        finally:
            kill(proc)
        assert job.get_status() == JobStatus.FINISHED, (self.workdir / "worker.log").read_text()[-3000:]
        return job.return_value()

    @contextmanager
    def web(self, *, pause_before: str | None = None) -> Iterator[str]:
        """The web unit's uvicorn (one process) on a free loopback port; its base URL. Stopped (SIGKILL) after."""
        port = free_port()
        proc = self._spawn([sys.executable, "-m", "uvicorn", "callrouter.web.app:create_app", "--factory",
                            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--timeout-keep-alive", "75"],
                           "web.log",
                           pause_before=pause_before, env=None)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, (self.workdir / "web.log").read_text()[-3000:]
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, timeout=60, what="the web process up")
            yield url
        finally:
            kill(proc)

    def post_webhook(self, url: str, path: str, params: dict[str, str], *, timeout: float = 30) -> httpx.Response:
        """A webhook as Twilio posts it: signed for the public URL."""
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, params)
        return httpx.post(url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=timeout)


@contextmanager
def one_host(workdir: Path) -> Iterator[OneHost]:
    emulator = Emulator(EmulatorConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, time_scale=10.0,
                                       wall_clock="real")).start()
    with postgres_process() as postgres, redis_process() as redis_server:
        upgrade(postgres.url)
        engine = make_engine(postgres.url)
        sessions = make_session_factory(engine)
        import_directory(path=open_all_hours_directory(workdir / "directory.yaml"), session_factory=sessions,
                         hasher=FAST_PINS)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLROUTER_", "PROMETHEUS_", "FAULT_TEST_"))}
        env.update({
            "CALLROUTER_ENVIRONMENT": "test",
            "CALLROUTER_DATABASE_URL": postgres.url,
            "CALLROUTER_REDIS_URL": redis_server.url,
            "CALLROUTER_PUBLIC_URL": PUBLIC_URL,
            "CALLROUTER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "CALLROUTER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CALLROUTER_TWILIO_API_BASE_URL": emulator.base_url,
            "CALLROUTER_API_TOKENS": f"{API_TOKEN}:admin:*",
            "CALLROUTER_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        })
        client = redis_lib.Redis.from_url(redis_server.url)
        try:
            yield OneHost(env=env, redis=client, sessions=sessions, workdir=workdir, emulator=emulator)
        finally:
            client.close()
            engine.dispose()
            emulator.stop()
