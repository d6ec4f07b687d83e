"""Liaison presence: set by the liaison (API now, console later), kept in SQL, live in Redis."""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.domain.queueing import Presence
from callrouter.services.errors import Conflict, NotFound
from callrouter.services.queue_flow import ms, request_dispatch
from callrouter.services.voice import VoiceDeps

SETTABLE = (Presence.AVAILABLE, Presence.WRAP_UP, Presence.AWAY, Presence.OFFLINE)


@dataclass(frozen=True)
class PresenceView:
    liaison_id: int
    organisation: str
    status: str
    call_sid: str | None


def set_presence(deps: VoiceDeps, *, liaison_id: int, status: Presence, organisation_scope: str | None) -> PresenceView:
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None or (organisation_scope not in (None, "*") and liaison.organisation != organisation_scope):
        raise NotFound(f"no liaison {liaison_id}")
    now = deps.clock.now()
    result = deps.router.set_presence(liaison_id=liaison_id, org=liaison.organisation, topics=liaison.topics,
                                      status=status, now_ms=ms(now))
    if not result.accepted:
        raise Conflict(f"liaison {liaison_id} is on a call; presence changes when the call ends ({result.reason})")
    deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=status.value, since=now)
    if status == Presence.AVAILABLE:
        request_dispatch(deps, org=liaison.organisation)
    return get_presence(deps, liaison_id=liaison_id, organisation_scope=organisation_scope)


def get_presence(deps: VoiceDeps, *, liaison_id: int, organisation_scope: str | None) -> PresenceView:
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None or (organisation_scope not in (None, "*") and liaison.organisation != organisation_scope):
        raise NotFound(f"no liaison {liaison_id}")
    status = deps.router.liaison_status(liaison_id=liaison_id, org=liaison.organisation) or Presence.OFFLINE
    call = deps.router.call_of_liaison(liaison_id=liaison_id, org=liaison.organisation)
    return PresenceView(liaison_id, liaison.organisation, str(status), call)
