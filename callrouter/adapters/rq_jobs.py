"""Background work through RQ. Jobs are named by path so the service never imports workers/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from redis import Redis
from rq import Queue

QUEUE = "callrouter"


class RqJobs:
    def __init__(self, redis: Redis, *, queue_name: str = QUEUE,
                 real_moment: Callable[[datetime], datetime] = lambda at: at):
        self._queue = Queue(queue_name, connection=redis)
        self._real_moment = real_moment  # the service's clock may be a demo clock; RQ runs on real time

    def start_attempt(self, *, callback_id: int, liaison_id: int) -> None:
        self._queue.enqueue("workers.jobs.start_callback_attempt", callback_id, liaison_id, job_timeout=60)

    def make_due_at(self, *, callback_id: int, at: datetime) -> None:
        # RQ's scheduler (a worker started --with-scheduler) moves it to the queue at `at`.
        self._queue.enqueue_at(self._real_moment(at), "workers.jobs.make_callback_due", callback_id, job_timeout=60)

    def end_wrap_up_at(self, *, liaison_id: int, at: datetime) -> None:
        self._queue.enqueue_at(self._real_moment(at), "workers.jobs.end_wrap_up", liaison_id, job_timeout=60)
