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
