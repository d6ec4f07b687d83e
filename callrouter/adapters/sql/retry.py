"""A transaction that failed because its connection was lost (PostgreSQL restarted, failed over, a network
blip) is run again, once or twice, briefly; anything else is raised at once.

Safe for the stores that use it: a transaction that failed before COMMIT was rolled back by the server,
so running it again is its first effect. A connection lost during COMMIT itself leaves the outcome
unknown; the stores' writes are guarded (a call's move is allowed from its source states only, an event
with a dedupe key once, a call's sid is unique), so a second run after a commit that did happen is
refused instead of applied twice. New connections wait for the database a few seconds (engine.py), so a
retried transaction usually finds it back.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger("callrouter.sql")
P = ParamSpec("P")
T = TypeVar("T")
RETRIES = 2
PAUSE_SECONDS = 0.2


def lost_connection(exc: BaseException) -> bool:
    """The database connection broke under the statement (SQLAlchemy invalidated it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def retry_on_lost_connection(fn: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(RETRIES + 1):
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if not lost_connection(exc) or attempt == RETRIES:
                    raise
                log.warning("sql.retry %s after a lost connection (attempt %s): %s", fn.__qualname__, attempt + 1,
                            str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__)
                time.sleep(PAUSE_SECONDS * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    return run
