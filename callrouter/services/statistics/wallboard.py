"""The supervisors' wallboard: live figures per organisation, topic, counter and line kind.

Counted as calls move (the call steps call the `on_*` functions right after the SQL state change
they follow, which happens once per call), kept in Redis through the LiveCounters port, read
without touching SQL. A call counts on the local day it arrived (Europe/Amsterdam, as the
rollups); the definitions are those of docs/statistics.md:

- offered: entered a queue; answered: a liaison picked up; answered within T: speed of answer
  (queued -> answered) at most T seconds (the first answer threshold);
- abandoned: hung up in the queue (also while the liaison's phone rang); short: within S seconds;
- service level = answered within T / (answered + abandoned - short abandoned), none when 0/0;
- waiting: in the queue or ringing at a liaison now; oldest wait: the longest of those, so far;
- on hold in consultation: callers on hold while their liaison consults another organisation (from the
  consult's request until it is completed, cancelled, becomes a three-way call, or the caller hangs up).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from callrouter.domain.calls import CallRecord, Outcome
from callrouter.domain.queueing import ANY_TOPIC, Presence
from callrouter.domain.statistics import StatsPolicy
from callrouter.domain.statistics_intervals import AMSTERDAM
from callrouter.ports.calls import Directory, LiveCounters, LiveDims, LiveOrgState
from callrouter.services.statistics.statistics import StatsStore

log = logging.getLogger("callrouter.wallboard")
OFFERED, ANSWERED, WITHIN, ABANDONED, SHORT = "offered", "answered", "answered_within", "abandoned", "short_abandoned"
METRICS = (OFFERED, ANSWERED, WITHIN, ABANDONED, SHORT)
PRESENCES = (Presence.AVAILABLE, Presence.BUSY, Presence.WRAP_UP, Presence.AWAY, Presence.OFFLINE)


@dataclass(frozen=True)
class LivePolicy:
    zone: ZoneInfo = AMSTERDAM
    stats: StatsPolicy = field(default_factory=StatsPolicy)  # the rollups' thresholds: the same definitions

    @property
    def answer_within_seconds(self) -> int:
        """T of the wallboard's service level: the first answer threshold."""
        return self.stats.answer_thresholds_seconds[0]

    @property
    def short_abandon_seconds(self) -> float:
        return self.stats.short_abandon_seconds


@dataclass(frozen=True)
class LiveBoard:
    """What the voice flow needs to keep the wallboard: the counters, the policy, and (to rebuild
    today's counts after Redis lost them) the statistics store that rolls calls up from SQL."""

    counters: LiveCounters
    policy: LivePolicy = field(default_factory=LivePolicy)
    record: StatsStore | None = None


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def dims_of(record: CallRecord) -> LiveDims:
    return (record.organisation or "", record.topic or "", record.location or "", record.line_kind or "")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- counting as calls move -----------------------------------------------------------------------

def _count(board: LiveBoard | None, record: CallRecord, metrics: Sequence[str], *, waiting_since: datetime | None = None,
           left_queue: bool = False) -> None:
    if board is None or not record.organisation:
        return
    try:
        board.counters.count(call_sid=record.sid, day=local_day(record.received_at, board.policy.zone),
                             dims=dims_of(record), metrics=metrics, left_queue=left_queue,
                             waiting_since_ms=None if waiting_since is None else _ms(waiting_since))
    except Exception as exc:  # noqa: BLE001 - a figure must never break a call; the reconciler repairs waiting
        log.warning("wallboard.count_failed call_sid=%s metrics=%s error=%s", record.sid, ",".join(metrics),
                    type(exc).__name__)


def on_queued(board: LiveBoard | None, record: CallRecord) -> None:
    """The call entered its queue (record as after the `queued` event)."""
    _count(board, record, [OFFERED], waiting_since=record.queued_at or record.received_at)


def on_answered(board: LiveBoard | None, record: CallRecord) -> None:
    """A liaison picked up (record as after the `answered` event)."""
    metrics = [ANSWERED]
    if board is not None and record.queued_at and record.answered_at:
        speed = max(0.0, (record.answered_at - record.queued_at).total_seconds())
        if speed <= board.policy.answer_within_seconds:
            metrics.append(WITHIN)
    _count(board, record, metrics, left_queue=True)


def on_ended(board: LiveBoard | None, record: CallRecord, *, outcome: Outcome, at: datetime) -> None:
    """The call ended (record as before the end): an abandon in the queue counts; it waits no more."""
    metrics: list[str] = []
    if board is not None and outcome == Outcome.ABANDONED_IN_QUEUE and record.queued_at:
        metrics.append(ABANDONED)
        if max(0.0, (at - record.queued_at).total_seconds()) <= board.policy.short_abandon_seconds:
            metrics.append(SHORT)
    _count(board, record, metrics, left_queue=True)
    on_hold(board, record, since=None)  # a caller who hangs up on hold is on hold no more


def on_taken_over(board: LiveBoard | None, record: CallRecord, *, waited_seconds: float) -> None:
    """After a consult (completed or three-way) the other organisation's liaison has the call: offered and
    answered there, within T when the consult waited at most T from its request (as the rollups count it).
    `record` names the other organisation."""
    metrics = [OFFERED, ANSWERED]
    if board is not None and waited_seconds <= board.policy.answer_within_seconds:
        metrics.append(WITHIN)
    _count(board, record, metrics, left_queue=True)


