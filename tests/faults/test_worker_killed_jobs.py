"""A worker killed (SIGKILL) in the middle of each kind of job other than the callback attempt
(tests/faults/test_worker_killed.py): a due callback, the reconcile. One host is enough (the point is the
job's exactly-once, not the network): a real Redis, a real PostgreSQL, real `callrouter worker` processes,
jobs enqueued with RQ as the scheduler and cron enqueue them.

"In the middle" is made deterministic with a test-only hook (workers/pause_points.py): the first worker is
started with FAULT_TEST_PAUSE_BEFORE naming the call before which it stops for good; the test waits for its
marker file, SIGKILLs the worker's process group, starts a clean worker and lets the work be finished the
way production finishes it (the next cron run of the reconciler; RQ moves the abandoned job to its failed
registry and never runs it again, so nothing depends on a second run of the killed job, and a second run,
tried too, does nothing twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters import redis_keys
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import REPO_ROOT
from callrouter.domain.callbacks import CallbackOrigin, CallbackState, router_member
from tests.e2e.stack import ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, FAST_PINS, PROFESSIONAL_LINE, open_all_hours_directory
from tests.faults.cluster import wait_until
from tests.servers import postgres_process, redis_process
from workers.pause_points import PAUSE_BEFORE, PAUSE_FILE

pytestmark = pytest.mark.timeout(180)
QUEUE = "callrouter"


@dataclass
class OneHost:
    env: dict[str, str]
    redis: redis_lib.Redis
    sessions: sessionmaker[Session]
    workdir: Path

    def worker(self, *, pause_before: str | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if pause_before:
            env.update({PAUSE_BEFORE: pause_before, PAUSE_FILE: str(self.workdir / "paused")})
        with (self.workdir / "worker.log").open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "callrouter.cli", "worker", "--logging-level", "WARNING",
                                     QUEUE], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def run_until_paused(self, func: str, *args: object, pause_before: str) -> Job:
        """Enqueue the job on a worker that stops before `pause_before`, and SIGKILL it there."""
        marker = self.workdir / "paused"
        marker.unlink(missing_ok=True)
        proc = self.worker(pause_before=pause_before)
        try:
            job = Queue(QUEUE, connection=self.redis).enqueue(func, *args, job_timeout=120)
            wait_until(marker.exists, timeout=60, what=f"{func} paused before {pause_before}", every=0.05)
            assert marker.read_text() == pause_before
        finally:
            kill(proc)
        return job

    def run(self, func: str, *args: object) -> object:
        """Enqueue the job on a clean worker (burst: it quits when the queue is empty); its result."""
        job = Queue(QUEUE, connection=self.redis).enqueue(func, *args, job_timeout=120)
        proc = self.worker()
        try:
            wait_until(lambda: job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED), timeout=90,
                       what=f"{func} done", every=0.1)
        finally:
            kill(proc)
        assert job.get_status() == JobStatus.FINISHED, (self.workdir / "worker.log").read_text()[-3000:]
        return job.return_value()


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the worker's process group (the test started it in its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneHost]:
    workdir = tmp_path_factory.mktemp("one-host")
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
            "CALLROUTER_PUBLIC_URL": "https://callrouter.test",
            "CALLROUTER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "CALLROUTER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CALLROUTER_TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # nothing is dialled in these jobs
            "CALLROUTER_API_TOKENS": f"{API_TOKEN}:admin:*",
            "CALLROUTER_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        })
        client = redis_lib.Redis.from_url(redis_server.url)
        try:
            yield OneHost(env=env, redis=client, sessions=sessions, workdir=workdir)
        finally:
            client.close()
            engine.dispose()


def _due_callback(host: OneHost, sid: str) -> int:
    """A callback requested for a moment that has come (nobody on duty: it waits in line, is not dialled)."""
    now = datetime.now(UTC)
    callback, created = SqlCallbackStore(host.sessions).create({
        "state": CallbackState.REQUESTED, "origin": CallbackOrigin.CLOSED, "organisation": "UWV", "topic": "*",
        "priority_class": "pro", "phone_number": "+31612345601", "line_number": PROFESSIONAL_LINE,
        "place_at": now - timedelta(minutes=5), "due_at": now - timedelta(seconds=1),
        "expires_at": now + timedelta(hours=24), "attempts": 0, "max_attempts": 3, "created_at": now,
        "caseworker_id": None, "location": "AMS", "call_sid": sid, "voice_message_url": None,
    }, open_key=f"{sid}:UWV:*", cause="requested")
    assert created
    return callback.id


def _in_line(host: OneHost, callback_id: int) -> bool:
    return bool(host.redis.hexists(redis_keys.calls("UWV"), router_member(callback_id)))


def _causes(host: OneHost, callback_id: int) -> list[str]:
    return [e.cause for e in SqlCallbackStore(host.sessions).events(callback_id)]


def test_a_due_callback_killed_between_the_record_and_the_line_joins_the_line_once(host: OneHost) -> None:
    host.redis.set(redis_keys.live_state_marker(), "1")  # Redis has its live state: no rebuild hides the gap
    callback_id = _due_callback(host, "CAkilledmakedue")
    host.run_until_paused("workers.jobs.make_callback_due", callback_id, pause_before="router.enqueue")
    # The half-done state the kill leaves: scheduled in the record, not in line in Redis.
    assert SqlCallbackStore(host.sessions).get(callback_id).state == CallbackState.SCHEDULED  # type: ignore[union-attr]
    assert not _in_line(host, callback_id)

    host.run("workers.jobs.reconcile_live_state")  # the next cron run after the restart
    assert _in_line(host, callback_id)
    # RQ never runs the killed job again; if something did, it would do nothing.
    assert host.run("workers.jobs.make_callback_due", callback_id) is False
    host.run("workers.jobs.reconcile_live_state")
    assert _causes(host, callback_id).count("due") == 1
    assert SqlCallbackStore(host.sessions).get(callback_id).state == CallbackState.SCHEDULED  # type: ignore[union-attr]
    queued = [m for key in host.redis.scan_iter(match="*UWV*") if host.redis.type(key) == b"zset"
              for m in host.redis.zrange(key, 0, -1) if m.decode() == router_member(callback_id)]
    assert len(queued) == 1, queued


def test_a_reconcile_killed_in_the_middle_of_a_rebuild_rebuilds_on_the_next_run(host: OneHost) -> None:
    callback_id = _due_callback(host, "CAkilledrebuild")
    assert host.run("workers.jobs.make_callback_due", callback_id) is True
    host.redis.flushdb()  # Redis lost its data (a restart without persistence): the next reconcile rebuilds
    host.run_until_paused("workers.jobs.reconcile_live_state", pause_before="router.rebuild")
    assert not host.redis.exists(redis_keys.live_state_marker())  # the marker is set only after the rebuild

    report = host.run("workers.jobs.reconcile_live_state")
    assert isinstance(report, dict) and report["rebuilt"] is True
    assert host.redis.exists(redis_keys.live_state_marker()) and _in_line(host, callback_id)
    report = host.run("workers.jobs.reconcile_live_state")
    assert isinstance(report, dict) and report["rebuilt"] is False  # exactly once: not again on the next run
    assert _causes(host, callback_id).count("due") == 1
