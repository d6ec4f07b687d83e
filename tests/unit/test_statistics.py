"""Statistics on hand-made event logs: the outcome of a call, its timing, intervals across DST, sums."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callrouter.domain.calls import EventKind
from callrouter.domain.statistics import Event, StatOutcome, StatsPolicy, call_facts, decide_outcome
from callrouter.domain.statistics_definitions import DEFINITIONS, definition
from callrouter.domain.statistics_intervals import (
    Grain,
    bucket,
    interval_start,
    intervals,
    local_day_and_hour,
    period_bounds,
)
from callrouter.domain.statistics_totals import Dimensions, Totals, rollup, total

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
AMS = ZoneInfo("Europe/Amsterdam")
K = EventKind


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, **detail: object) -> Event:
    return (kind, at(seconds), detail)


def answered_log() -> list[Event]:
    return [ev(K.RECEIVED, 0), ev(K.IDENTIFIED, 1), ev(K.MENU_CHOICE, 8, step="organisation"),
            ev(K.MENU_CHOICE, 14, step="topic"), ev(K.QUEUED, 15), ev(K.OFFERED, 30, liaison=7),
            ev(K.STATUS, 31, status="in-progress", sequence=1), ev(K.ANSWERED, 35, liaison=7),
            ev(K.COMPLETED, 155, status="completed", talk_seconds=120), ev(K.STATUS, 156, status="completed", sequence=2)]


# -- the outcome -----------------------------------------------------------------------------------

def test_an_answered_call_has_its_speed_of_answer_from_entering_the_queue_and_its_talk_time() -> None:
    facts = call_facts(answered_log())
    assert facts.outcome == StatOutcome.ANSWERED
    assert facts.received_at == at(0) and facts.queued_at == at(15) and facts.answered_at == at(35)
    assert facts.speed_of_answer_seconds == 20  # 35 - 15, not from arrival (35) nor from the offer (5)
    assert facts.talk_seconds == 120  # 155 - 35
    assert facts.wait_seconds == 20 and facts.ended_at == at(155)
    assert facts.answered_within(20) and not facts.answered_within(19)


def test_duplicated_and_out_of_order_status_events_change_nothing() -> None:
    expected = call_facts(answered_log())
    noisy = answered_log() + [
        ev(K.STATUS, 160, status="completed", sequence=2),  # the same callback delivered again, later
        ev(K.STATUS, 157, status="ringing", sequence=0),  # a late, older status after the end
        ev(K.STATUS, 158, status="in-progress", sequence=1),
        ev(K.ANSWERED, 36, liaison=7),  # a second answered (dial result and status callback both said so)
    ]
    rng = random.Random(4)
    for _ in range(50):
        rng.shuffle(noisy)
        assert call_facts(noisy) == expected
    for order in itertools.permutations(answered_log()[-4:]):  # the end, the answer and statuses in any order
        assert call_facts(answered_log()[:-4] + list(order)) == expected


def test_an_end_status_that_arrives_before_the_answer_event_counts_from_the_answer() -> None:
    log = [ev(K.RECEIVED, 0), ev(K.QUEUED, 10), ev(K.STATUS, 49, status="completed"), ev(K.ANSWERED, 50),
           ev(K.COMPLETED, 90, status="completed")]
    facts = call_facts(log)
    assert facts.outcome == StatOutcome.ANSWERED and facts.ended_at == at(90) and facts.talk_seconds == 40


@pytest.mark.parametrize(("log", "outcome"), [
    ([ev(K.RECEIVED, 0), ev(K.MENU_CHOICE, 5), ev(K.STATUS, 9, status="completed")], StatOutcome.ABANDONED_IN_MENU),
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.ABANDONED, 50, status="completed"),
      ev(K.STATUS, 50, status="completed")], StatOutcome.ABANDONED_IN_QUEUE),
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.OFFERED, 20), ev(K.ABANDONED, 25, status="cancelled")],
     StatOutcome.ABANDONED_IN_QUEUE),  # hung up while the liaison's phone rang
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.CALLBACK_REQUESTED, 130, callback=1),
      ev(K.COMPLETED, 170, callback="arranged")], StatOutcome.CALLBACK_REQUESTED),
    ([ev(K.RECEIVED, 0), ev(K.CLOSED, 9), ev(K.STATUS, 20, status="completed")], StatOutcome.CLOSED),
    ([ev(K.RECEIVED, 0), ev(K.CLOSED, 9), ev(K.COMPLETED, 20, callback="declined")], StatOutcome.CLOSED),
    ([ev(K.RECEIVED, 0), ev(K.CLOSED, 9), ev(K.CALLBACK_REQUESTED, 20), ev(K.COMPLETED, 40)],
     StatOutcome.CALLBACK_REQUESTED),
    ([ev(K.RECEIVED, 0), ev(K.NO_LIAISON, 9), ev(K.STATUS, 20, status="completed")], StatOutcome.NO_LIAISON),
    ([ev(K.RECEIVED, 0), ev(K.PIN_FAILED, 9), ev(K.REFUSED, 20)], StatOutcome.REFUSED),
    ([ev(K.RECEIVED, 0), ev(K.LOCKED_OUT, 1)], StatOutcome.REFUSED),
    ([ev(K.RECEIVED, 0), ev(K.ERROR, 3)], StatOutcome.FAILED),
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.ABANDONED, 6, status="failed", reason="redirect failed")],
     StatOutcome.FAILED),
    ([ev(K.RECEIVED, 0), ev(K.STATUS, 3, status="failed")], StatOutcome.FAILED),
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.ANSWERED, 9), ev("transferred", 60, to="DUO"), ev(K.COMPLETED, 90)],
     StatOutcome.TRANSFERRED),
    ([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.ANSWERED, 9), ev(K.STATUS, 40, status="failed")], StatOutcome.ANSWERED),
])
def test_each_outcome_is_decided_from_the_event_log(log: list[Event], outcome: StatOutcome) -> None:
    assert decide_outcome(log) == outcome
    assert decide_outcome(reversed(log)) == outcome


def test_a_call_still_in_the_menu_or_the_queue_has_no_outcome_yet() -> None:
    waiting = [ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.OFFERED, 20), ev(K.LIAISON_NO_ANSWER, 40),
               ev(K.STATUS, 41, status="in-progress")]
    facts = call_facts(waiting)
    assert facts.outcome is None and facts.wait_seconds is None and facts.ended_at is None
    assert decide_outcome([ev(K.RECEIVED, 0), ev(K.MENU_CHOICE, 5)]) is None


def test_a_call_returned_to_the_queue_counts_its_wait_from_the_first_time_it_entered() -> None:
    log = [ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.OFFERED, 20), ev(K.LIAISON_NO_ANSWER, 40), ev(K.OFFERED, 50),
           ev(K.ANSWERED, 55), ev(K.COMPLETED, 100)]
    assert call_facts(log).speed_of_answer_seconds == 50


def test_a_short_abandon_is_a_hang_up_in_the_queue_within_the_threshold() -> None:
    policy = StatsPolicy(short_abandon_seconds=5)

    def hung_up_after(seconds: float):  # type: ignore[no-untyped-def]
        return call_facts([ev(K.RECEIVED, 0), ev(K.QUEUED, 10), ev(K.ABANDONED, 10 + seconds, status="completed")])

    assert hung_up_after(3).short_abandon(policy) and hung_up_after(5).short_abandon(policy)
    assert not hung_up_after(5.5).short_abandon(policy)
    menu = call_facts([ev(K.RECEIVED, 0), ev(K.STATUS, 2, status="completed")])
    assert menu.outcome == StatOutcome.ABANDONED_IN_MENU and not menu.short_abandon(policy)


def test_the_wait_of_a_caller_who_asked_for_a_callback_ends_at_the_request() -> None:
    facts = call_facts([ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.CALLBACK_REQUESTED, 130), ev(K.COMPLETED, 170)])
    assert facts.wait_seconds == 125 and facts.speed_of_answer_seconds is None


# -- intervals and daylight saving time ---------------------------------------------------------------

def test_interval_boundaries_are_local_quarters_stored_in_utc() -> None:
    assert interval_start(datetime(2026, 11, 25, 10, 14, 59, tzinfo=AMS)) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert interval_start(datetime(2026, 7, 1, 10, 15, tzinfo=AMS)) == datetime(2026, 7, 1, 8, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        interval_start(datetime(2026, 7, 1, 10, 15))


def test_the_day_summer_time_starts_has_92_intervals_and_the_day_it_ends_100() -> None:
    spring = period_bounds(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29))
    autumn = period_bounds(first_day=date(2026, 10, 25), last_day=date(2026, 10, 25))
    assert spring == (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
    assert autumn == (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    spring_starts = list(intervals(start=spring[0], end=spring[1]))
    autumn_starts = list(intervals(start=autumn[0], end=autumn[1]))
    assert len(spring_starts) == 92 and len(autumn_starts) == 100  # 23 and 25 hours
    assert all(local_day_and_hour(s)[0] == date(2026, 3, 29) for s in spring_starts)
    spring_hours = [local_day_and_hour(s)[1] for s in spring_starts]
    assert 2 not in spring_hours and spring_hours.count(3) == 4  # 02:00 became 03:00
    autumn_hours = [local_day_and_hour(s)[1] for s in autumn_starts]
    assert autumn_hours.count(2) == 8  # 02:00-03:00 twice, both hour 2
    # The repeated hour: 02:20 in summer time is 00:20 UTC, in winter time 01:20 UTC.
    first, second = (datetime(2026, 10, 25, 2, 20, fold=f, tzinfo=AMS) for f in (0, 1))
    assert interval_start(first) == datetime(2026, 10, 25, 0, 15, tzinfo=UTC)
    assert interval_start(second) == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    assert bucket(date(2026, 11, 29), Grain.WEEK) == date(2026, 11, 23)  # a Sunday -> its Monday
    assert bucket(date(2026, 11, 29), Grain.MONTH) == date(2026, 11, 1)
    assert bucket(date(2026, 11, 29), Grain.DAY) == date(2026, 11, 29)


# -- sums and figures ---------------------------------------------------------------------------------

def _answered(speed: float, talk: float) -> list[Event]:
    return [ev(K.RECEIVED, 0), ev(K.QUEUED, 10), ev(K.ANSWERED, 10 + speed), ev(K.COMPLETED, 10 + speed + talk)]


def _abandoned(wait: float) -> list[Event]:
    return [ev(K.RECEIVED, 0), ev(K.QUEUED, 10), ev(K.ABANDONED, 10 + wait, status="completed")]


def test_service_level_counts_answered_within_over_answered_plus_abandoned_after_the_short_threshold() -> None:
    policy = StatsPolicy()
    uwv, duo = Dimensions("UWV", "ww", "AMS", "professional"), Dimensions("DUO", "sf", "AMS", "professional")
    calls = [(uwv, call_facts(_answered(10, 100))), (uwv, call_facts(_answered(30, 200))),
             (uwv, call_facts(_abandoned(3))), (uwv, call_facts(_abandoned(45))),
             (duo, call_facts(_answered(100, 60)))]
    rows = rollup(calls=calls, callback_moves=[(duo, "requested"), (duo, "completed")], policy=policy)
    u = rows[uwv]
    assert (u.received, u.offered, u.answered, u.abandoned, u.short_abandoned) == (4, 4, 2, 2, 1)
    assert u.within == {20: 1, 60: 2, 120: 2}
    assert u.service_level(20) == 1 / 3  # 1 answered within 20 s / (2 answered + 2 abandoned - 1 short)
    assert u.average_speed_of_answer_seconds == 20  # (10 + 30) / 2
    assert u.average_talk_time_seconds == 150  # (100 + 200) / 2
    assert u.longest_wait_seconds == 45
    both = total(rows)
    assert both.average_speed_of_answer_seconds == 140 / 3  # (10 + 30 + 100) / 3, not the mean of 20 and 100
    assert both.service_level(60) == 2 / 4  # 2 within 60 s / (3 answered + 2 abandoned - 1 short)
    assert (both.callbacks_requested, both.callbacks_completed) == (1, 1)
    assert both.outcomes[StatOutcome.ANSWERED] == 3 and both.outcomes[StatOutcome.ABANDONED_IN_QUEUE] == 2


def test_figures_of_an_empty_group_are_empty_not_zero() -> None:
    empty = Totals(within={20: 0})
    assert empty.service_level(20) is None and empty.average_speed_of_answer_seconds is None


def test_every_figure_has_a_dutch_and_english_definition_and_a_formula() -> None:
    figures = rollup(calls=[(Dimensions(), call_facts(_answered(5, 5)))], callback_moves=[],
                     policy=StatsPolicy())[Dimensions()].figures()
    for name in figures:
        found = definition(name)
        assert found is not None and found.nl and found.en and found.formula, name
        assert "{T}" not in found.nl + found.en + found.formula and "{S}" not in found.nl + found.formula, name
    level = definition("service_level_20s")
    assert level is not None and level.formula.startswith("answered_within_20 / (answered + abandoned - short_abandoned)")
    assert "short_abandoned" in DEFINITIONS and definition("nonsense") is None


def test_a_pickup_that_was_never_bridged_is_no_answer() -> None:
    """The liaison picked up and hung up in the whisper: the call went back in line and was abandoned there."""
    log = [ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.OFFERED, 20), ev(K.ANSWERED, 22, liaison=1),
           ev(K.NOT_BRIDGED, 25, liaison=1), ev(K.ABANDONED, 60, status="completed")]
    assert decide_outcome(log) == StatOutcome.ABANDONED_IN_QUEUE
    assert call_facts(log).answered_at is None


def test_after_a_pickup_that_was_never_bridged_the_next_liaisons_answer_counts() -> None:
    log = [ev(K.RECEIVED, 0), ev(K.QUEUED, 5), ev(K.OFFERED, 20), ev(K.ANSWERED, 22, liaison=1),
           ev(K.NOT_BRIDGED, 25, liaison=1), ev(K.OFFERED, 40), ev(K.ANSWERED, 45, liaison=2),
           ev(K.COMPLETED, 300, status="completed")]
    facts = call_facts(log)
    assert facts.outcome == StatOutcome.ANSWERED and facts.answered_at == call_facts(log[5:7]).answered_at
