"""Queue priority and routing choice: who is served next, by whom, and how long the wait will be.

Stdlib only. The Redis adapter runs the same selection in Lua (adapters/lua/dispatch.lua);
`plan_dispatch` is the reference it is cross-checked against in the tests.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ANY_TOPIC = "*"  # caller pressed 0 / menu default: any liaison of the organisation
ANY_SCAN_LIMIT = 32  # free liaisons looked at when a call may go to anyone


class CallClass(enum.StrEnum):
    PRO = "pro"  # professional (caseworker)
    CIT = "cit"  # citizen


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # only the router sets this, when it claims a call for the liaison
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class RoutingRules:
    widen_after_ms: int  # after this wait any liaison of the organisation may take the call
    citizen_promote_after_ms: int  # a citizen ranks as a professional who came this much later

    def rank(self, *, klass: CallClass | str, enqueued_at_ms: int) -> int:
        """Lower is served first; on equal rank the professional goes first."""
        return enqueued_at_ms + (self.citizen_promote_after_ms if klass == CallClass.CIT else 0)

    def is_widened(self, *, enqueued_at_ms: int, now_ms: int) -> bool:
        return now_ms - enqueued_at_ms >= self.widen_after_ms

    def is_eligible(self, *, topic: str, enqueued_at_ms: int, now_ms: int, liaison_topics: Iterable[str]) -> bool:
        """May a liaison who knows `liaison_topics` take this call now?"""
        return (
            topic == ANY_TOPIC
            or topic in set(liaison_topics)
            or self.is_widened(enqueued_at_ms=enqueued_at_ms, now_ms=now_ms)
        )


@dataclass(frozen=True)
class WaitingCall:
    call_sid: str
    topic: str
    klass: CallClass
    enqueued_at_ms: int


@dataclass(frozen=True)
class FreeLiaison:
    liaison_id: int
    topics: frozenset[str]
    since_ms: int  # available since; longest idle is offered first


@dataclass(frozen=True)
class Pair:
    call_sid: str
    liaison_id: int


def _serve_order(rules: RoutingRules, call: WaitingCall) -> tuple[int, bool, str]:
    rank = rules.rank(klass=call.klass, enqueued_at_ms=call.enqueued_at_ms)
    return (rank, call.klass != CallClass.PRO, call.call_sid)


def _idle_order(liaison: FreeLiaison) -> tuple[int, str]:
    return (liaison.since_ms, str(liaison.liaison_id))  # as a Redis sorted set orders members on equal score


def heads(calls: Iterable[WaitingCall]) -> list[WaitingCall]:
    """The oldest call of every (topic, class) queue."""
    best: dict[tuple[str, CallClass], WaitingCall] = {}
    for call in calls:
        key = (call.topic, call.klass)
        if key not in best or (call.enqueued_at_ms, call.call_sid) < (best[key].enqueued_at_ms, best[key].call_sid):
            best[key] = call
    return list(best.values())


def next_pair(
    *, waiting: Iterable[WaitingCall], free: Iterable[FreeLiaison], now_ms: int, rules: RoutingRules
) -> tuple[WaitingCall, FreeLiaison] | None:
    """The next claim: the best-ranked head that has a suitable free liaison, and that liaison.

    Checking only heads is exact: a queue is ordered by enqueue time, so if its head may not be
    widened yet, nobody behind it may be. An expert (longest idle first) is preferred; a call
    that may go to anyone gets the longest-idle liaison who is not the expert some waiting,
    not yet widened call depends on (the greedy choice would otherwise strand that call).
    """
    idle = sorted(free, key=_idle_order)
    if not idle:
        return None
    queue_heads = sorted(heads(waiting), key=lambda call: _serve_order(rules, call))
    demanded = {
        h.topic for h in queue_heads
        if h.topic != ANY_TOPIC and not rules.is_widened(enqueued_at_ms=h.enqueued_at_ms, now_ms=now_ms)
    }
    for head in queue_heads:
        if head.topic != ANY_TOPIC:
            expert = next((lia for lia in idle if head.topic in lia.topics), None)
            if expert is not None:
                return head, expert
        if head.topic == ANY_TOPIC or rules.is_widened(enqueued_at_ms=head.enqueued_at_ms, now_ms=now_ms):
            scan = idle[:ANY_SCAN_LIMIT]
            return head, next((lia for lia in scan if not (lia.topics & demanded)), scan[0])
    return None


def plan_dispatch(
    *, waiting: Iterable[WaitingCall], free: Iterable[FreeLiaison], now_ms: int, rules: RoutingRules
) -> list[Pair]:
    """Every claim one dispatch makes, in order (the reference for the Lua script)."""
    calls = {call.call_sid: call for call in waiting}
    liaisons = {lia.liaison_id: lia for lia in free}
    pairs: list[Pair] = []
    while (found := next_pair(waiting=calls.values(), free=liaisons.values(), now_ms=now_ms, rules=rules)):
        call, liaison = found
        pairs.append(Pair(call.call_sid, liaison.liaison_id))
        del calls[call.call_sid], liaisons[liaison.liaison_id]
    return pairs


# Results of the router port -------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    call_sid: str
    liaison_id: int
    org: str
    topic: str
    klass: CallClass
    waited_ms: int


@dataclass(frozen=True)
class AbandonResult:
    was_queued: bool  # the call left its queue
    freed_liaison_id: int | None  # the call was offered to this liaison, who is available again


@dataclass(frozen=True)
class RequeueResult:
    requeued: bool  # back in its queue with its original enqueue time
    liaison_set_away: bool


@dataclass(frozen=True)
class PresenceResult:
    accepted: bool
    status: Presence | None  # after the change; when refused, the current status
    call_sid: str | None = None  # refused: the call the liaison holds; release: the call that ended
    reason: str = ""  # "busy_with_call", "not_this_call", "unknown_liaison"


@dataclass(frozen=True)
class WaitHistory:
    """What a wait estimate is made of, read at once: the topic's latest waits (ms), the organisation's latest
    claim times (ms), newest first, and how many of its liaisons are in each presence."""
    waits_ms: tuple[int, ...]
    claim_times_ms: tuple[int, ...]
    presence: dict[Presence, int]


@dataclass(frozen=True)
class QueuePosition:
    position: int  # 1 = next for the liaisons who serve this call
    size: int  # calls waiting for those liaisons (same topic and "*")


@dataclass(frozen=True)
class CallSnapshot:
    """A waiting call as SQL records it; `liaison_id` set when it is being offered to a liaison."""

    call_sid: str
    topic: str
    klass: CallClass
    enqueued_at_ms: int
    liaison_id: int | None = None


@dataclass(frozen=True)
class LiaisonSnapshot:
    liaison_id: int
    topics: tuple[str, ...]
    status: Presence
    since_ms: int
    call_sid: str | None = None  # the call offered to or connected with this liaison


@dataclass(frozen=True)
class OrgSnapshot:
    org: str
    calls: Sequence[CallSnapshot] = field(default_factory=tuple)
    liaisons: Sequence[LiaisonSnapshot] = field(default_factory=tuple)


# Expected wait --------------------------------------------------------------------------------

MIN_SAMPLES = 5
GAP_PERCENTILE = 90
WAIT_PERCENTILE = 80


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (never interpolates below an observed value)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def claim_gaps_s(claim_times_ms: Iterable[int], *, now_ms: int | None = None) -> list[float]:
    """Seconds between consecutive claims; with `now_ms`, the open gap since the last claim too,
    so that a stall (nobody answering for ten minutes) lengthens the estimate."""
    times = sorted(claim_times_ms)
    gaps = [(b - a) / 1000 for a, b in zip(times, times[1:], strict=False)]
    if now_ms is not None and times and now_ms > times[-1]:
        gaps.append((now_ms - times[-1]) / 1000)
    return gaps


def round_for_speech(seconds: float) -> int:
    """Up to 30 s steps under two minutes, whole minutes above; never 0."""
    if seconds <= 120:
        return max(30, math.ceil(seconds / 30) * 30)
    return math.ceil(seconds / 60) * 60


def estimate_wait_seconds(
    *,
    position: int,
    recent_waits_s: Sequence[float],
    recent_claim_gaps_s: Sequence[float],
    available_liaisons: int,
    default_gap_s: float = 120.0,
) -> int:
    """An honest expected wait: announced >= actual for most calls.

    position x the 90th percentile of the gaps between claims (calls ahead of this one that a
    free liaison takes at once do not count), and at least the 80th percentile of the recent
    actual waits. With too little history the gap is `default_gap_s` (a setting, conservative).
    """
    if position < 1:
        raise ValueError("position starts at 1")
    gap = percentile(recent_claim_gaps_s, GAP_PERCENTILE) if len(recent_claim_gaps_s) >= MIN_SAMPLES else default_gap_s
    by_rate = max(1, position - max(0, available_liaisons)) * gap
    by_history = percentile(recent_waits_s, WAIT_PERCENTILE) if len(recent_waits_s) >= MIN_SAMPLES else 0.0
    return round_for_speech(max(by_rate, by_history))
