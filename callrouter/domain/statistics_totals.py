"""The sums a rollup row keeps, and the figures derived from them.

Rows keep sums and counts only (total answer milliseconds and the number of answers, never an
average), so any grouping of rows (a day, an organisation, a month of Mondays) gives exact figures:
sum the rows, then divide. Definitions: callrouter.domain.statistics_definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from callrouter.domain.statistics import CallFacts, Event, StatOutcome, StatsPolicy

CallbackMove = Literal["requested", "completed", "failed"]
COUNTERS = ("received", "offered", "answered", "abandoned", "short_abandoned", "answer_ms", "answer_timed",
            "talk_ms", "talked", "callbacks_requested", "callbacks_completed", "callbacks_failed", "in_progress",
            # the evaluation (callrouter.domain.evaluation)
            "callback_conversations", "callback_talk_ms", "results_recorded", "result_resolved", "result_follow_up",
            "result_referred", "result_not_for_us", "verdicts_asked", "verdict_yes", "verdict_partly", "verdict_no",
            # transfers between organisations (callrouter.domain.statistics_transfers)
            "transfers_out", "transfers_out_blind", "transfers_out_consult", "transfers_out_three_way",
            "transfers_in", "transfers_in_answered", "to_last_liaison_ms", "to_last_liaison_timed")


@dataclass(frozen=True, order=True)
class Dimensions:
    """Where a call belongs; "" when it never got that far (e.g. hung up before choosing)."""

    organisation: str = ""
    topic: str = ""
    location: str = ""
    line_kind: str = ""


DIMENSION_NAMES = tuple(f.name for f in fields(Dimensions))


@dataclass(frozen=True)
class IntervalInput:
    """What a rollup of one interval reads: the calls that arrived in it (with their event logs) and
    the callback moves made in it."""

    calls: list[tuple[Dimensions, list[Event]]]
    callback_moves: list[tuple[Dimensions, CallbackMove]]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class Totals:
    received: int = 0  # calls that arrived
    offered: int = 0  # calls that entered a queue
    answered: int = 0  # answered by a liaison (transferred ones included)
    abandoned: int = 0  # hung up in the queue
    short_abandoned: int = 0  # of those, within the short-abandon threshold
    answer_ms: int = 0  # sum of speed of answer over `answer_timed` calls
    answer_timed: int = 0
    longest_wait_ms: int = 0
    talk_ms: int = 0  # sum of talk time over `talked` calls
    talked: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    callbacks_failed: int = 0
    in_progress: int = 0  # arrived, not ended, no outcome yet
    callback_conversations: int = 0  # callbacks whose caller was reached: conversations, not arrivals
    callback_talk_ms: int = 0
    results_recorded: int = 0  # conversations whose liaison recorded a result
    result_resolved: int = 0
    result_follow_up: int = 0
    result_referred: int = 0
    result_not_for_us: int = 0
    verdicts_asked: int = 0  # caseworkers who heard the verdict question
    verdict_yes: int = 0
    verdict_partly: int = 0
    verdict_no: int = 0
    transfers_out: int = 0  # handed to another organisation (blind, consult or three-way), by kind below
    transfers_out_blind: int = 0
    transfers_out_consult: int = 0
    transfers_out_three_way: int = 0
    transfers_in: int = 0  # received from another organisation (also counted in received and offered)
    transfers_in_answered: int = 0
    to_last_liaison_ms: int = 0  # first entering a queue to the last liaison's answer, over `to_last_liaison_timed`
    to_last_liaison_timed: int = 0
    outcomes: dict[StatOutcome, int] = field(default_factory=dict)
    within: dict[int, int] = field(default_factory=dict)  # threshold seconds -> answered within it

    def _add_evaluation(self, facts: CallFacts, *, conversation: bool) -> None:
        judged = facts.evaluation
        if conversation and judged.result is not None:
            self.results_recorded += 1
            name = f"result_{judged.result}"
            setattr(self, name, getattr(self, name) + 1)
        self.verdicts_asked += judged.verdict_asked
        if judged.verdict is not None:
            name = f"verdict_{judged.verdict.value}"
            setattr(self, name, getattr(self, name) + 1)

    def _add_transfers(self, facts: CallFacts) -> None:
        answered = facts.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED)
        if facts.transfer_out is not None:
            self.transfers_out += 1
            name = f"transfers_out_{facts.transfer_out}"
            if hasattr(self, name):
                setattr(self, name, getattr(self, name) + 1)
        if facts.transfer_in is not None:
            self.transfers_in += 1
            self.transfers_in_answered += answered
        # the time to the last liaison: the part's own speed of answer unless the call was transferred
        transferred = facts.transfer_in is not None or facts.transfer_out is not None
        to_last = facts.to_last_liaison_seconds if transferred else facts.speed_of_answer_seconds
        if answered and to_last is not None:
            self.to_last_liaison_ms += _ms(to_last)
            self.to_last_liaison_timed += 1

    def add_call(self, facts: CallFacts, policy: StatsPolicy) -> None:
        if facts.evaluation.callback_conversation:  # a conversation, not a call that arrived: no queue figures
            talked = facts.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED)
            self.callback_conversations += talked
            self.callback_talk_ms += _ms(facts.talk_seconds or 0) if talked else 0
            self._add_evaluation(facts, conversation=talked)
            return
        self.received += 1
        self._add_evaluation(facts, conversation=facts.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED))
        self.offered += facts.offered
        if facts.outcome is None:
            self.in_progress += 1
        else:
            self.outcomes[facts.outcome] = self.outcomes.get(facts.outcome, 0) + 1
        self._add_transfers(facts)
        if facts.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED):
            self.answered += 1
            speed = facts.speed_of_answer_seconds
            if speed is not None:
                self.answer_ms += _ms(speed)
                self.answer_timed += 1
            for threshold in policy.answer_thresholds_seconds:
                self.within[threshold] = self.within.get(threshold, 0) + facts.answered_within(threshold)
            talk = facts.talk_seconds
            if talk is not None:
                self.talk_ms += _ms(talk)
                self.talked += 1
        if facts.outcome == StatOutcome.ABANDONED_IN_QUEUE:
            self.abandoned += 1
            self.short_abandoned += facts.short_abandon(policy)
        wait = facts.wait_seconds
        if wait is not None:
            self.longest_wait_ms = max(self.longest_wait_ms, _ms(wait))

    def add_callback(self, move: CallbackMove) -> None:
        name = f"callbacks_{move}"
        setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: Totals) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait_ms = max(self.longest_wait_ms, other.longest_wait_ms)
        for outcome, count in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count
        for threshold, count in other.within.items():
            self.within[threshold] = self.within.get(threshold, 0) + count

    # -- derived figures -------------------------------------------------------------------------

    @property
    def service_level_base(self) -> int:
        """Answered + abandoned after the short-abandon threshold: the calls service level judges."""
        return self.answered + self.abandoned - self.short_abandoned

    def service_level(self, threshold: int) -> float | None:
        base = self.service_level_base
        if not base or threshold not in self.within:
            return None
        return self.within[threshold] / base

    @property
    def average_speed_of_answer_seconds(self) -> float | None:
        return self.answer_ms / self.answer_timed / 1000 if self.answer_timed else None

    @property
    def average_talk_time_seconds(self) -> float | None:
        return self.talk_ms / self.talked / 1000 if self.talked else None

    @property
    def longest_wait_seconds(self) -> float:
        return self.longest_wait_ms / 1000

    @property
    def average_to_last_liaison_seconds(self) -> float | None:
        return self.to_last_liaison_ms / self.to_last_liaison_timed / 1000 if self.to_last_liaison_timed else None

    @property
    def transfers_in_answered_share(self) -> float | None:
        return self.transfers_in_answered / self.transfers_in if self.transfers_in else None

    @property
    def conversations(self) -> int:
        """Answered calls and callback conversations: the conversations a result is asked for."""
        return self.answered + self.callback_conversations

    @property
    def results_recorded_share(self) -> float | None:
        return self.results_recorded / self.conversations if self.conversations else None

    @property
    def average_callback_talk_time_seconds(self) -> float | None:
        return self.callback_talk_ms / self.callback_conversations / 1000 if self.callback_conversations else None

    @property
    def verdicts(self) -> int:
        return self.verdict_yes + self.verdict_partly + self.verdict_no

    @property
    def verdict_response_share(self) -> float | None:
        return self.verdicts / self.verdicts_asked if self.verdicts_asked else None

    def verdict_share(self, answer: str) -> float | None:
        return getattr(self, f"verdict_{answer}") / self.verdicts if self.verdicts else None

    def figures(self) -> dict[str, float | int | None]:
        """Every figure by its name in the definitions (thresholds as a suffix)."""
        out: dict[str, float | int | None] = {
            "received": self.received, "offered": self.offered, "answered": self.answered,
            "abandoned": self.abandoned, "short_abandoned": self.short_abandoned,
        }
        for threshold in sorted(self.within):
            out[f"answered_within_{threshold}s"] = self.within[threshold]
            out[f"service_level_{threshold}s"] = self.service_level(threshold)
        out.update({
            "average_speed_of_answer_seconds": self.average_speed_of_answer_seconds,
            "longest_wait_seconds": self.longest_wait_seconds,
            "average_talk_time_seconds": self.average_talk_time_seconds,
            "callbacks_requested": self.callbacks_requested, "callbacks_completed": self.callbacks_completed,
            "callbacks_failed": self.callbacks_failed, "in_progress": self.in_progress,
        })
        for outcome in StatOutcome:
            out[f"outcome_{outcome.value}"] = self.outcomes.get(outcome, 0)
        out.update({
            "conversations": self.conversations, "callback_conversations": self.callback_conversations,
            "average_callback_talk_time_seconds": self.average_callback_talk_time_seconds,
            "results_recorded": self.results_recorded, "results_recorded_share": self.results_recorded_share,
            "result_resolved": self.result_resolved, "result_follow_up": self.result_follow_up,
            "result_referred": self.result_referred, "result_not_for_us": self.result_not_for_us,
            "verdicts_asked": self.verdicts_asked, "verdicts": self.verdicts,
            "verdict_response_share": self.verdict_response_share, "verdict_yes": self.verdict_yes,
            "verdict_partly": self.verdict_partly, "verdict_no": self.verdict_no,
            "verdict_yes_share": self.verdict_share("yes"), "verdict_partly_share": self.verdict_share("partly"),
            "verdict_no_share": self.verdict_share("no"),
            "transfers_out": self.transfers_out, "transfers_out_blind": self.transfers_out_blind,
            "transfers_out_consult": self.transfers_out_consult,
            "transfers_out_three_way": self.transfers_out_three_way, "transfers_in": self.transfers_in,
            "transfers_in_answered": self.transfers_in_answered,
            "transfers_in_answered_share": self.transfers_in_answered_share,
            "average_to_last_liaison_seconds": self.average_to_last_liaison_seconds,
        })
        return out


def rollup(*, calls: Iterable[tuple[Dimensions, CallFacts]],
           callback_moves: Iterable[tuple[Dimensions, CallbackMove]], policy: StatsPolicy) -> dict[Dimensions, Totals]:
    """One interval's rows: the calls that arrived in it and the callback moves made in it."""
    rows: dict[Dimensions, Totals] = {}
    for dims, facts in calls:
        rows.setdefault(dims, _empty(policy)).add_call(facts, policy)
    for dims, move in callback_moves:
        rows.setdefault(dims, _empty(policy)).add_callback(move)
    return rows


def _empty(policy: StatsPolicy) -> Totals:
    return Totals(within=dict.fromkeys(policy.answer_thresholds_seconds, 0))


def total(rows: Iterable[Totals] | Mapping[object, Totals]) -> Totals:
    result = Totals()
    for row in rows.values() if isinstance(rows, Mapping) else rows:
        result.merge(row)
    return result
