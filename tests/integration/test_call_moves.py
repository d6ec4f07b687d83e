"""The SQL record refuses every move the call's state machine (domain.calls.MOVES) does not allow."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.engine import make_engine
from callrouter.domain.calls import MOVES, CallMove, CallRecord, CallState, EventKind, IllegalMove

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CASES = [(state, move) for state in CallState for move in CallMove]


def _call_in(store: SqlCallStore, state: CallState) -> str:
    sid = "CA" + uuid.uuid4().hex
    store.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=state, received_at=AT), detail={})
    return sid


def test_every_move_is_allowed_exactly_from_its_sources_and_lands_on_its_target(calls: SqlCallStore) -> None:
    for state, move in CASES:
        sid = _call_in(calls, state)
        moved = calls.apply(sid, event=EventKind.STATUS, at=AT, move=move, detail={"try": move.value})
        record = calls.get(sid)
        assert record is not None
        if state in MOVES[move].sources:
            assert moved is not None and moved.state == record.state == MOVES[move].target, (state, move)
            assert [e.kind for e in calls.events(sid)][-1] == EventKind.STATUS
        else:  # refused: nothing recorded, the state unchanged
            assert moved is None and record.state == state, (state, move)
            assert [e.kind for e in calls.events(sid)] == [EventKind.RECEIVED], (state, move)


def test_an_ended_call_allows_no_move_at_all(calls: SqlCallStore) -> None:
    sid = _call_in(calls, CallState.ENDED)
    assert all(calls.apply(sid, event=EventKind.STATUS, at=AT, move=move) is None for move in CallMove)


def test_a_state_change_that_names_no_move_is_refused_loudly(calls: SqlCallStore) -> None:
    sid = _call_in(calls, CallState.MENU)
    with pytest.raises(IllegalMove):
        calls.apply(sid, event=EventKind.QUEUED, at=AT, state=CallState.QUEUED)
    assert calls.get(sid).state == CallState.MENU  # type: ignore[union-attr]


def test_only_in_guards_an_event_without_a_move(calls: SqlCallStore) -> None:
    sid = _call_in(calls, CallState.MENU)
    assert calls.apply(sid, event=EventKind.ANNOUNCED, at=AT, only_in=frozenset({CallState.QUEUED})) is None
    assert calls.apply(sid, event=EventKind.MENU_REPEAT, at=AT, only_in=frozenset({CallState.MENU})) is not None


def test_a_read_does_not_wait_for_a_writer_holding_the_lock(calls: SqlCallStore, database_url: str) -> None:
    """Reads (a hold turn reads its call) take no place in SQLite's writers' queue: 1,000 waiting callers'
    reads queued behind every write was most of the wait webhook's tail. On PostgreSQL nothing changes."""
    sid = _call_in(calls, CallState.QUEUED)
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    writer = make_engine(database_url)
    started = threading.Event()
    done = threading.Event()

    def hold_the_write_lock() -> None:
        with writer.begin() as conn:  # BEGIN IMMEDIATE, as every write: the lock is held until done
            conn.exec_driver_sql("UPDATE calls SET topic = 'ww' WHERE sid = ?", (sid,))
            started.set()
            done.wait(10)

    thread = threading.Thread(target=hold_the_write_lock)
    thread.start()
    try:
        assert started.wait(10)
        began = time.monotonic()
        record = calls.get(sid)
        holding = calls.calls_holding(1)
        took = time.monotonic() - began
    finally:
        done.set()
        thread.join()
        writer.dispose()
    assert record is not None and record.state == CallState.QUEUED and record.topic is None  # the last commit
    assert holding == [] and took < 2, took  # not behind the writer (it lets go after 10 s)
