"""One liaison, one call, in the record itself: a second offered or connected call for a liaison is refused by the
database (uq_calls_open_liaison, migration 0013), also when two processes offer at the same moment, as after a
Redis failover lost the router's claim and each process's check of the record saw the liaison free."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, LiaisonTaken

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LIAISON = 7


def _queued(store: SqlCallStore) -> str:
    sid = "CA" + uuid.uuid4().hex
    store.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.QUEUED, received_at=AT, organisation="UWV",
                               queued_at=AT), detail={})
    return sid


def _offer(store: SqlCallStore, sid: str, liaison: int = LIAISON) -> CallRecord | None:
    return store.apply(sid, event=EventKind.OFFERED, at=AT, move=CallMove.OFFER, detail={"liaison": liaison},
                       liaison_id=liaison, offered_at=AT)


def test_a_second_call_for_a_busy_liaison_is_refused_and_changes_nothing(calls: SqlCallStore) -> None:
    first, second = _queued(calls), _queued(calls)
    assert _offer(calls, first) is not None
    with pytest.raises(LiaisonTaken):
        _offer(calls, second)
    record = calls.get(second)
    assert record is not None and (record.state, record.liaison_id, record.offered_at) == (CallState.QUEUED, None, None)
    assert [e.kind for e in calls.events(second)] == [EventKind.RECEIVED]  # the event rolled back with it
    # Connected, still theirs; another liaison may take the second call.
    assert calls.apply(first, event=EventKind.ANSWERED, at=AT, move=CallMove.ANSWER) is not None
    with pytest.raises(LiaisonTaken):
        _offer(calls, second)
    assert _offer(calls, second, liaison=LIAISON + 1) is not None


def test_once_the_first_call_ends_or_goes_back_the_liaison_takes_the_next(calls: SqlCallStore) -> None:
    first, second, third = _queued(calls), _queued(calls), _queued(calls)
    assert _offer(calls, first) is not None
    assert calls.apply(first, event=EventKind.LIAISON_NO_ANSWER, at=AT, move=CallMove.RETURN, liaison_id=None)
    assert _offer(calls, second) is not None
    assert calls.apply(second, event=EventKind.COMPLETED, at=AT, move=CallMove.END) is not None  # keeps its liaison
    record = calls.get(second)
    assert record is not None and record.liaison_id == LIAISON
    assert _offer(calls, third) is not None


def test_two_processes_offering_two_calls_to_one_liaison_at_once_one_wins(database_url: str) -> None:
    upgrade(database_url)
    engines = [make_engine(database_url) for _ in range(2)]
    stores = [SqlCallStore(make_session_factory(engine)) for engine in engines]
    try:
        for _round in range(10):
            sids = [_queued(stores[0]) for _ in stores]
            ready = threading.Barrier(len(stores))
            results: list[str] = []

            def offer(store: SqlCallStore, sid: str, ready: threading.Barrier = ready,
                      results: list[str] = results) -> None:
                ready.wait()
                try:
                    results.append("offered" if _offer(store, sid) is not None else "not applied")
                except LiaisonTaken:
                    results.append("refused")

            threads = [threading.Thread(target=offer, args=pair) for pair in zip(stores, sids, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(results) == ["offered", "refused"], results
            holding = stores[0].calls_holding(LIAISON)
            assert [r.sid for r in holding] in ([sids[0]], [sids[1]])
            assert stores[0].apply(holding[0].sid, event=EventKind.COMPLETED, at=AT, move=CallMove.END)
    finally:
        for engine in engines:
            engine.dispose()


def test_the_migration_names_liaisons_that_already_hold_two_calls(database_url: str) -> None:
    upgrade(database_url, "0012")
    engine = make_engine(database_url)
    store = SqlCallStore(make_session_factory(engine))
    try:
        for _ in range(2):
            sid = _queued(store)
            with engine.begin() as conn:  # as a double booking before this migration left it
                conn.execute(text("UPDATE calls SET state = 'connected', liaison_id = :l WHERE sid = :s"),
                             {"l": LIAISON, "s": sid})
        with pytest.raises(RuntimeError, match=f"liaison {LIAISON} \\(2 calls\\)"):
            upgrade(database_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE calls SET state = 'ended' WHERE id = (SELECT MIN(id) FROM calls)"))
        upgrade(database_url)  # resolved: it goes through
        with pytest.raises(LiaisonTaken):
            _offer(store, _queued(store))
    finally:
        engine.dispose()
