"""Who may move a liaison's presence, and between which states.

    available --(router claims a call)--> busy --(call ends)--> wrap-up | available
        ^                                   |                      |
        |                                   +--(no answer)--> away  +--(timer, outcome, liaison)--> available
    liaison or supervisor: available, wrap-up, away, offline, but never while busy (the call ends first)
"""

from __future__ import annotations

import enum

from callrouter.domain.queueing import Presence


class Actor(enum.StrEnum):
    ROUTER = "router"  # claims and releases liaisons as calls come and go
    LIAISON = "liaison"  # the liaison, in the console or the API
    SUPERVISOR = "supervisor"  # a team lead or administrator, through the API
    TIMER = "timer"  # the end of wrap-up (a scheduled job, or the reconciler when that job was lost)


_CHOSEN = frozenset({Presence.AVAILABLE, Presence.WRAP_UP, Presence.AWAY, Presence.OFFLINE})
_NOT_BUSY = frozenset(Presence) - {Presence.BUSY}

# actor -> the state it may move a liaison from -> the states it may move them to
PRESENCE_MOVES: dict[Actor, dict[Presence, frozenset[Presence]]] = {
    Actor.ROUTER: {
        Presence.AVAILABLE: frozenset({Presence.BUSY}),
        Presence.BUSY: frozenset({Presence.AVAILABLE, Presence.WRAP_UP, Presence.AWAY}),
    },
    Actor.LIAISON: {source: _CHOSEN for source in _NOT_BUSY},
    Actor.SUPERVISOR: {source: _CHOSEN for source in _NOT_BUSY},
    Actor.TIMER: {Presence.WRAP_UP: frozenset({Presence.AVAILABLE})},
}


def may_move(actor: Actor, source: Presence | None, target: Presence) -> bool:
    """`source` None: the liaison has no presence yet (never set, or Redis was emptied): as offline."""
    return target in PRESENCE_MOVES[actor].get(source or Presence.OFFLINE, frozenset())
