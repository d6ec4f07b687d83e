"""The calls behind a figure: which figures a call counts in, decided by the rules the rollups use.

A rollup adds a call to its totals with `Totals.add_call(call_facts(events))`; the drill-down asks the
same `CallFacts` which figures it counts in (`call_figures`), so the number of calls listed under a
figure equals that figure on the dashboard (tests/unit/test_drilldown.py checks it on a fixed set of
calls). Callback figures count callback moves, not calls (`callback_figures`).

Figure keys are the names of `Totals.figures()` (e.g. "offered", "answered_within_20s",
"outcome_abandoned_in_queue"), plus "service_level_base" (the calls the service level judges).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callrouter.domain.privacy import mask_numbers_in
from callrouter.domain.statistics import ANSWERED, CallFacts, Event, StatOutcome, StatsPolicy, canonical
from callrouter.domain.statistics_totals import CallbackMove, Dimensions, Totals
from callrouter.domain.statistics_transfers import call_parts, chain

SERVICE_LEVEL_BASE = "service_level_base"
CALLBACK_FIGURES = {"requested": "callbacks_requested", "completed": "callbacks_completed", "failed": "callbacks_failed"}
ANSWERED_OUTCOMES = (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED)
# Event details a supervisor may read: no caseworker, liaison, phone line or PIN facts, no free text.
SAFE_DETAIL_KEYS = frozenset({"status", "reason", "step", "choice", "organisation", "topic", "language", "callback",
                              "joined", "opens", "by", "try", "waited_ms", "talk_seconds", "sequence", "as",
                              "estimate_s", "position", "waited_s", "answer", "result", "referred_organisation",
                              "revision", "attempt"})


def call_count_figures(policy: StatsPolicy) -> tuple[str, ...]:
    """Every figure that counts calls (the others are sums, maxima, shares or callback moves)."""
    within = tuple(f"answered_within_{t}s" for t in sorted(policy.answer_thresholds_seconds))
    outcomes = tuple(f"outcome_{o.value}" for o in StatOutcome)
    return ("received", "offered", "answered", "abandoned", "short_abandoned", SERVICE_LEVEL_BASE, *within,
            *outcomes, "in_progress", *EVALUATION_FIGURES)


EVALUATION_FIGURES = ("conversations", "callback_conversations", "results_recorded", "result_resolved",
                      "result_follow_up", "result_referred", "result_not_for_us", "verdicts_asked", "verdicts",
                      "verdict_yes", "verdict_partly", "verdict_no")


def _evaluation_figures(facts: CallFacts, *, conversation: bool) -> set[str]:
    judged = facts.evaluation
    found = {"conversations"} if conversation else set()
    if conversation and judged.result is not None:
        found.update({"results_recorded", f"result_{judged.result}"})
    if judged.verdict_asked:
        found.add("verdicts_asked")
    if judged.verdict is not None:
        found.update({"verdicts", f"verdict_{judged.verdict.value}"})
    return found


def call_figures(facts: CallFacts, policy: StatsPolicy) -> frozenset[str]:
    """The figures one call counts in, by the rules of Totals.add_call."""
    if facts.evaluation.callback_conversation:  # a conversation, not a call that arrived
        talked = facts.outcome in ANSWERED_OUTCOMES
        return frozenset(_evaluation_figures(facts, conversation=talked) | ({"callback_conversations"} if talked else set()))
    found = {"received"} | _evaluation_figures(facts, conversation=facts.outcome in ANSWERED_OUTCOMES)
    if facts.offered:
        found.add("offered")
    found.add("in_progress" if facts.outcome is None else f"outcome_{facts.outcome.value}")
    if facts.outcome in ANSWERED_OUTCOMES:
        found.update({"answered", SERVICE_LEVEL_BASE})
        found.update(f"answered_within_{t}s" for t in policy.answer_thresholds_seconds if facts.answered_within(t))
    if facts.outcome == StatOutcome.ABANDONED_IN_QUEUE:
        found.add("abandoned")
        found.add("short_abandoned" if facts.short_abandon(policy) else SERVICE_LEVEL_BASE)
    return frozenset(found)


def callback_figures(move: CallbackMove) -> frozenset[str]:
    return frozenset({CALLBACK_FIGURES[move]})


def answering_liaison(events: Iterable[Event], *, fallback: int | None = None) -> int | None:
    """The liaison who answered first (from the `answered` event), else the call row's liaison; None if unanswered."""
    answered = next((e for e in canonical(events) if e[0] == ANSWERED), None)
    if answered is None:
        return None
    value = answered[2].get("liaison")
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


