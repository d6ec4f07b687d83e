"""Rebuild Redis's live state from SQL: every waiting call and every liaison's presence."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from callrouter.domain.callbacks import CallbackState, router_member
from callrouter.domain.calls import CallState
from callrouter.domain.queueing import CallClass, CallSnapshot, LiaisonSnapshot, OrgSnapshot, Presence
from callrouter.services.queue_flow import ms
from callrouter.services.voice import VoiceDeps


@dataclass(frozen=True)
class RebuildReport:
    organisations: int
    waiting: int
    liaisons: int


def rebuild_live_state(deps: VoiceDeps) -> RebuildReport:
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
    return RebuildReport(len(orgs), sum(len(v) for v in by_org.values()), sum(len(v) for v in liaisons.values()))
