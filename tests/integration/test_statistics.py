"""Rollups on SQLite and PostgreSQL: a fixed set of calls written through the real call store, every
figure checked against values worked out by hand below."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.adapters.sql.stats_tables import AnsweredWithinRow, CallStatsRow
from callrouter.domain.callbacks import CallbackState
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps, StatsQueryInvalid

K = EventKind
A = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 25 November, 10:00-10:15 in Amsterdam
B = A + timedelta(minutes=15)  # 10:15-10:30
DAY2 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # Thursday, 14:00 in Amsterdam
DEC1 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday of the next week and month, 09:00 in Amsterdam
PRO, CIT = "professional", "citizen"


class FixedClock:
    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@dataclass
class World:
    calls: SqlCallStore
    callbacks: SqlCallbackStore
    stats: SqlStatsStore
    deps: StatsDeps
    clock: FixedClock
    sessions: object

    def call(self, sid: str, *, start: datetime, org: str | None = None, topic: str | None = None,
             location: str | None = None, kind: str = PRO, events: list[tuple[EventKind, float, dict]]) -> None:
        """One call as the voice flow writes it: opened (the received event), then its events in the
        order given (which need not be the order of their times)."""
        self.calls.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind=kind, caller_pseudonym="p",
                                        caller_masked="+316****01", state=CallState.MENU, received_at=start,
                                        organisation=org, topic=topic, location=location), detail={})
        for event, seconds, detail in events:
            self.event(sid, event, start + timedelta(seconds=seconds), detail)

    def event(self, sid: str, event: EventKind, moment: datetime, detail: dict) -> CallRecord | None:
        dedupe = {K.ANSWERED: "answered", K.COMPLETED: "ended", K.ABANDONED: "ended"}.get(event)
        if event == K.STATUS:
            dedupe = f"status:{detail['status']}"
        return self.calls.apply(sid, event=event, at=moment, detail=detail, dedupe=dedupe)

    def callback(self, *, created: datetime, org: str, topic: str, moves: list[tuple[CallbackState, float]]) -> None:
        values = {"state": CallbackState.SCHEDULED, "origin": "in_queue", "organisation": org, "topic": topic,
                  "priority_class": "pro", "phone_number": "+31612345601", "line_number": "+31850001000",
                  "place_at": created, "due_at": created, "expires_at": created + timedelta(hours=48), "attempts": 0,
                  "max_attempts": 3, "created_at": created, "location": "AMS"}
        callback, _ = self.callbacks.create(values, open_key=f"k:{org}:{topic}:{created.isoformat()}", cause="test")
        for state, seconds in moves:
            assert self.callbacks.move(callback.id, to=state, cause="test", at=created + timedelta(seconds=seconds),
                                       expect=frozenset(CallbackState))


@pytest.fixture()
def world(database_url: str) -> Iterator[World]:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    clock = FixedClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    stats = SqlStatsStore(sessions)
    yield World(SqlCallStore(sessions), SqlCallbackStore(sessions), stats, StatsDeps(store=stats, clock=clock), clock,
                sessions)
    engine.dispose()


def status(name: str) -> dict:
    return {"status": name}


def fixed_calls(w: World) -> None:
    # Interval A, UWV / ww / Amsterdam / professional line.
    w.call("c1", start=A, org="UWV", topic="ww", location="AMS", events=[  # waits 12 s, talks 180 s
        (K.QUEUED, 15, {}), (K.OFFERED, 25, {}), (K.STATUS, 26, status("in-progress")), (K.ANSWERED, 27, {}),
        (K.COMPLETED, 207, status("completed")), (K.STATUS, 208, status("completed")),
        (K.STATUS, 209, status("ringing"))])  # a late, older status after the end
    assert w.event("c1", K.STATUS, A + timedelta(seconds=230), status("completed")) is None  # a repeat is refused
    w.call("c2", start=A + timedelta(seconds=60), org="UWV", topic="ww", location="AMS", events=[  # 45 s, 300 s
        # written out of order: the end and its status before the answer they follow
        (K.STATUS, 366, status("completed")), (K.COMPLETED, 365, status("completed")), (K.QUEUED, 20, {}),
        (K.ANSWERED, 65, {}), (K.OFFERED, 60, {})])
    w.call("c3", start=A + timedelta(seconds=120), org="UWV", topic="ww", location="AMS", events=[  # short abandon
        (K.QUEUED, 10, {}), (K.ABANDONED, 13, status("completed")), (K.STATUS, 13, status("completed"))])
    w.call("c4", start=A + timedelta(seconds=200), org="UWV", topic="ww", location="AMS", events=[  # abandons at 90 s
        (K.QUEUED, 10, {}), (K.ABANDONED, 100, status("completed"))])
    w.call("c5", start=A + timedelta(seconds=300), org="UWV", topic="ww", location="AMS", events=[  # callback at 130 s
        (K.QUEUED, 20, {}), (K.CALLBACK_REQUESTED, 150, {"callback": 1}), (K.COMPLETED, 180, {"callback": "arranged"})])
    w.callback(created=A + timedelta(seconds=450), org="UWV", topic="ww",
               moves=[(CallbackState.DIALLING, 1100 - 450), (CallbackState.COMPLETED, 1150 - 450)])  # done in B
    # Interval A, other rows.
    w.call("c6", start=A + timedelta(seconds=400), org="UWV", topic="ww", location="UTR", events=[  # 90 s, 60 s
        (K.QUEUED, 10, {}), (K.ANSWERED, 100, {}), (K.COMPLETED, 160, status("completed"))])
    w.call("c7", start=A + timedelta(seconds=500), org="DUO", location="AMS", events=[
        (K.CLOSED, 10, {"organisation": "DUO"}), (K.STATUS, 20, status("completed"))])
    w.call("c8", start=A + timedelta(seconds=600), org="UWV", topic="ww", kind=CIT, events=[  # 5 s, 90 s
        (K.QUEUED, 5, {}), (K.ANSWERED, 10, {}), (K.COMPLETED, 100, status("completed"))])
    w.call("c9", start=A + timedelta(seconds=700), location="AMS", events=[
        (K.MENU_CHOICE, 5, {}), (K.STATUS, 10, status("completed"))])
    w.call("c10", start=A + timedelta(seconds=800), events=[(K.PIN_FAILED, 20, {}), (K.REFUSED, 30, {})])
    # Interval B, UWV / ww / Amsterdam.
    w.call("c11", start=A + timedelta(seconds=1000), org="UWV", topic="ww", location="AMS", events=[  # 60 s, 120 s
        (K.QUEUED, 10, {}), (K.ANSWERED, 70, {}), (K.COMPLETED, 190, status("completed"))])
    w.call("c12", start=A + timedelta(seconds=1100), org="UWV", topic="ww", location="AMS", events=[  # fails at 5 s
        (K.QUEUED, 5, {}), (K.ABANDONED, 10, {"status": "failed", "reason": "redirect failed"})])
    w.call("c13", start=A + timedelta(seconds=1200), org="UWV", topic="ww", location="AMS", events=[
        (K.QUEUED, 10, {})])  # still waiting
    w.call("c14", start=A + timedelta(seconds=1300), org="UWV", location="AMS", events=[
        (K.NO_LIAISON, 10, {"organisation": "UWV"}), (K.STATUS, 15, status("completed"))])
    # Thursday 14:00, UWV / wia / Amsterdam.
    w.call("c15", start=DAY2, org="UWV", topic="wia", location="AMS", events=[  # 20 s, 120 s
        (K.QUEUED, 10, {}), (K.ANSWERED, 30, {}), (K.COMPLETED, 150, status("completed"))])
    w.call("c16", start=DAY2 + timedelta(seconds=100), org="UWV", topic="wia", location="AMS", events=[  # 60 s
        (K.QUEUED, 10, {}), (K.ABANDONED, 70, status("completed"))])
    w.callback(created=DAY2 + timedelta(seconds=200), org="UWV", topic="wia",
               moves=[(CallbackState.DIALLING, 100), (CallbackState.FAILED, 150)])
    # Tuesday 1 December 09:00, DUO / sf / Enschede.
    w.call("c17", start=DEC1, org="DUO", topic="sf", location="ENS", events=[  # 10 s, 60 s
        (K.QUEUED, 5, {}), (K.ANSWERED, 15, {}), (K.COMPLETED, 75, status("completed"))])


_EVALUATION = ("conversations", "callback_conversations", "average_callback_talk_time_seconds", "result",
               "verdict")


def rows(w: World) -> list[dict]:
    with w.sessions() as session:  # type: ignore[operator]
        out = []
        for table in (CallStatsRow.__table__, AnsweredWithinRow.__table__):
            out += [dict(r._mapping) for r in session.execute(select(table).order_by(*table.primary_key.columns))]
        return out


def one(w: World, *, first_day: date, last_day: date | None = None, **filters: str) -> dict:
    [row] = statistics.by_day(w.deps, first_day=first_day, last_day=last_day or first_day, **filters)
    return row.figures()


def test_every_figure_of_an_interval_matches_the_hand_count(world: World) -> None:
    fixed_calls(world)
    assert statistics.rollup_interval(world.deps, start=A) == 6
    [row] = statistics.view(world.deps, grain="interval", first_day=date(2026, 11, 25), last_day=date(2026, 11, 25),
                            organisation="UWV", topic="ww", location="AMS", line_kind=PRO)
    assert row.bucket == A
    figures = row.figures()  # the evaluation figures have tests of their own (test_evaluation.py)
    assert {name: figures[name] for name in figures if not name.startswith(_EVALUATION)} == {
        "received": 5, "offered": 5, "answered": 2,  # c1, c2
        "abandoned": 2, "short_abandoned": 1,  # c3 (3 s <= 5 s), c4 (90 s)
        "answered_within_20s": 1, "service_level_20s": 1 / 3,  # c1 (12 s) / (2 answered + 2 abandoned - 1 short)
        "answered_within_60s": 2, "service_level_60s": 2 / 3,  # c1, c2 (45 s) / 3
        "answered_within_120s": 2, "service_level_120s": 2 / 3,
        "average_speed_of_answer_seconds": 28.5,  # (12 + 45) / 2
        "longest_wait_seconds": 130.0,  # c5 waited 150 - 20 s before asking for a callback
        "average_talk_time_seconds": 240.0,  # (180 + 300) / 2
        "callbacks_requested": 1, "callbacks_completed": 0, "callbacks_failed": 0,  # completed in B
        "in_progress": 0,
        "outcome_answered": 2, "outcome_abandoned_in_queue": 2, "outcome_abandoned_in_menu": 0,
        "outcome_callback_requested": 1, "outcome_closed": 0, "outcome_no_liaison": 0, "outcome_refused": 0,
        "outcome_transferred": 0, "outcome_failed": 0,
        # no transfers here (tests/integration/test_statistics_transfers.py): the time to the last liaison is
        # the speed of answer
        "transfers_out": 0, "transfers_out_blind": 0, "transfers_out_consult": 0, "transfers_out_three_way": 0,
        "transfers_in": 0, "transfers_in_answered": 0, "transfers_in_answered_share": None,
        "average_to_last_liaison_seconds": 28.5,
    }


def test_a_day_sums_its_intervals_and_recomputes_averages_from_the_sums(world: World) -> None:
    fixed_calls(world)
    assert statistics.rollup_since(world.deps, since=A, until=B) == 2
    day = one(world, first_day=date(2026, 11, 25))
    assert day["received"] == 14  # 10 in A (c1-c10), 4 in B (c11-c14)
    assert day["offered"] == 10  # A: c1-c6, c8; B: c11-c13
    assert (day["answered"], day["abandoned"], day["short_abandoned"]) == (5, 2, 1)  # c1 c2 c6 c8 c11; c3 c4
    assert day["answered_within_20s"] == 2  # c1 (12 s), c8 (5 s)
    assert day["service_level_20s"] == 2 / 6  # 2 / (5 answered + 2 abandoned - 1 short)
    assert day["service_level_60s"] == 4 / 6  # c1, c2 (45), c8, c11 (60 <= 60)
    assert day["average_speed_of_answer_seconds"] == 42.4  # (12 + 45 + 90 + 5 + 60) / 5
    assert day["average_talk_time_seconds"] == 150.0  # (180 + 300 + 60 + 90 + 120) / 5
    assert day["longest_wait_seconds"] == 130.0
    assert (day["callbacks_requested"], day["callbacks_completed"], day["in_progress"]) == (1, 1, 1)  # c13 waits
    assert {k: v for k, v in day.items() if k.startswith("outcome_") and v} == {
        "outcome_answered": 5, "outcome_abandoned_in_queue": 2, "outcome_callback_requested": 1,
        "outcome_closed": 1, "outcome_abandoned_in_menu": 1, "outcome_refused": 1, "outcome_no_liaison": 1,
        "outcome_failed": 1}  # c7, c9, c10, c14, c12


def test_recomputing_gives_identical_rows_and_late_duplicates_change_nothing(world: World) -> None:
    fixed_calls(world)
    statistics.rollup_since(world.deps, since=A, until=DEC1 + timedelta(hours=1))
    first = rows(world)
    world.event("c1", K.STATUS, A + timedelta(seconds=400), status("in-progress"))  # very late and out of order
    world.event("c2", K.ANSWERED, A + timedelta(seconds=200), {})  # a second answer: refused by the store
    world.clock.moment += timedelta(hours=1)
    statistics.rollup_since(world.deps, since=A, until=DEC1 + timedelta(hours=1))
    statistics.rollup_interval(world.deps, start=A)
    assert rows(world) == first and len(first) > 0


def test_filters_and_the_views_by_day_week_month_and_hour(world: World) -> None:
    fixed_calls(world)
    statistics.rollup_since(world.deps, since=A, until=DEC1 + timedelta(minutes=15))
    nov25, dec1 = date(2026, 11, 25), date(2026, 12, 1)
    days = statistics.by_day(world.deps, first_day=nov25, last_day=dec1)
    assert [(r.bucket, r.totals.received) for r in days] == [(nov25, 14), (date(2026, 11, 26), 2), (dec1, 1)]
    thursday = days[1].figures()
    assert thursday["service_level_20s"] == 0.5  # c15 at 20 s / (1 answered + 1 abandoned)
    assert (thursday["callbacks_requested"], thursday["callbacks_failed"]) == (1, 1)
    weeks = statistics.by_week(world.deps, first_day=nov25, last_day=dec1)
    assert [(r.bucket, r.totals.received) for r in weeks] == [(date(2026, 11, 23), 16), (date(2026, 11, 30), 1)]
    assert weeks[0].figures()["average_speed_of_answer_seconds"] == pytest.approx(232 / 6)  # (212 + 20) / 6
    months = statistics.by_month(world.deps, first_day=nov25, last_day=dec1)
    assert [(r.bucket, r.totals.answered) for r in months] == [(date(2026, 11, 1), 6), (date(2026, 12, 1), 1)]
    hours = statistics.by_hour_of_day(world.deps, first_day=nov25, last_day=dec1)
    assert [(r.bucket, r.totals.received) for r in hours] == [(9, 1), (10, 14), (14, 2)]  # local hours
    assert one(world, first_day=nov25, organisation="UWV")["received"] == 11  # c1-c6, c8, c11-c14
    assert one(world, first_day=nov25, line_kind=CIT)["average_speed_of_answer_seconds"] == 5.0  # c8
    assert one(world, first_day=nov25, location="UTR")["received"] == 1  # c6
    assert one(world, first_day=nov25, last_day=dec1, topic="wia")["received"] == 2  # c15, c16
    assert statistics.by_day(world.deps, first_day=nov25, last_day=dec1, organisation="CJIB") == []
    per_org = statistics.view(world.deps, grain="month", first_day=nov25, last_day=dec1, by=("organisation",))
    assert [(r.bucket, r.dimensions["organisation"], r.totals.received) for r in per_org] == [
        (date(2026, 11, 1), "", 2), (date(2026, 11, 1), "DUO", 1), (date(2026, 11, 1), "UWV", 13),  # c9 c10 | c7
        (date(2026, 12, 1), "DUO", 1)]


def test_bad_views_are_refused_naming_the_field(world: World) -> None:
    day = date(2026, 11, 25)
    cases = [({"grain": "year", "first_day": day, "last_day": day}, "grain"),
             ({"grain": "day", "first_day": day, "last_day": day - timedelta(days=1)}, "period"),
             ({"grain": "day", "first_day": day - timedelta(days=5000), "last_day": day}, "period"),
             ({"grain": "day", "first_day": day, "last_day": day, "by": ("liaison",)}, "by"),
             ({"grain": "day", "first_day": day, "last_day": day, "organisation": " "}, "organisation")]
    for arguments, field in cases:
        with pytest.raises(StatsQueryInvalid) as refused:
            statistics.view(world.deps, **arguments)
        assert refused.value.field == field and refused.value.status == 422


def test_the_recent_rollup_reaches_back_to_the_interval_of_a_long_call_that_just_ended(world: World) -> None:
    world.call("long", start=A + timedelta(minutes=5), org="UWV", topic="ww", location="AMS",
               events=[(K.QUEUED, 10, {}), (K.ANSWERED, 40, {})])
    world.clock.moment = A + timedelta(minutes=80)
    statistics.rollup_recent(world.deps, lookback=timedelta(minutes=15))  # still open: A is recomputed
    talking = one(world, first_day=date(2026, 11, 25))
    assert (talking["outcome_answered"], talking["average_talk_time_seconds"]) == (1, None)  # not ended yet
    world.event("long", K.COMPLETED, A + timedelta(minutes=95), status("completed"))
    world.clock.moment = A + timedelta(minutes=96)
    assert statistics.rollup_recent(world.deps, lookback=timedelta(minutes=15)) == 7  # 09:00 .. 10:30 UTC
    figures = one(world, first_day=date(2026, 11, 25))
    assert figures["outcome_answered"] == 1
    assert figures["average_talk_time_seconds"] == 5360.0  # ended at 95 min - answered at 5 min 40 s = 5700 - 340


def test_rollup_interval_wants_a_boundary(world: World) -> None:
    with pytest.raises(ValueError):
        statistics.rollup_interval(world.deps, start=A + timedelta(minutes=1))


def test_the_cron_job_rolls_up_the_current_interval(world: World, database_url: str, redis,  # noqa: ANN001
                                                    redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from rq import Queue, SimpleWorker
    from rq.cron import CronScheduler

    from workers import jobs, statistics_jobs

    now = datetime.now(UTC)
    world.call("now", start=now - timedelta(seconds=30), org="UWV", topic="ww", location="AMS",
               events=[(K.QUEUED, 5, {}), (K.ABANDONED, 20, status("completed"))])
    for name, value in {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "ENVIRONMENT": "test"}.items():
        monkeypatch.setenv(f"CALLROUTER_{name}", value)
    jobs.container.cache_clear()
    try:
        queue = Queue(jobs.QUEUE, connection=redis)
        job = queue.enqueue(statistics_jobs.rollup_recent)
        SimpleWorker([queue], connection=redis).work(burst=True)
        assert job.latest_result().return_value >= 5  # the current interval and the hour before it
    finally:
        if jobs.container.cache_info().currsize:
            jobs.container().close()
        jobs.container.cache_clear()
    today = now.astimezone(statistics.AMSTERDAM).date()
    [row] = statistics.by_day(world.deps, first_day=today - timedelta(days=1), last_day=today, organisation="UWV")
    assert (row.totals.offered, row.totals.abandoned) == (1, 1)
    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file(str(Path(__file__).resolve().parents[2] / "workers" / "cron.py"))
    [rollup] = [j for j in scheduler.get_jobs() if j.func is statistics_jobs.rollup_recent]
    assert rollup.interval == 60 and rollup.queue_name == jobs.QUEUE
