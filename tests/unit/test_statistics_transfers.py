"""A transferred call counts for both organisations: hand-made event logs, figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callrouter.domain.calls import EventKind
from callrouter.domain.statistics import Event, StatOutcome, StatsPolicy
from callrouter.domain.statistics_totals import Dimensions, Totals, rollup, total
from callrouter.domain.statistics_transfers import call_parts, chain

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
K = EventKind
POLICY = StatsPolicy()
# The call row after the transfer names the new organisation; the parts take theirs from the transfer.
ROW = Dimensions(organisation="TSL", topic="*", location="AMS", line_kind="professional")


def ev(event: str, seconds: float, **detail: object) -> Event:
    return (event, T0 + timedelta(seconds=seconds), detail)


def answered_by_uwv() -> list[Event]:
    return [ev(K.RECEIVED, 0), ev(K.QUEUED, 10), ev(K.OFFERED, 25, liaison=7), ev(K.ANSWERED, 30, liaison=7)]


def moved(kind: str, seconds: float, **extra: object) -> Event:
    return ev(K.TRANSFERRED, seconds, kind=kind, from_organisation="UWV", from_topic="ww", to_organisation="TSL",
              to_topic="*", liaison=7, **extra)


def consult_to_tsl() -> list[Event]:
    return [ev(K.CONSULT, 60, step="asked", to_organisation="TSL", to_topic="*", by=7),
            ev(K.CONSULT, 62, step="ringing", liaison=9, leg="CAleg"),
            ev(K.CONSULT, 75, step="answered", liaison=9)]


def rows(events: list[Event]) -> dict[str, Totals]:
    by_dims = rollup(calls=call_parts(ROW, events), callback_moves=[], policy=POLICY)
    return {dims.organisation: totals for dims, totals in by_dims.items()}


def test_a_blind_transfer_counts_out_for_the_first_and_received_and_answered_for_the_second() -> None:
    log = [*answered_by_uwv(), moved("blind", 90), ev(K.QUEUED, 91), ev(K.OFFERED, 140, liaison=9),
           ev(K.ANSWERED, 150, liaison=9), ev(K.COMPLETED, 270),
           # UWV's liaison records in wrap-up, after the transfer; the caseworker's verdict after the last liaison
           ev(K.OUTCOME_RECORDED, 100, result="referred", liaison=7, revision=1),
           ev(K.OUTCOME_RECORDED, 280, result="resolved", liaison=9, revision=2), ev(K.VERDICT, 285, answer="yes")]
    got = rows(log)
    assert set(got) == {"UWV", "TSL"}
    uwv, tsl = got["UWV"], got["TSL"]
    assert (uwv.received, uwv.offered, uwv.answered, uwv.outcomes) == (1, 1, 1, {StatOutcome.TRANSFERRED: 1})
    assert (uwv.transfers_out, uwv.transfers_out_blind, uwv.transfers_in) == (1, 1, 0)
    assert uwv.answer_ms == 20_000 and uwv.talk_ms == 60_000  # 30 - 10; 90 - 30: its talk ends at the transfer
    assert uwv.to_last_liaison_timed == 0  # kept on the last organisation's part only
    assert (uwv.result_referred, uwv.result_resolved, uwv.verdict_yes) == (1, 0, 0)
    assert (tsl.received, tsl.offered, tsl.answered, tsl.outcomes) == (1, 1, 1, {StatOutcome.ANSWERED: 1})
    assert (tsl.transfers_in, tsl.transfers_in_answered, tsl.transfers_out) == (1, 1, 0)
    assert tsl.answer_ms == 60_000  # 150 - 90: from the transfer, not from the first queue time (10)
    assert tsl.talk_ms == 120_000 and tsl.within == {20: 0, 60: 1, 120: 1}
    assert (tsl.to_last_liaison_ms, tsl.to_last_liaison_timed) == (140_000, 1)  # 150 - 10
    assert (tsl.result_resolved, tsl.result_referred, tsl.verdict_yes) == (1, 0, 1)
    both = total(got)
    assert both.received == 2 and both.answered == 2  # one call, counted for both organisations
    assert both.average_to_last_liaison_seconds == 140


def test_a_consult_counts_for_the_second_organisation_from_the_request_to_its_liaison_joining() -> None:
    log = [*answered_by_uwv(), *consult_to_tsl(), moved("consult", 120, to_liaison=9),
           ev(K.ANSWERED, 120, liaison=9, **{"from": "consult"}), ev(K.CONSULT, 120, step="completed", liaison=9),
           ev(K.COMPLETED, 300)]
    uwv, tsl = rows(log)["UWV"], rows(log)["TSL"]
    assert uwv.outcomes == {StatOutcome.TRANSFERRED: 1} and uwv.transfers_out_consult == 1
    assert uwv.answer_ms == 20_000 and uwv.talk_ms == 90_000  # 120 - 30
    assert tsl.outcomes == {StatOutcome.ANSWERED: 1} and tsl.transfers_in == 1
    assert tsl.answer_ms == 15_000  # 75 - 60: asked to joined
    assert tsl.talk_ms == 225_000  # 300 - 75
    assert tsl.to_last_liaison_ms == 65_000  # 75 - 10


def test_a_three_way_call_completed_later_is_one_transfer() -> None:
    log = [*answered_by_uwv(), *consult_to_tsl(), ev(K.CONSULT, 80, step="three_way", liaison=9),
           moved("three_way", 80, to_liaison=9), moved("consult", 200, to_liaison=9),
           ev(K.ANSWERED, 200, liaison=9, **{"from": "consult"}), ev(K.COMPLETED, 300)]
    got = rows(log)
    uwv, tsl = got["UWV"], got["TSL"]
    assert (uwv.transfers_out, uwv.transfers_out_three_way, uwv.transfers_out_consult) == (1, 1, 0)
    assert uwv.talk_ms == 50_000  # 80 - 30: the three talk together from 80
    assert (tsl.received, tsl.transfers_in, tsl.answered, tsl.answer_ms) == (1, 1, 1, 15_000)
    assert total(got).received == 2


def test_a_caller_who_hangs_up_in_the_new_line_is_a_transfer_out_and_an_abandon_there() -> None:
    log = [*answered_by_uwv(), moved("blind", 90), ev(K.QUEUED, 91), ev(K.ABANDONED, 130)]
    got = rows(log)
    assert got["UWV"].outcomes == {StatOutcome.TRANSFERRED: 1}
    tsl = got["TSL"]
    assert (tsl.received, tsl.answered, tsl.abandoned, tsl.transfers_in, tsl.transfers_in_answered) == (1, 0, 1, 1, 0)
    assert tsl.outcomes == {StatOutcome.ABANDONED_IN_QUEUE: 1} and tsl.longest_wait_ms == 40_000  # 130 - 90
    assert tsl.transfers_in_answered_share == 0
    assert total(got).to_last_liaison_timed == 0


def test_a_call_without_a_transfer_is_one_part_whose_time_to_the_last_liaison_is_its_speed_of_answer() -> None:
    log = [*answered_by_uwv(), ev(K.COMPLETED, 100)]
    parts = call_parts(ROW, log)
    assert [dims for dims, _ in parts] == [ROW]
    totals = rows(log)["TSL"]
    assert (totals.to_last_liaison_ms, totals.transfers_out, totals.transfers_in) == (20_000, 0, 0)


def test_a_call_still_waiting_in_the_new_line_is_in_progress_there() -> None:
    got = rows([*answered_by_uwv(), moved("blind", 90), ev(K.QUEUED, 91)])
    assert got["UWV"].outcomes == {StatOutcome.TRANSFERRED: 1} and got["UWV"].in_progress == 0
    assert got["TSL"].in_progress == 1 and got["TSL"].transfers_in == 1


def test_the_chain_names_each_organisation_how_the_call_came_who_answered_and_the_wait_there() -> None:
    log = [*answered_by_uwv(), *consult_to_tsl(), moved("consult", 120, to_liaison=9),
           ev(K.ANSWERED, 120, liaison=9, **{"from": "consult"}), ev(K.COMPLETED, 300)]
    links = chain(ROW, log)
    assert [(link.organisation, link.topic, link.came_by, link.transferred_by, link.liaison,
             link.speed_of_answer_seconds) for link in links] == [
        ("UWV", "ww", None, None, 7, 20.0),  # 30 - 10
        ("TSL", "*", "consult", 7, 9, 15.0)]  # 75 - 60: asked to joined
    unanswered = chain(ROW, [*answered_by_uwv(), moved("blind", 90), ev(K.QUEUED, 91), ev(K.ABANDONED, 130)])
    assert [(link.organisation, link.liaison, link.answered_at) for link in unanswered] == [
        ("UWV", 7, T0 + timedelta(seconds=30)), ("TSL", None, None)]
    assert [link.organisation for link in chain(ROW, [*answered_by_uwv(), ev(K.COMPLETED, 100)])] == ["TSL"]
