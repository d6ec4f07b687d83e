"""domain/evaluation.py and its figures: the last recorded result counts, in any delivery order; a callback's
conversation is a conversation, not an arrival; the drill-down lists as many calls as each figure counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callrouter.domain.evaluation import Verdict, evaluation
from callrouter.domain.statistics import StatsPolicy, call_facts
from callrouter.domain.statistics_drilldown import EVALUATION_FIGURES, call_figures
from callrouter.domain.statistics_totals import Totals

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call(*extra: tuple[str, float, dict[str, object]]) -> list[tuple[str, datetime, dict[str, object]]]:
    events = [("received", 0.0, {}), ("queued", 5.0, {}), ("answered", 20.0, {}), ("completed", 200.0, {}), *extra]
    return [(kind, at(seconds), detail) for kind, seconds, detail in events]


CALLS = [
    answered_call(("outcome_recorded", 230, {"result": "resolved", "revision": 1}),
                  ("outcome_recorded", 260, {"result": "referred", "referred_organisation": "DUO", "revision": 2}),
                  ("verdict_asked", 200, {}), ("verdict", 204, {"answer": "yes"})),
    answered_call(("verdict_asked", 200, {})),  # asked, silent; no result recorded
    answered_call(("outcome_recorded", 230, {"result": "not_for_us", "revision": 1}), ("verdict_asked", 200, {}),
                  ("verdict", 205, {"answer": "no"})),
    [("callback_conversation", at(0), {"callback": 4}), ("answered", at(0), {}), ("completed", at(240), {}),
     ("outcome_recorded", at(260), {"result": "follow_up", "revision": 1})],
    [("received", at(0), {}), ("queued", at(5), {}), ("abandoned", at(50), {"status": "completed"})],
]


def test_the_last_recording_counts_whatever_the_order_of_delivery() -> None:
    first = evaluation(CALLS[0])
    again = evaluation(list(reversed(CALLS[0])))
    assert first == again
    assert (first.result, first.referred_organisation, first.verdict, first.verdict_asked) == (
        "referred", "DUO", Verdict.YES, True)


def test_unknown_results_and_answers_are_ignored() -> None:
    judged = evaluation([("outcome_recorded", at(1), {"result": "great"}), ("verdict", at(2), {"answer": "4"})])
    assert (judged.result, judged.verdict, judged.verdict_asked) == (None, None, False)


def test_totals_worked_out_by_hand() -> None:
    policy = StatsPolicy()
    totals = Totals()
    for events in CALLS:
        totals.add_call(call_facts(events), policy)
    assert (totals.received, totals.answered, totals.callback_conversations, totals.conversations) == (4, 3, 1, 4)
    assert (totals.results_recorded, totals.result_referred, totals.result_not_for_us, totals.result_follow_up) == (
        3, 1, 1, 1)
    assert totals.results_recorded_share == 0.75
    assert (totals.verdicts_asked, totals.verdicts, totals.verdict_yes, totals.verdict_no) == (3, 2, 1, 1)
    assert totals.verdict_response_share == pytest.approx(2 / 3) and totals.verdict_share("partly") == 0.0
    assert totals.callback_talk_ms == 240_000 and totals.average_callback_talk_time_seconds == 240
    assert totals.talked == 3  # the callback's talk time stays out of the answered calls' average


def test_the_drill_down_lists_as_many_calls_as_each_evaluation_figure_counts() -> None:
    policy = StatsPolicy()
    totals = Totals()
    listed: dict[str, int] = dict.fromkeys(EVALUATION_FIGURES, 0)
    for events in CALLS:
        facts = call_facts(events)
        totals.add_call(facts, policy)
        for figure in call_figures(facts, policy) & set(EVALUATION_FIGURES):
            listed[figure] += 1
    figures = totals.figures()
    assert {name: figures[name] for name in EVALUATION_FIGURES} == listed
    assert "received" not in call_figures(call_facts(CALLS[3]), policy)