def on_hold(board: LiveBoard | None, record: CallRecord, *, since: datetime | None) -> None:
    """The caller went on hold for a consult at `since`, or (None) came off hold; counted for the call's organisation."""
    if board is None or not record.organisation:
        return
    try:
        board.counters.hold(call_sid=record.sid, dims=dims_of(record), since_ms=None if since is None else _ms(since))
    except Exception as exc:  # noqa: BLE001 - a figure must never break a call
        log.warning("wallboard.hold_failed call_sid=%s error=%s", record.sid, type(exc).__name__)


def on_left_queue(board: LiveBoard | None, record: CallRecord) -> None:
    """The caller left the queue for something else (a callback): no longer waiting."""
    _count(board, record, [], left_queue=True)


# -- reading --------------------------------------------------------------------------------------

@dataclass
class LiveFigures:
    waiting: int = 0
    oldest_since_ms: int | None = None
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    on_hold: int = 0  # callers on hold in a consult now
    longest_hold_since_ms: int | None = None

    def add_hold(self, since_ms: int) -> None:
        self.on_hold += 1
        self.longest_hold_since_ms = (since_ms if self.longest_hold_since_ms is None
                                      else min(self.longest_hold_since_ms, since_ms))

    def longest_hold_seconds(self, now: datetime) -> float | None:
        since = self.longest_hold_since_ms
        return None if since is None else max(0.0, (_ms(now) - since) / 1000)

    def add_counts(self, counts: Mapping[str, int]) -> None:
        for metric in METRICS:
            name = "answered_within" if metric == WITHIN else metric
            setattr(self, name, getattr(self, name) + int(counts.get(metric, 0)))

    def add_waiting(self, since_ms: int) -> None:
        self.waiting += 1
        self.oldest_since_ms = since_ms if self.oldest_since_ms is None else min(self.oldest_since_ms, since_ms)

    def merge(self, other: LiveFigures) -> None:
        self.add_counts({OFFERED: other.offered, ANSWERED: other.answered, WITHIN: other.answered_within,
                         ABANDONED: other.abandoned, SHORT: other.short_abandoned})
        self.waiting += other.waiting
        if other.oldest_since_ms is not None:
            self.waiting -= 1
            self.add_waiting(other.oldest_since_ms)
        self.on_hold += other.on_hold
        if other.longest_hold_since_ms is not None:
            self.on_hold -= 1
            self.add_hold(other.longest_hold_since_ms)

    @property
    def judged(self) -> int:
        return self.answered + self.abandoned - self.short_abandoned

    @property
    def service_level(self) -> float | None:
        return self.answered_within / self.judged if self.judged > 0 else None

    def oldest_wait_seconds(self, now: datetime) -> float | None:
        return None if self.oldest_since_ms is None else max(0.0, (_ms(now) - self.oldest_since_ms) / 1000)


@dataclass(frozen=True)
class LiveFilters:
    organisation: str | None = None
    topic: str | None = None
    location: str | None = None
    line_kind: str | None = None

    def matches(self, dims: LiveDims) -> bool:
        wanted = (self.organisation, self.topic, self.location, self.line_kind)
        return all(want is None or want == have for want, have in zip(wanted, dims, strict=True))


@dataclass(frozen=True)
class LiveRow:
    dims: LiveDims
    figures: LiveFigures


@dataclass(frozen=True)
class Wallboard:
    day: date
    now: datetime
    rows: list[LiveRow]  # one per organisation x topic x counter x line kind with a call today
    totals: LiveFigures
    liaisons: dict[str, dict[str, int]]  # organisation -> presence -> liaisons
    liaison_totals: dict[str, int]


def read_wallboard(board: LiveBoard, directory: Directory, *, now: datetime, organisations: Sequence[str],
                   filters: LiveFilters) -> Wallboard:
    """Today's live figures of the given organisations (the caller applied the person's scope), filtered."""
    day = local_day(now, board.policy.zone)
    orgs = [org for org in organisations if filters.organisation in (None, org)]
    states = board.counters.read(organisations=orgs, day=day)
    rows: dict[LiveDims, LiveFigures] = {}
    for state in states:
        for dims, counts in state.counts.items():
            if filters.matches(dims):
                rows.setdefault(dims, LiveFigures()).add_counts(counts)
        for _sid, dims, since in state.waiting:
            if filters.matches(dims):
                rows.setdefault(dims, LiveFigures()).add_waiting(since)
        for _sid, dims, since in state.on_hold:
            if filters.matches(dims):
                rows.setdefault(dims, LiveFigures()).add_hold(since)
    totals = LiveFigures()
    for figures in rows.values():
        totals.merge(figures)
    liaisons = {state.organisation: _presence(state, directory, topic=filters.topic) for state in states}
    liaison_totals = {str(p): sum(c[str(p)] for c in liaisons.values()) for p in PRESENCES}
    return Wallboard(day, now, [LiveRow(d, f) for d, f in sorted(rows.items())], totals, liaisons, liaison_totals)


def _presence(state: LiveOrgState, directory: Directory, *, topic: str | None) -> dict[str, int]:
    """Liaisons of the organisation per presence (those who know `topic`, when given); offline when unknown to Redis."""
    status = {liaison_id: value for liaison_id, value, _topics in state.liaisons}
    counts = {str(p): 0 for p in PRESENCES}
    for liaison in directory.liaisons_of(state.organisation):
        if topic not in (None, ANY_TOPIC) and topic not in liaison.topics:
            continue
        value = status.get(liaison.id, str(Presence.OFFLINE))
        counts[value if value in counts else str(Presence.OFFLINE)] += 1
    return counts
