"""The liaison legs placed into a call's conference room: which one rings for the current offer, and ending it.

The record keeps each placed leg as a `liaison_rung` event (liaison, leg); the latest for the call's
liaison is the current one. Several steps need it (the caller hanging up cancels it; a room report names
the leg that joined), so it lives here and not in one step.
"""

from __future__ import annotations

import logging

from callrouter.domain.calls import CallRecord, EventKind
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms

log = logging.getLogger("callrouter.voice")


def liaison_leg(deps: CallDeps, record: CallRecord, *, liaison_id: int | None = None) -> str | None:
    """The leg last placed for `liaison_id` (default: the call's liaison), or None (none placed: a <Dial> bridge)."""
    wanted = record.liaison_id if liaison_id is None else liaison_id
    if wanted is None:
        return None
    leg: str | None = None
    for event in deps.calls.events(record.sid):
        if event.kind == EventKind.LIAISON_RUNG and event.detail.get("liaison") == wanted:
            leg = str(event.detail.get("leg"))
    return leg


def cancel_leg(deps: CallDeps, *, leg: str, reason: str) -> None:
    try:
        deps.telephony.hang_up(call_sid=leg)
        log.info("voice.leg_cancelled leg=%s reason=%s", leg, reason)
    except Exception as exc:  # noqa: BLE001 - the leg's own report settles it either way
        log.warning("voice.leg_cancel_failed leg=%s error=%s", leg, type(exc).__name__)


def cancel_liaison_leg(deps: CallDeps, record: CallRecord, *, reason: str) -> str | None:
    """Hang up the ringing (or whispering) leg of the call's liaison, if one was placed; its id."""
    leg = liaison_leg(deps, record)
    if leg is None:
        return None
    try:
        deps.telephony.hang_up(call_sid=leg)
        log.info("voice.liaison_leg_cancelled call_sid=%s leg=%s reason=%s", record.sid, leg, reason)
    except Exception as exc:  # noqa: BLE001 - the leg's own status report settles the liaison either way
        log.warning("voice.liaison_leg_cancel_failed call_sid=%s leg=%s error=%s", record.sid, leg,
                    type(exc).__name__)
    return leg


def offer_mark(record: CallRecord) -> int | None:
    """The record's present offer as a number that fits a webhook's bounded integer: its time in ms, modulo
    10**9 (two offers of one call share a mark only when they lie exactly a multiple of 11.6 days apart)."""
    return ms(record.offered_at) % 10**9 if record.offered_at is not None else None
