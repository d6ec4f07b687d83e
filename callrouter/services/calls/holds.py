"""Whom the router holds a liaison for, checked against the record (SQL): a claim for a liaison the record has
on another call or callback attempt is undone, and the hold the router lost (a Redis failover, a rebuild from
SQL) is restored. Used by routing (each claim) and by a callback's attempt (before it dials)."""

from __future__ import annotations

import logging

from callrouter.domain.callbacks import CallbackState, callback_id_of, router_member
from callrouter.domain.calls import ANY_TOPIC, CallRecord, CallState
from callrouter.domain.queueing import Claim
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms

log = logging.getLogger("callrouter.queue")


def held_in_the_record(deps: CallDeps, claim: Claim, *, now_ms: int) -> bool:
    """The record says the claimed liaison already has a call (or a callback attempt) and the router did not
    know (its claim was lost in a Redis failover, or a rebuild from SQL read the record a moment before that
    attempt was claimed): the claim is undone, the call goes back to its place in line, and the router holds
    the liaison for the call or callback the record names. Never two calls for one liaison."""
    holders = [c.sid for c in deps.calls.calls_holding(claim.liaison_id) if c.sid != claim.call_sid]
    dialling = [cb for cb in deps.callbacks.in_states(frozenset({CallbackState.DIALLING}), organisation=claim.org)
                if cb.liaison_id == claim.liaison_id and router_member(cb.id) != claim.call_sid]
    holders += [router_member(cb.id) for cb in dialling]
    if not holders:
        return False
    undo_claim(deps, claim, now_ms=now_ms)
    log.warning("voice.claim_refused call_sid=%s liaison=%s held_for=%s", claim.call_sid, claim.liaison_id,
                holders[0])
    record = deps.calls.get(holders[0]) if callback_id_of(holders[0]) is None else None
    if record is not None:
        restore_hold(deps, record)
    elif dialling:  # a callback's attempt holds the liaison: the router holds them for it again
        held = dialling[0]
        deps.router.enqueue(call_sid=holders[0], org=claim.org, topic=held.topic, klass=held.priority_class,
                            enqueued_at_ms=ms(held.place_at))
        result = deps.router.claim(call_sid=holders[0], liaison_id=claim.liaison_id, org=claim.org, now_ms=now_ms)
        log.warning("live.hold_restored call_sid=%s liaison=%s result=%s", holders[0], claim.liaison_id, result)
    return True


def undo_claim(deps: CallDeps, claim: Claim, *, now_ms: int) -> None:
    """The router's claim is not made an offer: the liaison it took is free, the call back at its place."""
    deps.router.abandon(call_sid=claim.call_sid, org=claim.org)
    deps.router.enqueue(call_sid=claim.call_sid, org=claim.org, topic=claim.topic, klass=claim.klass,
                        enqueued_at_ms=now_ms - claim.waited_ms)


def refused_by_the_record(deps: CallDeps, claim: Claim, *, now_ms: int) -> None:
    """The record refused to offer the claimed call (LiaisonTaken: another process offered that liaison another
    call between this claim's check and its offer, the router having lost a claim): undone like a claim the
    check refuses, the router holding the liaison for the call the record names."""
    if not held_in_the_record(deps, claim, now_ms=now_ms):  # that call ended meanwhile: the claim alone is undone
        undo_claim(deps, claim, now_ms=now_ms)
        deps.after.route(org=claim.org)
    log.warning("voice.offer_refused call_sid=%s liaison=%s (the record has them on another call)", claim.call_sid,
                claim.liaison_id)


def restore_hold(deps: CallDeps, record: CallRecord) -> bool:
    """The router holds the record's liaison for this offered or connected call again (a claim lost in a
    Redis failover): back in the router's line if it is not there, then claimed for that liaison. False when
    the router cannot (the liaison is away or holds another call; the call was claimed elsewhere)."""
    if record.state not in (CallState.OFFERED, CallState.CONNECTED) or record.liaison_id is None \
            or not record.organisation:
        return False
    org, now_ms = record.organisation, ms(deps.clock.now())
    added = deps.router.enqueue(call_sid=record.sid, org=org, topic=record.topic or ANY_TOPIC,
                                klass=record.priority_class.value,
                                enqueued_at_ms=ms(record.queued_at or record.received_at))
    result = deps.router.claim(call_sid=record.sid, liaison_id=record.liaison_id, org=org, now_ms=now_ms)
    if result != "ok" and added:  # not in the router's line: it is no longer waiting
        deps.router.abandon(call_sid=record.sid, org=org)
    log.warning("live.hold_restored call_sid=%s liaison=%s result=%s", record.sid, record.liaison_id, result)
    return result == "ok"
