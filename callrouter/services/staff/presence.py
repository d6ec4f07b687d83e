"""Liaison presence: set by the liaison (console, API) or a supervisor, by the router as calls come and go,
and by the timer that ends wrap-up; kept in SQL, live in Redis. Who may move it where: domain.presence."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from callrouter.domain.presence import Actor, may_move
from callrouter.domain.queueing import Presence
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.errors import Conflict, NotFound

log = logging.getLogger("callrouter.presence")
SETTABLE = (Presence.AVAILABLE, Presence.WRAP_UP, Presence.AWAY, Presence.OFFLINE)


@dataclass(frozen=True)
class PresenceView:
    liaison_id: int
    organisation: str
    status: str
    call_sid: str | None


def set_presence(deps: CallDeps, *, liaison_id: int, status: Presence, organisation_scope: str | None,
                 actor: Actor = Actor.LIAISON) -> PresenceView:
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None or (organisation_scope not in (None, "*") and liaison.organisation != organisation_scope):
        raise NotFound(f"no liaison {liaison_id}")
    current = deps.router.liaison_status(liaison_id=liaison_id, org=liaison.organisation)
    if not may_move(actor, current, status) and current != Presence.BUSY:
        raise Conflict(f"liaison {liaison_id} cannot be set to {status.value} by the {actor.value}")
    now = deps.clock.now()
    result = deps.router.set_presence(liaison_id=liaison_id, org=liaison.organisation, topics=liaison.topics,
                                      status=status, now_ms=ms(now))
    if not result.accepted:
        raise Conflict(f"liaison {liaison_id} is on a call; presence changes when the call ends ({result.reason})")
    deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=status.value, since=now)
    if status == Presence.AVAILABLE:
        deps.after.route(org=liaison.organisation)
    return get_presence(deps, liaison_id=liaison_id, organisation_scope=organisation_scope)


def end_wrap_up(deps: CallDeps, *, liaison_id: int, actor: Actor = Actor.TIMER) -> bool:
    """Wrap-up is over (its time is up, or the liaison recorded the outcome): available again, unless the
    liaison chose something else meanwhile. False: nothing changed."""
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None or not may_move(actor, Presence.WRAP_UP, Presence.AVAILABLE):
        return False
    now = deps.clock.now()
    result = deps.router.set_presence(liaison_id=liaison_id, org=liaison.organisation, topics=liaison.topics,
                                      status=Presence.AVAILABLE, now_ms=ms(now), only_from=Presence.WRAP_UP)
    if not result.accepted:
        return False
    deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=Presence.AVAILABLE.value,
                       since=now)
    log.info("presence.wrap_up_ended liaison=%s by=%s", liaison_id, actor.value)
    deps.after.route(org=liaison.organisation)
    return True


def end_overdue_wrap_ups(deps: CallDeps) -> int:
    """Wrap-ups past their time whose timer never fired (the process that set it died): ended now. One the
    router has ended but the record has not (the process died between the two): the record follows, and
    nothing is ended twice (the router's move is only ever made from wrap-up)."""
    if not deps.wrap_up_seconds:  # no wrap-up after calls: a wrap-up the liaison chose lasts until they change it
        return 0
    limit = deps.clock.now() - timedelta(seconds=deps.wrap_up_seconds)
    ended = 0
    for liaison_id, org, status, since in deps.presence.all():
        if status != Presence.WRAP_UP.value or since > limit:
            continue
        if end_wrap_up(deps, liaison_id=liaison_id):
            ended += 1
        elif deps.router.liaison_status(liaison_id=liaison_id, org=org) in (Presence.AVAILABLE, Presence.BUSY):
            # What the dead process would have saved (a liaison on a new call since is available in the record).
            deps.presence.save(liaison_id=liaison_id, organisation=org, status=Presence.AVAILABLE.value,
                               since=deps.clock.now())
            log.warning("presence.wrap_up_end_recorded liaison=%s (the router had ended it, the record had not)",
                        liaison_id)
    return ended


def get_presence(deps: CallDeps, *, liaison_id: int, organisation_scope: str | None) -> PresenceView:
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None or (organisation_scope not in (None, "*") and liaison.organisation != organisation_scope):
        raise NotFound(f"no liaison {liaison_id}")
    status = deps.router.liaison_status(liaison_id=liaison_id, org=liaison.organisation) or Presence.OFFLINE
    call = deps.router.call_of_liaison(liaison_id=liaison_id, org=liaison.organisation)
    return PresenceView(liaison_id, liaison.organisation, str(status), call)
