"""A transaction that lost its connection runs again, briefly and a bounded number of times; nothing else does."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from callrouter.adapters.sql import retry
from callrouter.adapters.sql.retry import retry_on_lost_connection


class Boom(Exception):
    pass


def lost() -> DBAPIError:
    return DBAPIError("SELECT 1", {}, Boom("terminating connection due to administrator command"),
                      connection_invalidated=True)


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "PAUSE_SECONDS", 0.0)


def test_a_lost_connection_is_retried_and_the_second_run_counts() -> None:
    runs: list[int] = []

    @retry_on_lost_connection
    def transaction() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise lost()
        return "committed"

    assert transaction() == "committed"
    assert len(runs) == 2


def test_it_gives_up_after_the_retries() -> None:
    runs: list[int] = []

    @retry_on_lost_connection
    def transaction() -> None:
        runs.append(1)
        raise lost()

    with pytest.raises(DBAPIError):
        transaction()
    assert len(runs) == retry.RETRIES + 1


def test_any_other_database_error_is_raised_at_once() -> None:
    runs: list[int] = []

    @retry_on_lost_connection
    def transaction() -> None:
        runs.append(1)
        raise IntegrityError("INSERT", {}, Boom("duplicate key"))

    with pytest.raises(IntegrityError):
        transaction()
    assert len(runs) == 1
