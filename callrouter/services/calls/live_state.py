"""Rebuild Redis's live state from SQL: every waiting call, every liaison's presence, the wallboard's counters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from callrouter.domain.callbacks import CallbackState, router_member
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.domain.queueing import CallClass, CallSnapshot, LiaisonSnapshot, OrgSnapshot, Presence
from callrouter.domain.statistics_intervals import day_start
from callrouter.domain.statistics_totals import DIMENSION_NAMES
from callrouter.ports.calls import LiveDims, LiveWaiting
from callrouter.services.calls import consult_record
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.statistics import statistics, wallboard
from callrouter.services.statistics.wallboard import ABANDONED, ANSWERED, OFFERED, SHORT, WITHIN, dims_of, local_day

WAITING = frozenset({CallState.QUEUED, CallState.OFFERED})
SYNC_MARGIN = timedelta(seconds=60)  # a call queued since the SQL read is not in it: leave recent entries be


@dataclass(frozen=True)
class RebuildReport:
    organisations: int
    waiting: int
    liaisons: int


def rebuild_live_state(deps: CallDeps) -> RebuildReport:
    calls = deps.calls.calls_in_states(frozenset({CallState.QUEUED, CallState.OFFERED, CallState.CONNECTED}))
    by_org: dict[str, list[CallSnapshot]] = defaultdict(list)
    holding: dict[int, str] = {}
    for call in calls:
        if call.state == CallState.CONNECTED:
            if call.liaison_id is not None:
                holding[call.liaison_id] = call.sid
            continue
        if call.organisation and call.queued_at:
            by_org[call.organisation].append(CallSnapshot(
                call_sid=call.sid, topic=call.topic or "*", klass=CallClass(call.priority_class.value),
                enqueued_at_ms=ms(call.queued_at),
                liaison_id=call.liaison_id if call.state == CallState.OFFERED else None))
            if call.state == CallState.OFFERED and call.liaison_id is not None:
                holding[call.liaison_id] = call.sid
    for callback in deps.callbacks.in_states(frozenset({CallbackState.SCHEDULED, CallbackState.DIALLING})):
        member = router_member(callback.id)
        dialling = callback.state == CallbackState.DIALLING and callback.liaison_id is not None
        by_org[callback.organisation].append(CallSnapshot(
            call_sid=member, topic=callback.topic, klass=CallClass(callback.priority_class),
            enqueued_at_ms=ms(callback.place_at), liaison_id=callback.liaison_id if dialling else None))
        if dialling and callback.liaison_id is not None:
            holding[callback.liaison_id] = member
    liaisons: dict[str, list[LiaisonSnapshot]] = defaultdict(list)
    for liaison_id, org, status, since in deps.presence.all():
        liaison = deps.directory.liaison(liaison_id)
        if liaison is None:
            continue
        current = holding.get(liaison_id)
        liaisons[org].append(LiaisonSnapshot(
            liaison_id=liaison_id, topics=tuple(liaison.topics),
            status=Presence.BUSY if current else Presence(status), since_ms=ms(since), call_sid=current))
    orgs = sorted(set(by_org) | set(liaisons))
    deps.router.rebuild(snapshots=[OrgSnapshot(org=o, calls=tuple(by_org[o]), liaisons=tuple(liaisons[o]))
                                   for o in orgs])
    rebuild_live_counters(deps, open_calls=calls)
    return RebuildReport(len(orgs), sum(len(v) for v in by_org.values()), sum(len(v) for v in liaisons.values()))


# -- the wallboard ----------------------------------------------------------------------------------

def _waiting_by_org(calls: Sequence[CallRecord]) -> dict[str, list[LiveWaiting]]:
    waiting: dict[str, list[LiveWaiting]] = defaultdict(list)
    for call in calls:
        if call.state in WAITING and call.organisation and call.queued_at:
            waiting[call.organisation].append((call.sid, dims_of(call), ms(call.queued_at)))
    return waiting


def todays_counts(deps: CallDeps, *, now: datetime) -> dict[str, dict[LiveDims, dict[str, int]]]:
    """Today's wallboard counts per organisation, from SQL: today's rollups recomputed from the event log
    (idempotent), then read, so they follow the history's definitions exactly."""
    board = deps.live
    if board is None or board.record is None:
        return {}
    zone = board.policy.zone
    day = local_day(now, zone)
    stats = statistics.StatsDeps(store=board.record, clock=deps.clock, policy=board.policy.stats, zone=zone)
    statistics.rollup_since(stats, since=day_start(day, zone=zone), until=now)
    counts: dict[str, dict[LiveDims, dict[str, int]]] = defaultdict(dict)
    for row in statistics.view(stats, grain="day", first_day=day, last_day=day, by=DIMENSION_NAMES):
        d = row.dimensions
        dims: LiveDims = (d["organisation"], d["topic"], d["location"], d["line_kind"])
        t = row.totals
        if dims[0]:
            counts[dims[0]][dims] = {OFFERED: t.offered, ANSWERED: t.answered,
                                     WITHIN: t.within.get(board.policy.answer_within_seconds, 0),
                                     ABANDONED: t.abandoned, SHORT: t.short_abandoned}
    return counts


def rebuild_live_counters(deps: CallDeps, *, open_calls: Sequence[CallRecord] | None = None) -> int:
    """Replace the wallboard's counts of today and its waiting calls with what SQL says; organisations written."""
    board = deps.live
    if board is None:
        return 0
    now = deps.clock.now()
    calls = deps.calls.calls_in_states(WAITING) if open_calls is None else open_calls
    waiting = _waiting_by_org(calls)
    counts = todays_counts(deps, now=now)
    orgs = sorted(set(waiting) | set(counts) | {o.code for o in deps.directory.all_organisations()})
    day = local_day(now, board.policy.zone)
    for org in orgs:
        board.counters.replace(organisation=org, day=day, counts=counts.get(org, {}), waiting=waiting.get(org, []))
        board.counters.clear_on_hold(organisation=org)  # entries a lost write left behind go; SQL sets the rest
    rebuild_on_hold(deps)
    return len(orgs)


def rebuild_on_hold(deps: CallDeps) -> int:
    """Callers on hold in a consult now, from SQL (the consult's `asked` event): put back on the wallboard."""
    board = deps.live
    if board is None:
        return 0
    held = 0
    for record in deps.calls.calls_in_states(frozenset({CallState.CONNECTED})):
        now = consult_record.current(deps, record)
        if now is None or not now.active:
            continue
        asked = [e.at for e in deps.calls.events(record.sid)
                 if e.kind == EventKind.CONSULT and e.detail.get("step") == "asked"]
        wallboard.on_hold(board, record, since=asked[-1] if asked else deps.clock.now())
        held += 1
    return held


def sync_live_waiting(deps: CallDeps, *, open_calls: Sequence[CallRecord], read_at: datetime) -> tuple[int, int]:
    """Repair the wallboard's waiting calls (a count lost to a crash): add what SQL says waits, drop what
    no longer does. Returns (added, removed)."""
    board = deps.live
    if board is None:
        return 0, 0
    waiting = _waiting_by_org(open_calls)
    orgs = sorted(set(waiting) | {o.code for o in deps.directory.all_organisations()})
    added = removed = 0
    for org in orgs:
        a, r = board.counters.sync_waiting(organisation=org, waiting=waiting.get(org, []),
                                           before_ms=ms(read_at - SYNC_MARGIN))
        added, removed = added + a, removed + r
    return added, removed
