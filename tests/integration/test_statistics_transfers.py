"""A transferred call in the rollups on SQLite and PostgreSQL: written through the real call store (the
transfer changes the call row's organisation), figures per organisation checked against a hand count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import EventKind
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.test_statistics import A, FixedClock, World

K = EventKind
DAY = date(2026, 11, 25)


@pytest.fixture()
def world(database_url: str) -> Iterator[World]:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    clock = FixedClock(A + timedelta(hours=3))
    stats = SqlStatsStore(sessions)
    yield World(SqlCallStore(sessions), SqlCallbackStore(sessions), stats, StatsDeps(store=stats, clock=clock), clock,
                sessions)
    engine.dispose()


def transfer(w: World, sid: str, seconds: float, kind: str, **extra: object) -> None:
    assert w.calls.apply(sid, event=K.TRANSFERRED, at=A + timedelta(seconds=seconds), dedupe=f"transfer:{kind}",
                         detail={"kind": kind, "from_organisation": "UWV", "from_topic": "ww", "to_organisation": "TSL",
                                 "to_topic": "*", "liaison": 7, **extra}, organisation="TSL", topic="*") is not None


def second_answer(w: World, sid: str, seconds: float, **detail: object) -> None:
    assert w.calls.apply(sid, event=K.ANSWERED, at=A + timedelta(seconds=seconds), dedupe="answered:2",
                         detail={"liaison": 9, **detail}) is not None


def transferred_calls(w: World) -> None:
    # t1, blind: UWV answers after 20 s, transfers at 90; Toeslagen answers 60 s later; ends at 270.
    w.call("t1", start=A, org="UWV", topic="ww", location="AMS", events=[
        (K.QUEUED, 10, {}), (K.ANSWERED, 30, {"liaison": 7})])
    transfer(w, "t1", 90, "blind")
    w.event("t1", K.QUEUED, A + timedelta(seconds=91), {"transferred": True})
    second_answer(w, "t1", 150)
    w.event("t1", K.COMPLETED, A + timedelta(seconds=270), {"status": "completed"})
    # t2, consult: UWV answers after 15 s, asks Toeslagen at 40 (starting 100 s later), its liaison joins at 52,
    # the consult completes at 100, the call ends at 200.
    start = A + timedelta(seconds=100)
    w.call("t2", start=start, org="UWV", topic="ww", location="AMS", events=[
        (K.QUEUED, 5, {}), (K.ANSWERED, 20, {"liaison": 7}),
        (K.CONSULT, 40, {"step": "asked", "to_organisation": "TSL", "to_topic": "*", "by": 7}),
        (K.CONSULT, 41, {"step": "ringing", "liaison": 9, "leg": "CAleg"}),
        (K.CONSULT, 52, {"step": "answered", "liaison": 9})])
    transfer(w, "t2", 200, "consult", to_liaison=9)
    second_answer(w, "t2", 200, **{"from": "consult"})
    w.event("t2", K.COMPLETED, start + timedelta(seconds=200), {"status": "completed"})
    # p1, straight to Toeslagen: 30 s, talks 60 s.
    w.call("p1", start=A + timedelta(seconds=300), org="TSL", topic="*", location="AMS", events=[
        (K.QUEUED, 10, {}), (K.ANSWERED, 40, {"liaison": 9}), (K.COMPLETED, 100, {"status": "completed"})])


def test_a_transferred_call_counts_out_for_the_first_and_received_answered_for_the_second(world: World) -> None:
    transferred_calls(world)
    statistics.rollup_interval(world.deps, start=A)
    per_org = {r.dimensions["organisation"]: r.figures()
               for r in statistics.view(world.deps, grain="day", first_day=DAY, last_day=DAY, by=("organisation",))}
    uwv, tsl = per_org["UWV"], per_org["TSL"]
    assert (uwv["received"], uwv["offered"], uwv["answered"], uwv["outcome_transferred"]) == (2, 2, 2, 2)
    assert (uwv["transfers_out"], uwv["transfers_out_blind"], uwv["transfers_out_consult"]) == (2, 1, 1)
    assert uwv["transfers_in"] == 0 and uwv["outcome_answered"] == 0
    assert uwv["average_speed_of_answer_seconds"] == 17.5  # (20 + 15) / 2
    assert uwv["average_talk_time_seconds"] == 70.0  # t1 90 - 30, t2 100 - 20: to the transfer
    assert uwv["average_to_last_liaison_seconds"] is None  # its calls ended with another organisation
    assert (tsl["received"], tsl["offered"], tsl["answered"], tsl["outcome_answered"]) == (3, 3, 3, 3)
    assert (tsl["transfers_in"], tsl["transfers_in_answered"], tsl["transfers_out"]) == (2, 2, 0)
    assert tsl["transfers_in_answered_share"] == 1.0
    # t1 150 - 90 (from the transfer), t2 52 - 40 (from the consult request), p1 30
    assert tsl["average_speed_of_answer_seconds"] == pytest.approx(102 / 3)
    assert tsl["answered_within_20s"] == 1  # t2 (12 s); p1 waited 30 s, t1 60 s
    assert tsl["average_talk_time_seconds"] == pytest.approx((120 + 148 + 60) / 3)  # 270-150, 200-52, 60
    # the caller's time to the last liaison: t1 150 - 10, t2 52 - 5, p1 30
    assert tsl["average_to_last_liaison_seconds"] == pytest.approx((140 + 47 + 30) / 3)
    day = statistics.by_day(world.deps, first_day=DAY, last_day=DAY)[0].figures()
    assert day["received"] == 5  # three calls: the two transferred ones count for both organisations
    assert day["transfers_out"] == day["transfers_in"] == 2
    assert day["average_to_last_liaison_seconds"] == pytest.approx(217 / 3)  # once per call


def test_the_organisation_that_transferred_keeps_its_figures_when_the_caller_hangs_up_in_the_new_line(
        world: World) -> None:
    world.call("t3", start=A, org="UWV", topic="ww", location="AMS", events=[
        (K.QUEUED, 10, {}), (K.ANSWERED, 30, {"liaison": 7})])
    transfer(world, "t3", 90, "blind")
    world.event("t3", K.ABANDONED, A + timedelta(seconds=130), {"status": "completed"})
    statistics.rollup_interval(world.deps, start=A)
    uwv = statistics.by_day(world.deps, first_day=DAY, last_day=DAY, organisation="UWV")[0].figures()
    tsl = statistics.by_day(world.deps, first_day=DAY, last_day=DAY, organisation="TSL")[0].figures()
    assert (uwv["outcome_transferred"], uwv["transfers_out"], uwv["abandoned"]) == (1, 1, 0)
    assert (tsl["received"], tsl["abandoned"], tsl["transfers_in"], tsl["transfers_in_answered"]) == (1, 1, 1, 0)
    assert tsl["longest_wait_seconds"] == 40.0  # 130 - 90: in Toeslagen's line
    assert tsl["service_level_60s"] == 0.0  # judged: abandoned after the short-abandon threshold
