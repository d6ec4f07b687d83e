"""The service's retry of a Redis command in a failover: redis-py's Retry, and NOREPLICAS too.

With `min-replicas-to-write` (docs/operations.md) a primary that has lost its replicas refuses writes with
NOREPLICAS: a primary being demoted, whose replicas already follow the new one, or a new primary before its
first replica has caught up. redis-py raises that as a plain ResponseError and keeps the connection, so a
client would ask the old primary again until the sentinels demote it (about 11 s in the fault suite) and each
caller meanwhile hears the apology. Retried here like a lost connection: the connection is closed, and the
next attempt asks the sentinels for the primary again. Safe to repeat: Redis refuses the write before it
makes it (for a script, at its first write, which the router's scripts make after their reads).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, TypeVar

from redis.backoff import AbstractBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

T = TypeVar("T")
NO_REPLICAS = "NOREPLICAS"


def refused_for_want_of_replicas(error: Exception) -> bool:
    return isinstance(error, ResponseError) and str(error).startswith(NO_REPLICAS)


class FailoverRetry(Retry):
    """Retry on a lost connection, a timeout, and NOREPLICAS; any other error of a command is raised at once."""

    def __init__(self, backoff: AbstractBackoff, retries: int) -> None:
        super().__init__(backoff, retries,
                         supported_errors=(RedisConnectionError, RedisTimeoutError, socket.timeout, ResponseError))

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any],
                        is_retryable: Callable[[Exception], bool] | None = None,
                        with_failure_count: bool = False) -> T:
        def retryable(error: Exception) -> bool:
            if isinstance(error, ResponseError):
                return refused_for_want_of_replicas(error)
            return is_retryable(error) if is_retryable is not None else True

        return super().call_with_retry(do, fail, retryable, with_failure_count)
