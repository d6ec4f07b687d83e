"""The drill-down on hand-made calls: every figure lists as many calls as the rollup counts, with noisy
(duplicated, out-of-order) status callbacks; hours, liaisons, callbacks and safe event details.

The fixed set (T0 = 25-11-2026 10:00 Amsterdam; thresholds 20/60/120 s, short abandon 5 s):
  a1 answered after 15 s by liaison 7 (talk 120 s), its status callbacks twice and out of order
  a2 answered after 70 s by liaison 8 (talk 30 s), answered twice (dial result and status callback)
  a3 answered after 130 s by liaison 7 (talk 60 s), arrives at 11:05 (hour 11)
  q1 hangs up after 40 s in the queue; q2 after 3 s (short); q2's end status comes before its queued event
  m1 hangs up in the menu; c1 asks for a callback after 150 s; r1 refused (wrong PIN);
  x1 closed; n1 nobody on duty; f1 fails; p1 still waiting (in progress)
By hand: received 13, offered 8 (a1 a2 a3 q1 q2 c1 f1 p1), answered 3, abandoned 2, short 1,
within 20 s 1 (a1), 60 s 1, 120 s 2 (a1 a2), judged 3 + 2 - 1 = 4.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callrouter.domain.calls import EventKind
from callrouter.domain.statistics import Event, StatsPolicy, call_facts
from callrouter.domain.statistics_drilldown import (
    CallbackLine,
    DrillCall,
    Selection,
    call_count_figures,
    call_figures,
    per_liaison,
    safe_detail,
    select_calls,
)
from callrouter.domain.statistics_totals import Dimensions, rollup, total
from callrouter.services.errors import NotFound
from callrouter.services.statistics import drilldown
from callrouter.services.statistics.drilldown import DrillDeps, DrilldownInvalid, PerLiaisonOff

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
K = EventKind
POLICY = StatsPolicy()
UWV = Dimensions("UWV", "ww", "AMS", "professional")
DUO = Dimensions("DUO", "studiefinanciering", "ENS", "citizen")


def ev(kind: str, start: datetime, seconds: float, **detail: object) -> Event:
    return (kind, start + timedelta(seconds=seconds), detail)


def answered(start: datetime, wait: int, talk: int, liaison: int) -> list[Event]:
    end = 10 + wait + talk
    return [ev(K.RECEIVED, start, 0), ev(K.QUEUED, start, 10), ev(K.OFFERED, start, 9 + wait, liaison=liaison),
            ev(K.ANSWERED, start, 10 + wait, liaison=liaison), ev(K.STATUS, start, end, status="completed", sequence=3),
            ev(K.COMPLETED, start, end, status="completed")]


def fixed_calls() -> list[DrillCall]:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    a1 = answered(at(0), 15, 120, 7)
    a1 = [a1[4], ev(K.STATUS, at(0), 100, status="in-progress", sequence=1), *a1, a1[4],
          ev(K.STATUS, at(0), 200, status="ringing", sequence=0)]  # twice, and an old one late
    a2 = [*answered(at(2), 70, 30, 8), ev(K.ANSWERED, at(2), 81, liaison=8, **{"from": "dial result"})]
    a3 = answered(at(65), 130, 60, 7)
    q1 = [ev(K.RECEIVED, at(4), 0), ev(K.QUEUED, at(4), 10), ev(K.ABANDONED, at(4), 50, status="completed")]
    q2 = [ev(K.ABANDONED, at(5), 13, status="completed"), ev(K.STATUS, at(5), 13, status="completed"),
          ev(K.RECEIVED, at(5), 0), ev(K.QUEUED, at(5), 10), ev(K.STATUS, at(5), 13, status="completed")]
    m1 = [ev(K.RECEIVED, at(6), 0), ev(K.MENU_CHOICE, at(6), 5, step="organisation"),
          ev(K.STATUS, at(6), 9, status="completed")]
    c1 = [ev(K.RECEIVED, at(7), 0), ev(K.QUEUED, at(7), 5), ev(K.CALLBACK_REQUESTED, at(7), 155, callback=1),
          ev(K.COMPLETED, at(7), 170, callback="arranged")]
    r1 = [ev(K.RECEIVED, at(8), 0), ev(K.PIN_FAILED, at(8), 5, length=4), ev(K.REFUSED, at(8), 20)]
    x1 = [ev(K.RECEIVED, at(9), 0), ev(K.CLOSED, at(9), 8), ev(K.COMPLETED, at(9), 20, status="completed")]
    n1 = [ev(K.RECEIVED, at(10), 0), ev(K.NO_LIAISON, at(10), 8), ev(K.COMPLETED, at(10), 20)]
    f1 = [ev(K.RECEIVED, at(11), 0), ev(K.QUEUED, at(11), 5), ev(K.STATUS, at(11), 9, status="failed")]
    p1 = [ev(K.RECEIVED, at(12), 0), ev(K.QUEUED, at(12), 10)]
    logs = {"a1": (a1, UWV, 0), "a2": (a2, UWV, 2), "a3": (a3, UWV, 65), "q1": (q1, UWV, 4), "q2": (q2, UWV, 5),
            "m1": (m1, Dimensions(line_kind="professional"), 6), "c1": (c1, DUO, 7),
            "r1": (r1, Dimensions(line_kind="professional"), 8), "x1": (x1, DUO, 9), "n1": (n1, DUO, 10),
            "f1": (f1, DUO, 11), "p1": (p1, DUO, 12)}
    calls = [DrillCall(index, sid, at(minute), dims, "+316******78", events)
             for index, (sid, (events, dims, minute)) in enumerate(logs.items(), start=1)]
    # the thirteenth: a second in-progress call, its events shuffled
    p2 = [ev(K.RECEIVED, at(13), 0), ev(K.MENU_CHOICE, at(13), 4, step="organisation")]
    return [*calls, DrillCall(13, "p2", at(13), Dimensions(line_kind="citizen"), "+316******12", p2)]


def rolled_up(calls: list[DrillCall]):  # type: ignore[no-untyped-def]
    rows = rollup(calls=((c.dimensions, call_facts(c.events)) for c in calls), callback_moves=[], policy=POLICY)
    totals = total(rows)
    figures = totals.figures()
    figures["service_level_base"] = totals.service_level_base
    return figures


def drilled(calls: list[DrillCall], figure: str, **selection: object) -> list[str]:
    return [line.sid for line in select_calls(calls, Selection(figure, **selection), policy=POLICY, zone=AMS)]  # type: ignore[arg-type]


def test_the_fixed_set_has_the_figures_computed_by_hand() -> None:
    figures = rolled_up(fixed_calls())
    assert (figures["received"], figures["offered"], figures["answered"], figures["abandoned"]) == (13, 8, 3, 2)
    assert (figures["short_abandoned"], figures["service_level_base"]) == (1, 4)
    assert (figures["answered_within_20s"], figures["answered_within_60s"], figures["answered_within_120s"]) == (1, 1, 2)
    assert (figures["in_progress"], figures["outcome_refused"], figures["outcome_failed"]) == (2, 1, 1)


def test_every_figure_lists_as_many_calls_as_the_rollup_counts_in_any_event_order() -> None:
    calls = fixed_calls()
    expected = rolled_up(calls)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = [DrillCall(c.id, c.sid, c.received_at, c.dimensions, c.caller_masked,
                              rng.sample(c.events, len(c.events))) for c in calls]
        for figure in call_count_figures(POLICY):
            assert len(drilled(shuffled, figure)) == expected[figure], figure
    assert drilled(calls, "answered") == ["a1", "a2", "a3"]
    assert drilled(calls, "answered_within_20s") == ["a1"]
    assert drilled(calls, "short_abandoned") == ["q2"]
    assert drilled(calls, "service_level_base") == ["a1", "a2", "q1", "a3"]
    assert drilled(calls, "in_progress") == ["p1", "p2"]


def test_membership_agrees_with_the_rollup_per_call() -> None:
    for call in fixed_calls():
        alone = rolled_up([call])
        members = call_figures(call_facts(call.events), POLICY)
        for figure in call_count_figures(POLICY):
            assert (figure in members) == bool(alone[figure]), (call.sid, figure)


def test_hour_and_liaison_narrow_the_list() -> None:
    calls = fixed_calls()
    assert drilled(calls, "answered", hour=10) == ["a1", "a2"]
    assert drilled(calls, "answered", hour=11) == ["a3"]
    assert drilled(calls, "offered", hour=9) == []
    assert drilled(calls, "answered", liaison_id=7) == ["a1", "a3"]
    lines = select_calls(calls, Selection("offered"), policy=POLICY, zone=AMS)
    grouped = dict(per_liaison(lines, policy=POLICY))
    assert sorted(grouped) == [7, 8]
    assert grouped[7].answered == 2 and grouped[7].average_talk_time_seconds == 90  # (120 + 60) / 2
    assert grouped[7].average_speed_of_answer_seconds == 72.5  # (15 + 130) / 2
    assert grouped[8].answered == 1 and grouped[8].average_speed_of_answer_seconds == 70


def test_event_details_lose_personal_data() -> None:
    assert safe_detail({"liaison": 7, "caseworker": 3, "line": "+31850001000", "status": "completed",
                        "from": "dial result", "length": 4, "reason": "call +31612345678"}) == {
        "reason": "call +316******78", "status": "completed"}


# -- the service on a fake store ------------------------------------------------------------------

class FakeStore:
    def __init__(self, calls: list[DrillCall], callbacks: list[CallbackLine] = ()) -> None:  # type: ignore[assignment]
        self._calls, self._callbacks = calls, list(callbacks)
        self.read = 0

    def count_calls(self, *, start, end, filters):  # type: ignore[no-untyped-def]
        return len(self._matching(start, end, filters))

    def _matching(self, start, end, filters):  # type: ignore[no-untyped-def]
        return [c for c in self._calls if start <= c.received_at < end
                and all(getattr(c.dimensions, name) == value for name, value in filters.items())]

    def calls(self, *, start, end, filters):  # type: ignore[no-untyped-def]
        self.read += 1
        return self._matching(start, end, filters)

    def call(self, ref):  # type: ignore[no-untyped-def]
        return next((c for c in self._calls if c.sid == ref or str(c.id) == ref), None)

    def callbacks_requested(self, *, start, end, filters):  # type: ignore[no-untyped-def]
        return [c for c in self._callbacks if start <= c.requested_at < end]

    def recorded_outcome(self, call_id):  # type: ignore[no-untyped-def]
        return None

    def liaison_names(self, ids):  # type: ignore[no-untyped-def]
        return {i: {7: "Jan de Vries", 8: "Fatima El Amrani"}[i] for i in ids}


DAY = date(2026, 11, 25)


def test_the_service_hides_liaisons_unless_switched_on() -> None:
    off = DrillDeps(store=FakeStore(fixed_calls()))
    drill = drilldown.calls_behind(off, first_day=DAY, last_day=DAY, filters={"organisation": "UWV"}, figure="answered")
    assert [c.sid for c in drill.calls] == ["a1", "a2", "a3"] and drill.liaisons is None
    assert all(c.liaison_id is None for c in drill.calls)
    with pytest.raises(PerLiaisonOff) as refused:
        drilldown.calls_behind(off, first_day=DAY, last_day=DAY, filters={}, figure="answered", liaison_id=7)
    assert refused.value.field == "medewerker" and refused.value.status == 403
    on = DrillDeps(store=FakeStore(fixed_calls()), per_liaison=True)
    drill = drilldown.calls_behind(on, first_day=DAY, last_day=DAY, filters={}, figure="answered")
    assert [(f.name, f.totals.answered) for f in drill.liaisons or []] == [("Jan de Vries", 2), ("Fatima El Amrani", 1)]
    mine = drilldown.calls_behind(on, first_day=DAY, last_day=DAY, filters={}, figure="answered", liaison_id=8)
    assert [c.sid for c in mine.calls] == ["a2"]


def test_the_service_refuses_bad_figures_hours_and_too_many_calls() -> None:
    deps = DrillDeps(store=FakeStore(fixed_calls()), max_calls=12)
    with pytest.raises(DrilldownInvalid) as bad:
        drilldown.calls_behind(deps, first_day=DAY, last_day=DAY, filters={}, figure="average_talk_time_seconds")
    assert bad.value.field == "cijfer"
    with pytest.raises(DrilldownInvalid) as bad:
        drilldown.calls_behind(deps, first_day=DAY, last_day=DAY, filters={}, figure="offered", hour=24)
    assert bad.value.field == "uur"
    store = FakeStore(fixed_calls())
    with pytest.raises(DrilldownInvalid) as bad:
        drilldown.calls_behind(DrillDeps(store=store, max_calls=12), first_day=DAY, last_day=DAY, filters={},
                               figure="offered")
    assert bad.value.field == "periode" and "13 gesprekken" in bad.value.message and store.read == 0


def test_callbacks_requested_list_the_callbacks_of_the_period() -> None:
    callbacks = [CallbackLine(1, T0 + timedelta(minutes=3), DUO, "+316******78", "scheduled", "c1"),
                 CallbackLine(2, T0 - timedelta(days=1), DUO, "+316******11", "completed", None)]
    deps = DrillDeps(store=FakeStore(fixed_calls(), callbacks))
    drill = drilldown.calls_behind(deps, first_day=DAY, last_day=DAY, filters={}, figure="callbacks_requested")
    assert [c.callback_id for c in drill.callbacks] == [1] and drill.count == 1


def test_a_call_detail_is_scoped_and_keeps_events_in_order_without_personal_data() -> None:
    deps = DrillDeps(store=FakeStore(fixed_calls()))
    detail = drilldown.call_detail(deps, ref="a1", organisations=None)
    assert [e.at for e in detail.events] == sorted(e.at for e in detail.events)
    assert detail.events[0].kind == "received" and detail.line.facts.outcome == "answered"
    assert all("liaison" not in e.detail for e in detail.events) and detail.liaison_name is None
    assert drilldown.call_detail(deps, ref="1", organisations=("UWV",)).line.sid == "a1"
    with pytest.raises(NotFound):
        drilldown.call_detail(deps, ref="c1", organisations=("UWV",))  # a DUO call for a UWV lead
    with pytest.raises(NotFound):
        drilldown.call_detail(deps, ref="nope", organisations=None)
    on = DrillDeps(store=FakeStore(fixed_calls()), per_liaison=True)
    assert drilldown.call_detail(on, ref="a2", organisations=None).liaison_name == "Fatima El Amrani"
