"""A call's outcome and its timing, decided from its event log alone.

The event log (`call_events`) is the source behind every figure: the outcome stored on the call row
is what the voice flow thought at the time; statistics decide again from the events, so a figure can
always be traced to the events behind it. Events may come twice (a repeated status callback) or out
of order (a late status callback, an `answered` event written after the fact with an earlier time):
every fact below is the earliest moment of its kind, and events are put in one canonical order
first, so neither changes a result.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from callrouter.domain.call_flow import LegStatus
from callrouter.domain.evaluation import Evaluation, evaluation

# Event kinds as stored (callrouter.domain.calls.EventKind values; plain strings so a kind this
# module does not know yet, such as "transferred", can be recognised before the voice flow writes it).
RECEIVED = "received"
QUEUED = "queued"
ANSWERED = "answered"
COMPLETED = "completed"
ABANDONED = "abandoned"
CALLBACK_REQUESTED = "callback_requested"
REFUSED = "refused"
LOCKED_OUT = "locked_out"
CLOSED = "closed"
NO_LIAISON = "no_liaison"
ERROR = "error"
STATUS = "status"
NOT_BRIDGED = "not_bridged"
TRANSFERRED = "transferred"  # a transfer to another organisation (docs/transfer.md)

TERMINAL_STATUSES = frozenset(status.value for status in LegStatus if status.ended)
# Events after which the caller's call is over (a terminal status callback of the caller's leg too).
ENDING_KINDS = frozenset({COMPLETED, ABANDONED, REFUSED, LOCKED_OUT, ERROR})

Event = tuple[str, datetime, Mapping[str, object]]  # (kind, at, detail), as callrouter.domain.calls.CallEvent


class StatOutcome(enum.StrEnum):
    """The fixed list of outcomes; every ended call has exactly one (see docs/statistics.md)."""

    ANSWERED = "answered"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    ABANDONED_IN_MENU = "abandoned_in_menu"
    CALLBACK_REQUESTED = "callback_requested"
    CLOSED = "closed"
    NO_LIAISON = "no_liaison"
    REFUSED = "refused"
    TRANSFERRED = "transferred"
    FAILED = "failed"


@dataclass(frozen=True)
class StatsPolicy:
    """The configurable parts of the definitions."""

    short_abandon_seconds: float = 5.0
    answer_thresholds_seconds: tuple[int, ...] = (20, 60, 120)

    def __post_init__(self) -> None:
        if self.short_abandon_seconds < 0:
            raise ValueError("short_abandon_seconds must be >= 0")
        if not self.answer_thresholds_seconds or any(t <= 0 for t in self.answer_thresholds_seconds):
            raise ValueError("answer_thresholds_seconds must be positive")
        if len(set(self.answer_thresholds_seconds)) != len(self.answer_thresholds_seconds):
            raise ValueError("answer_thresholds_seconds must not repeat")


@dataclass(frozen=True)
class CallFacts:
    """What one call contributes to the figures."""

    outcome: StatOutcome | None  # None: the call has not ended and nothing decided it yet
    received_at: datetime | None
    queued_at: datetime | None  # entered the queue (first time)
    answered_at: datetime | None  # a liaison picked up (first time)
    left_queue_at: datetime | None  # answered, asked for a callback, or hung up, whichever came first
    ended_at: datetime | None
    # The liaison's recorded result, the caseworker's verdict; whether this is a callback's conversation.
    evaluation: Evaluation = field(default_factory=Evaluation)
    # One organisation's part of a transferred call (callrouter.domain.statistics_transfers): how the call came
    # to it and left it (blind, consult, three_way), and on the last part the caller's time to the last liaison.
    transfer_in: str | None = None
    transfer_out: str | None = None
    to_last_liaison_seconds: float | None = None

    @property
    def offered(self) -> bool:
        return self.queued_at is not None

    @property
    def speed_of_answer_seconds(self) -> float | None:
        if self.answered_at is None or self.queued_at is None:
            return None
        return max(0.0, (self.answered_at - self.queued_at).total_seconds())

    @property
    def wait_seconds(self) -> float | None:
        """Time in the queue, until answered or left; None while still waiting or never queued."""
        if self.queued_at is None or self.left_queue_at is None:
            return None
        return max(0.0, (self.left_queue_at - self.queued_at).total_seconds())

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())

    def short_abandon(self, policy: StatsPolicy) -> bool:
        """Hung up in the queue within the short-abandon threshold (a misdial, a change of mind)."""
        wait = self.wait_seconds
        return self.outcome == StatOutcome.ABANDONED_IN_QUEUE and wait is not None and wait <= policy.short_abandon_seconds

    def answered_within(self, seconds: float) -> bool:
        speed = self.speed_of_answer_seconds
        return self.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED) and speed is not None and speed <= seconds


def _status(detail: Mapping[str, object]) -> str:
    value = detail.get("status")
    return value if isinstance(value, str) else ""


def _ends(kind: str, detail: Mapping[str, object]) -> bool:
    return kind in ENDING_KINDS or (kind == STATUS and _status(detail) in TERMINAL_STATUSES)


def canonical(events: Iterable[Event]) -> list[Event]:
    """One order for any delivery order: by time, then kind, then detail; a pickup that was never bridged
    (an `answered` followed by `not_bridged`: the liaison hung up in the whisper) is no answer."""
    ordered = sorted(((str(kind), at, detail) for kind, at, detail in events),
                     key=lambda e: (e[1], e[0], sorted((k, str(v)) for k, v in e[2].items())))
    retracted: set[int] = set()
    for position, (kind, _at, _detail) in enumerate(ordered):
        if kind == NOT_BRIDGED:
            answers = [i for i in range(position) if ordered[i][0] == ANSWERED and i not in retracted]
            if answers:
                retracted.add(answers[-1])
    return [event for i, event in enumerate(ordered) if i not in retracted]


def _first(events: list[Event], kinds: frozenset[str] | set[str], *, after: datetime | None = None) -> Event | None:
    return next((e for e in events if e[0] in kinds and (after is None or e[1] >= after)), None)


def decide_outcome(events: Iterable[Event]) -> StatOutcome | None:
    """The call's outcome; the first rule that matches decides.

    1. a liaison answered: `transferred` if a transfer followed, else `answered`;
    2. the caller asked for a callback (in the queue, when closed, or with nobody on duty): `callback_requested`;
    3. the caller was refused (wrong code/PIN, locked out): `refused`;
    4. the organisation was closed: `closed`; 5. nobody of the organisation on duty: `no_liaison`;
    6. an error, or the call ended with status `failed`: `failed`;
    7. the call ended after entering the queue: `abandoned_in_queue`; before it: `abandoned_in_menu`;
    otherwise the call goes on and has no outcome yet (None).
    """
    return _decide(canonical(events))


def _decide(ordered: list[Event]) -> StatOutcome | None:
    """decide_outcome on events already in canonical order (canonical() retracts answers, so runs once)."""
    kinds = {e[0] for e in ordered}
    answered = _first(ordered, {ANSWERED})
    if answered is not None:
        return StatOutcome.TRANSFERRED if _first(ordered, {TRANSFERRED}, after=answered[1]) else StatOutcome.ANSWERED
    for kind_set, outcome in (({CALLBACK_REQUESTED}, StatOutcome.CALLBACK_REQUESTED),
                              ({REFUSED, LOCKED_OUT}, StatOutcome.REFUSED), ({CLOSED}, StatOutcome.CLOSED),
                              ({NO_LIAISON}, StatOutcome.NO_LIAISON), ({ERROR}, StatOutcome.FAILED)):
        if kinds & kind_set:
            return outcome
    end = next((e for e in ordered if _ends(e[0], e[2])), None)
    if end is None:
        return None
    if _status(end[2]) == "failed":
        return StatOutcome.FAILED
    return StatOutcome.ABANDONED_IN_QUEUE if QUEUED in kinds else StatOutcome.ABANDONED_IN_MENU


def call_facts(events: Iterable[Event]) -> CallFacts:
    """The outcome and the moments a rollup needs, each the earliest of its kind."""
    ordered = canonical(events)
    received = _first(ordered, {RECEIVED})
    queued = _first(ordered, {QUEUED})
    answered = _first(ordered, {ANSWERED})
    ending = [e for e in ordered if _ends(e[0], e[2])]
    ended_at = ending[0][1] if ending else None
    if answered is not None and ended_at is not None and ended_at < answered[1]:
        # An end stamped before the answer (clock skew between webhooks): the first end after it counts.
        ended_at = next((e[1] for e in ending if e[1] >= answered[1]), answered[1])
    left_queue_at = None
    if queued is not None:
        left = [e[1] for e in ordered if e[1] >= queued[1]
                and (e[0] in (ANSWERED, CALLBACK_REQUESTED) or _ends(e[0], e[2]))]
        left_queue_at = left[0] if left else None
    return CallFacts(
        outcome=_decide(ordered),
        received_at=received[1] if received else (ordered[0][1] if ordered else None),
        queued_at=queued[1] if queued else None,
        answered_at=answered[1] if answered else None,
        left_queue_at=left_queue_at,
        ended_at=ended_at,
        evaluation=evaluation(ordered),
    )
