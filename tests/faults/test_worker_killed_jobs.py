"""A worker killed (SIGKILL) in the middle of each kind of job other than the callback attempt
(tests/faults/test_worker_killed.py): a due callback, the reconcile, the statistics rollup, the retention,
and the dispatch that claims a liaison for a callback.
One host is enough (the point is the
job's exactly-once, not the network): a real Redis, a real PostgreSQL, real `callrouter worker` processes,
jobs enqueued with RQ as the scheduler and cron enqueue them.

"In the middle" is made deterministic with a test-only hook (tests/faults/one_host.py): the test SIGKILLs
the worker where it paused, starts a clean worker and lets the work be finished the
way production finishes it (the next cron run of the reconciler; RQ moves the abandoned job to its failed
registry and never runs it again, so nothing depends on a second run of the killed job, and a second run,
tried too, does nothing twice).
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from rq import Queue
from sqlalchemy import func, select

from callrouter.adapters import redis_keys
from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.stats_tables import CallStatsRow
from callrouter.bootstrap import build
from callrouter.config import Settings
from callrouter.domain.callbacks import CallbackOrigin, CallbackState, callback_id_of, router_member
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.services.calls.routing import RouteAfterReply
from callrouter.services.staff.presence import set_presence
from tests.e2e.stack import PROFESSIONAL_LINE
from tests.faults.one_host import QUEUE, OneHost
from twilio_emulator.people import Phone

pytestmark = pytest.mark.timeout(180)


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
              for m in host.redis.zrange(key, 0, -1) if m == router_member(callback_id).encode()]
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


def _ended_call(host: OneHost, sid: str, *, start: datetime) -> None:
    """A call as the voice flow writes it: received, queued, answered, completed."""
    calls = SqlCallStore(host.sessions)
    calls.open_call(CallRecord(sid=sid, line_number=PROFESSIONAL_LINE, line_kind="professional",
                               caller_pseudonym="p", caller_masked="+316****01", state=CallState.MENU,
                               received_at=start, organisation="UWV", topic="ww", location="AMS"), detail={})
    calls.apply(sid, event=EventKind.QUEUED, at=start + timedelta(seconds=10), detail={})
    calls.apply(sid, event=EventKind.ANSWERED, at=start + timedelta(seconds=20), detail={}, dedupe="answered")
    calls.apply(sid, event=EventKind.COMPLETED, at=start + timedelta(seconds=60), detail={"status": "completed"},
                dedupe="ended", move=CallMove.END)


def _received_in_stats(host: OneHost) -> int:
    with host.sessions() as session:
        return int(session.scalar(select(func.coalesce(func.sum(CallStatsRow.received), 0))) or 0)


def test_a_rollup_killed_inside_an_interval_leaves_the_old_figures_and_the_next_run_counts_each_call_once(
        host: OneHost) -> None:
    now = datetime.now(UTC)
    for n in range(3):
        _ended_call(host, f"CArollupbefore{n}", start=now - timedelta(minutes=5, seconds=n))
    host.run("workers.statistics_jobs.rollup_recent")
    assert _received_in_stats(host) == 3
    for n in range(2):
        _ended_call(host, f"CArollupafter{n}", start=now - timedelta(minutes=4, seconds=n))
    # Killed inside an interval's transaction: its old rows deleted, the new ones not yet written.
    host.run_until_paused("workers.statistics_jobs.rollup_recent", pause_before="parts.stats_store._columns")
    assert _received_in_stats(host) == 3  # rolled back by PostgreSQL: the figures of the last complete run

    host.run("workers.statistics_jobs.rollup_recent")  # the next cron run
    assert _received_in_stats(host) == 5
    host.run("workers.statistics_jobs.rollup_recent")
    assert _received_in_stats(host) == 5  # recomputed, never added to


def _closed_callback(host: OneHost, key: str, *, closed: datetime) -> int:
    store = SqlCallbackStore(host.sessions)
    callback, _ = store.create({
        "state": CallbackState.SCHEDULED, "origin": CallbackOrigin.IN_QUEUE, "organisation": "UWV", "topic": "ww",
        "priority_class": "pro", "phone_number": "+31612345602", "line_number": PROFESSIONAL_LINE,
        "place_at": closed, "due_at": closed, "expires_at": closed + timedelta(hours=48), "attempts": 0,
        "max_attempts": 3, "created_at": closed - timedelta(hours=1), "location": "AMS"}, open_key=key, cause="test")
    assert store.move(callback.id, to=CallbackState.COMPLETED, cause="test", at=closed,
                      expect=frozenset(CallbackState))
    return callback.id


def _count_calls(host: OneHost, prefix: str) -> int:
    with host.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CallRow).where(CallRow.sid.like(f"{prefix}%"))) or 0)


def test_a_retention_killed_in_the_middle_finishes_on_the_next_run_each_rule_once(host: OneHost) -> None:
    now = datetime.now(UTC)
    for n in range(3):
        _ended_call(host, f"CAretentionold{n}", start=now - timedelta(days=500, minutes=n))
    old = [_closed_callback(host, f"old{n}", closed=now - timedelta(days=499)) for n in range(2)]
    recent = _closed_callback(host, "recent", closed=now - timedelta(days=10))  # number masked, row kept
    store = SqlCallbackStore(host.sessions)

    # Killed inside the transaction of the first batch of old calls: the numbers were masked before.
    host.run_until_paused("workers.retention_jobs.purge_expired", pause_before="parts.retention.store._delete_calls")
    assert "*" in store.get(recent).phone_number  # type: ignore[union-attr]
    assert _count_calls(host, "CAretentionold") == 3  # the batch rolled back: nothing half deleted

    report = host.run("workers.retention_jobs.purge_expired")  # the next (hourly) run
    assert isinstance(report, dict)
    assert (report["callback_numbers_masked"], report["calls_deleted"], report["callbacks_deleted"]) == (0, 3, 2)
    assert _count_calls(host, "CAretentionold") == 0 and all(store.get(i) is None for i in old)
    again = host.run("workers.retention_jobs.purge_expired")
    assert isinstance(again, dict) and not any(v for k, v in again.items() if k != "dry_run"), again
    kept = store.get(recent)
    assert kept is not None and "*" in kept.phone_number


def test_a_dispatch_killed_between_the_claim_and_the_attempt_job_dials_the_callback_once(host: OneHost) -> None:
    with mock.patch.dict(os.environ, host.env, clear=True):
        app = build(Settings())
    try:
        jan = app.directory.liaison_by_code("uwv-jan")
        assert jan is not None
        host.emulator.register_phone(jan.address, Phone("no-answer"))
        # Jan available, without routing at once (this process is not under test): the dispatch job claims.
        set_presence(dataclasses.replace(app.voice, after=RouteAfterReply()), liaison_id=jan.id,
                     status=Presence.AVAILABLE, organisation_scope=None)
        host.run_until_paused("workers.jobs.dispatch_organisation", "UWV", pause_before="voice.jobs.start_attempt")
        held = app.router.call_of_liaison(liaison_id=jan.id, org="UWV")
        callback_id = callback_id_of(held) if held is not None else None
        assert callback_id is not None, held  # a callback claimed for Jan
        store = SqlCallbackStore(host.sessions)
        assert store.get(callback_id).state == CallbackState.SCHEDULED  # type: ignore[union-attr]
        assert Queue(QUEUE, connection=host.redis).count == 0  # the attempt job was never enqueued

        host.run("workers.jobs.reconcile_live_state")  # the next cron run; then the attempt job it asked for
        callback = store.get(callback_id)
        assert callback is not None and callback.state == CallbackState.DIALLING and callback.attempts == 1
        assert callback.liaison_id == jan.id
        host.run("workers.jobs.reconcile_live_state")
        assert host.run("workers.jobs.start_callback_attempt", callback_id, jan.id) is False  # a late duplicate
        assert store.get(callback_id).attempts == 1  # type: ignore[union-attr]
        assert _causes(host, callback_id).count("attempt 1 claimed") == 1
        legs = [c for c in host.emulator.calls if c.to == jan.address]
        assert len(legs) == 1, [c.sid for c in legs]  # Jan's phone rang once
    finally:
        app.engine.dispose()
