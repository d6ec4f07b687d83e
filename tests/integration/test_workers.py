"""The RQ jobs, run by a real RQ worker against the real Redis and database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

from callrouter.adapters import redis_keys
from tests.integration.conftest import directory_database
from workers import jobs


@pytest.fixture()
def worker_env(database_url: str, redis_url: str, redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # noqa: ANN001
    directory_database(database_url, tmp_path, open_all_hours=True)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLROUTER_REDIS_URL", redis_url)
    monkeypatch.setenv("CALLROUTER_ENVIRONMENT", "test")
    jobs.container.cache_clear()
    yield
    if jobs.container.cache_info().currsize:
        jobs.container().close()
    jobs.container.cache_clear()


def test_the_reconcile_job_rebuilds_once_after_redis_lost_its_data(worker_env: None, redis) -> None:  # noqa: ANN001
    queue = Queue(jobs.QUEUE, connection=redis)
    first = queue.enqueue(jobs.reconcile_live_state)
    second = queue.enqueue(jobs.reconcile_live_state)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert first.latest_result().return_value["rebuilt"] is True
    assert second.latest_result().return_value["rebuilt"] is False
    assert redis.exists(redis_keys.live_state_marker())


def test_the_cron_file_registers_the_reconciler(redis) -> None:  # noqa: ANN001
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file(str(Path(__file__).resolve().parents[2] / "workers" / "cron.py"))
    [job] = [j for j in scheduler.get_jobs() if j.func is jobs.reconcile_live_state]
    assert job.interval == 10 and job.queue_name == jobs.QUEUE


def test_the_cron_outlives_redis_refusing_writes_and_schedules_the_reconciler_again(database_url: str) -> None:
    """As in a failover: a primary without its replicas answers NOREPLICAS to every write for a while."""
    import os
    import subprocess
    import sys
    import time

    import redis as redis_lib

    from callrouter.config import REPO_ROOT
    from tests.servers import redis_process

    with redis_process() as server:
        client = redis_lib.Redis(port=server.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
        env.update({"CALLROUTER_ENVIRONMENT": "test", "CALLROUTER_DATABASE_URL": database_url,
                    "CALLROUTER_REDIS_URL": f"redis://127.0.0.1:{server.port}/0", "PYTHONPATH": str(REPO_ROOT)})
        cron = subprocess.Popen([sys.executable, "-m", "callrouter.cli", "cron", "workers/cron.py",
                                 "--logging-level", "WARNING"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        queue = Queue(jobs.QUEUE, connection=client)
        try:
            deadline = time.monotonic() + 30
            while queue.count == 0:
                assert cron.poll() is None and time.monotonic() < deadline, "the cron never enqueued the reconciler"
                time.sleep(0.1)
            client.config_set("min-replicas-to-write", 1)  # no replica: every write refused
            time.sleep(12)  # longer than the reconciler's interval: the cron tries to write and is refused
            assert cron.poll() is None, cron.stderr.read().decode()[-2000:] if cron.stderr else ""
            client.config_set("min-replicas-to-write", 0)
            client.delete(*client.keys("rq:queue:*"))
            deadline = time.monotonic() + 30
            while queue.count == 0:  # the next run is enqueued again
                assert cron.poll() is None and time.monotonic() < deadline, "not scheduled again"
                time.sleep(0.1)
        finally:
            cron.terminate()
            cron.wait(timeout=10)
            client.close()
