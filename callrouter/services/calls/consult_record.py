"""What the call record says about a call's consults: each step is a `consult` event on the call (asked,
ringing, answered, not_answered, left, cancelled, completed, three_way); the latest consult is read back
from them. The router holds a consulted liaison for the member `consult:<call>` in their organisation's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callrouter.domain.calls import CallRecord, EventKind
from callrouter.services.calls.deps import CallDeps

PREFIX = "consult:"
ACTIVE = ("asked", "ringing", "answered")
LIVE = (*ACTIVE, "three_way")  # a consulted liaison is (or may soon be) in the room
NOBODY_FREE = "nobody free"  # the reason of a `not_answered` that no liaison was claimed for in time


def member_of(call_sid: str) -> str:
    return PREFIX + call_sid


def call_of(member: str) -> str | None:
    return member[len(PREFIX):] if member.startswith(PREFIX) else None


@dataclass(frozen=True)
class Consult:
    step: str  # asked, ringing, answered, not_answered, left, cancelled, completed, three_way
    to_organisation: str
    to_topic: str
    by: int  # the first liaison
    number: int  # the how-manieth consult of the call
    liaison: int | None = None  # the consulted liaison, once claimed
    leg: str | None = None
    since: datetime | None = None  # when the consult reached its step
    reason: str | None = None  # why it ended, where the record says (e.g. NOBODY_FREE)

    @property
    def active(self) -> bool:
        return self.step in ACTIVE


def current(deps: CallDeps, record: CallRecord) -> Consult | None:
    """The call's latest consult as its events tell it, or None."""
    found: Consult | None = None
    number = 0
    for event in deps.calls.events(record.sid):
        if event.kind != EventKind.CONSULT:
            continue
        d = event.detail
        step = str(d.get("step"))
        reason = str(d["reason"]) if d.get("reason") else None
        if step == "asked":
            number += 1
            found = Consult("asked", str(d.get("to_organisation")), str(d.get("to_topic")), int(str(d.get("by"))),
                            number, since=event.at)
        elif found is not None:
            liaison = d.get("liaison")
            found = Consult(step, found.to_organisation, found.to_topic, found.by, found.number,
                            int(str(liaison)) if liaison is not None else found.liaison,
                            str(d["leg"]) if d.get("leg") else found.leg, since=event.at, reason=reason)
    return found


def room_sid(deps: CallDeps, record: CallRecord) -> str | None:
    sids = [str(e.detail["room_sid"]) for e in deps.calls.events(record.sid)
            if e.kind == EventKind.ROOM and e.detail.get("room_sid")]
    return sids[-1] if sids else None


def note(deps: CallDeps, record: CallRecord, consult: Consult, step: str, **detail: object) -> bool:
    """Record the consult's next step once (a repeated report or click adds nothing); whether it was new."""
    applied = deps.calls.apply(record.sid, event=EventKind.CONSULT, at=deps.clock.now(),
                               detail={"step": step, **detail}, dedupe=f"consult:{consult.number}:{step}")
    return applied is not None