def safe_detail(detail: Mapping[str, object]) -> dict[str, str]:
    """An event's detail without personal data: known keys only, scalar values, numbers in text masked."""
    return {key: mask_numbers_in(str(value)) for key, value in sorted(detail.items())
            if key in SAFE_DETAIL_KEYS and (value is None or isinstance(value, str | int | float | bool))}


@dataclass(frozen=True)
class DrillCall:
    """A call as the drill-down reads it: the row's arrival, dimensions and masked number, and its events."""

    id: int
    sid: str
    received_at: datetime  # the row's, which puts the call in its rollup interval
    dimensions: Dimensions
    caller_masked: str
    events: list[Event]
    liaison_id: int | None = None  # the row's (the last liaison claimed for it)


@dataclass(frozen=True)
class CallLine:
    """One call in a drill-down list."""

    id: int
    sid: str
    received_at: datetime
    dimensions: Dimensions
    caller_masked: str
    facts: CallFacts
    liaison_id: int | None  # who answered; None when nobody did

    @property
    def outcome(self) -> str:
        return self.facts.outcome.value if self.facts.outcome else "in_progress"


@dataclass(frozen=True)
class CallbackLine:
    """A callback asked for in the period (the callback figures count these, not calls)."""

    callback_id: int
    requested_at: datetime
    dimensions: Dimensions
    number_masked: str
    state: str
    call_sid: str | None  # the call it was asked in, if any


@dataclass(frozen=True)
class Selection:
    """Which calls: those counting in `figure`, arrived in local `hour` (if given), answered by `liaison_id` (if given)."""

    figure: str
    hour: int | None = None
    liaison_id: int | None = None
    # the organisation and topic filters: a transferred call counts in the part of each organisation it reached
    organisation: str | None = None
    topic: str | None = None


def select_calls(calls: Iterable[DrillCall], selection: Selection, *, policy: StatsPolicy,
                 zone: ZoneInfo) -> list[CallLine]:
    """The calls behind a figure, oldest first."""
    lines: list[CallLine] = []
    for call in calls:
        if selection.hour is not None and call.received_at.astimezone(zone).hour != selection.hour:
            continue
        parts = call_parts(call.dimensions, call.events)
        links = chain(call.dimensions, call.events) if len(parts) > 1 else []
        for index, (dims, facts) in enumerate(parts):  # one part per organisation, as the rollups count
            if selection.organisation not in (None, dims.organisation) or selection.topic not in (None, dims.topic):
                continue
            if selection.figure not in call_figures(facts, policy):
                continue
            liaison = links[index].liaison if links else answering_liaison(call.events, fallback=call.liaison_id)
            if selection.liaison_id is not None and liaison != selection.liaison_id:
                continue
            lines.append(CallLine(call.id, call.sid, call.received_at, dims, call.caller_masked, facts, liaison))
    return sorted(lines, key=lambda line: (line.received_at, line.id))


def select_callbacks(callbacks: Iterable[CallbackLine], *, hour: int | None, zone: ZoneInfo) -> list[CallbackLine]:
    chosen = [c for c in callbacks if hour is None or c.requested_at.astimezone(zone).hour == hour]
    return sorted(chosen, key=lambda c: (c.requested_at, c.callback_id))


def per_liaison(lines: Iterable[CallLine], *, policy: StatsPolicy) -> list[tuple[int, Totals]]:
    """Answered calls per answering liaison, as totals (answered, average talk time, average speed of answer)."""
    rows: dict[int, Totals] = {}
    for line in lines:
        if line.liaison_id is not None and line.facts.outcome in ANSWERED_OUTCOMES:
            rows.setdefault(line.liaison_id, Totals()).add_call(line.facts, policy)
    return sorted(rows.items())
