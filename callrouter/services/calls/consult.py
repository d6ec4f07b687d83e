"""A consult (warm transfer) in the call's conference room: the caller on hold, a liaison of another
organisation claimed by the router (the same atomic claim as for calls: experts first, widening), the two
liaisons talk, then the first completes (leaves; the caller goes on with the second) or cancels (the caller
back with the first). What the record says about a consult (its steps, the router's member for it) is read in
`consult_record`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, LiaisonTaken, TransferKind
from callrouter.domain.queueing import Presence
from callrouter.services.calls import room
from callrouter.services.calls.consult_record import (
    LIVE,
    NOBODY_FREE,
    Consult,
    call_of,
    current,
    member_of,
    note,
    room_sid,
)
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.calls.transfer import (
    Refusal,
    TransferRefused,
    check_blind_transfer,
    release_after_conversation,
)
from callrouter.services.statistics import wallboard

log = logging.getLogger("callrouter.consult")


def start(deps: CallDeps, *, liaison_id: int, call_sid: str, to_organisation: str, to_topic: str | None = None) -> str:
    """Hold the caller and ask the router for a liaison of the other organisation; the message to show."""
    record, target, topic = check_blind_transfer(deps, liaison_id=liaison_id, call_sid=call_sid,
                                                 to_organisation=to_organisation, to_topic=to_topic)
    sid_of_room, own_leg = room_sid(deps, record), room.liaison_leg(deps, record)
    if deps.bridge != "conference" or sid_of_room is None or own_leg is None:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "Overleggen kan alleen als het gesprek in een conferentie loopt; "
                                                     "verbind door zonder overleg.")
    before = current(deps, record)
    if before is not None and before.active:
        raise TransferRefused(Refusal.ALREADY_MOVING, "Er loopt al een overleg voor dit gesprek.")
    number = (before.number if before else 0) + 1
    asked = deps.calls.apply(record.sid, event=EventKind.CONSULT, at=deps.clock.now(), only_in=frozenset(
        {CallState.CONNECTED}), detail={"step": "asked", "to_organisation": target.code, "to_topic": topic,
                                        "by": liaison_id}, dedupe=f"consult:{number}:asked")
    if asked is None:
        raise TransferRefused(Refusal.ALREADY_MOVING, "Er loopt al een overleg voor dit gesprek.")
    deps.telephony.hold_member(room_sid=sid_of_room, member=record.sid, hold=True, music=Goto.to(Step.CONSULT_HOLD))
    wallboard.on_hold(deps.live, record, since=deps.clock.now())
    deps.telephony.set_member_ends_room(room_sid=sid_of_room, member=own_leg, ends=False)
    deps.router.enqueue(call_sid=member_of(record.sid), org=target.code, topic=topic,
                        klass=record.priority_class.value, enqueued_at_ms=ms(deps.clock.now()))
    deps.after.route(org=target.code)
    log.info("voice.consult_asked call_sid=%s to=%s topic=%s", record.sid, target.code, topic)
    return f"De beller staat in de wacht. We zoeken een medewerker van {target.name} voor overleg."


def ring(deps: CallDeps, *, member: str, liaison_id: int, org: str) -> None:
    """The router claimed `liaison_id` for the consult: place their leg (whisper, then the room)."""
    sid = call_of(member) or ""
    record = deps.calls.get(sid)
    consult = current(deps, record) if record is not None else None
    liaison = deps.directory.liaison(liaison_id)
    if record is None or consult is None or consult.step != "asked" or liaison is None:
        deps.router.abandon(call_sid=member, org=org)
        return
    try:
        leg = deps.telephony.create_call(
            to=liaison.address, from_=record.line_number, timeout=deps.dial_timeout_seconds,
            answer=Goto.to(Step.CONSULT_WHISPER, call=sid, liaison=liaison_id),
            status=Goto.to(Step.CONSULT_LEG, call=sid, liaison=liaison_id))
    except Exception as exc:  # noqa: BLE001 - told to the first liaison as not answered
        log.warning("voice.consult_ring_failed call_sid=%s error=%s", sid, type(exc).__name__)
        note(deps, record, consult, "ringing", liaison=liaison_id)
        not_answered(deps, record=record, liaison_id=liaison_id, away=False)
        return
    note(deps, record, consult, "ringing", liaison=liaison_id, leg=leg)


def not_answered(deps: CallDeps, *, record: CallRecord, liaison_id: int, away: bool = True) -> None:
    """The consulted liaison's leg ended before they joined: freed (away when their phone did not answer);
    the first liaison sees it in the console and may retry, pick another organisation or take the caller back."""
    consult = current(deps, record)
    if consult is None or consult.step != "ringing" or consult.liaison != liaison_id:
        return
    if not note(deps, record, consult, "not_answered", liaison=liaison_id):
        return
    member = member_of(record.sid)
    if away:
        deps.router.requeue_after_no_answer(call_sid=member, liaison_id=liaison_id, org=consult.to_organisation)
    deps.router.abandon(call_sid=member, org=consult.to_organisation)
    if away:
        deps.presence.save(liaison_id=liaison_id, organisation=consult.to_organisation, status=Presence.AWAY,
                           since=deps.clock.now())


def give_up_waiting(deps: CallDeps, *, record: CallRecord) -> bool:
    """Nobody of the other organisation was claimed for the consult within `consult_wait_seconds`: it leaves
    that organisation's line, and the first liaison sees "nobody free" (the caller still on hold with them)
    and may retry, pick another organisation or take the caller back. Whether this ended it."""
    consult = current(deps, record)
    if consult is None or consult.step != "asked":
        return False
    if not note(deps, record, consult, "not_answered", reason=NOBODY_FREE):
        return False
    deps.router.abandon(call_sid=member_of(record.sid), org=consult.to_organisation)
    log.info("voice.consult_nobody_free call_sid=%s to=%s", record.sid, consult.to_organisation)
    return True


def on_room_report(deps: CallDeps, record: CallRecord, *, joined: bool, member: str) -> None:
    """A member of the room joined or left: the consulted liaison joining answers the consult; leaving ends it.
    The first liaison leaving during a consult: the caller goes to the consulted liaison if they answered."""
    consult = current(deps, record)
    if consult is None or consult.step not in LIVE:
        return
    if member == consult.leg:
        if joined and consult.step == "ringing":
            note(deps, record, consult, "answered", liaison=consult.liaison)
        elif not joined:
            _free_consulted(deps, record, consult)
            note(deps, record, consult, "left", liaison=consult.liaison)
            first_leg = room.liaison_leg(deps, record, liaison_id=consult.by)
            if consult.step == "three_way" and first_leg is not None:  # the first liaison goes on with the caller
                sid_of_room = room_sid(deps, record) or ""
                _quietly(deps, lambda: deps.telephony.set_member_ends_room(room_sid=sid_of_room, member=first_leg,
                                                                            ends=True))
        return
    if not joined and member == room.liaison_leg(deps, record, liaison_id=consult.by):  # the first liaison left
        if consult.step in ("answered", "three_way"):
            complete(deps, liaison_id=consult.by, call_sid=record.sid, first_gone=True)
        else:
            cancel(deps, liaison_id=consult.by, call_sid=record.sid, first_gone=True)


def complete(deps: CallDeps, *, liaison_id: int, call_sid: str, first_gone: bool = False) -> str:
    """The first liaison leaves; the caller, off hold, goes on with the consulted liaison (whose whisper was
    said). A `transferred` event of kind consult; the first liaison is released as after a conversation."""
    record = deps.calls.get(call_sid)
    consult = current(deps, record) if record is not None else None
    if record is None or record.state != CallState.CONNECTED or record.liaison_id != liaison_id or consult is None:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    if consult.step not in ("answered", "three_way") or consult.liaison is None or consult.leg is None:
        raise TransferRefused(Refusal.ALREADY_MOVING, "Het overleg is niet (meer) aan de gang.")
    now = deps.clock.now()
    from_org = record.organisation or ""
    try:
        moved = deps.calls.apply(
            record.sid, event=EventKind.TRANSFERRED, at=now, only_in=frozenset({CallState.CONNECTED}),
            detail={"kind": TransferKind.CONSULT.value, "from_organisation": from_org, "from_topic": record.topic,
                    "to_organisation": consult.to_organisation, "to_topic": consult.to_topic, "liaison": liaison_id,
                    "to_liaison": consult.liaison},
            dedupe=f"transfer:consult:{consult.number}", organisation=consult.to_organisation,
            topic=consult.to_topic, liaison_id=consult.liaison)
    except LiaisonTaken as exc:  # the record has the consulted liaison on another call: never two at once
        raise TransferRefused(Refusal.ALREADY_MOVING, "De andere medewerker heeft al een ander gesprek.") from exc
    if moved is None:
        raise TransferRefused(Refusal.ALREADY_MOVING, "Dit gesprek wordt al doorverbonden.")
    wallboard.on_hold(deps.live, record, since=None)
    # counted once per call and metric: after a three-way call this counts nothing new
    wallboard.on_taken_over(deps.live, moved, waited_seconds=_consult_wait(deps, record))
    deps.calls.apply(record.sid, event=EventKind.ANSWERED, at=now, detail={"liaison": consult.liaison,
                                                                          "from": "consult"})
    note(deps, record, consult, "completed", liaison=consult.liaison)
    sid_of_room = room_sid(deps, record)
    first_leg = room.liaison_leg(deps, record, liaison_id=liaison_id)
    _quietly(deps, lambda: deps.telephony.set_member_ends_room(room_sid=sid_of_room or "", member=consult.leg or "",
                                                                ends=True))
    _quietly(deps, lambda: deps.telephony.hold_member(room_sid=sid_of_room or "", member=record.sid, hold=False))
    if first_leg is not None and not first_gone:
        _quietly(deps, lambda: deps.telephony.hang_up(call_sid=first_leg))
    release_after_conversation(deps, liaison_id=liaison_id, org=from_org, call_sid=record.sid)
    org = deps.directory.organisation(consult.to_organisation)
    log.info("voice.transferred call_sid=%s from=%s to=%s kind=consult", record.sid, from_org, consult.to_organisation)
    return f"Overleg afgerond: de beller praat nu met {org.name if org else consult.to_organisation}."


def three_way(deps: CallDeps, *, liaison_id: int, call_sid: str) -> str:
    """The caller off hold: caseworker and both liaisons talk together. The call stays the first liaison's;
    whichever liaison leaves, the other goes on with the caller (and then ends the room on leaving)."""
    record = deps.calls.get(call_sid)
    consult = current(deps, record) if record is not None else None
    if record is None or consult is None or consult.by != liaison_id or record.liaison_id != liaison_id:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    if consult.step != "answered":
        raise TransferRefused(Refusal.ALREADY_MOVING, "Het overleg is niet (meer) aan de gang.")
    if not note(deps, record, consult, "three_way", liaison=consult.liaison):
        raise TransferRefused(Refusal.ALREADY_MOVING, "U praat al met z'n drieën.")
    wallboard.on_hold(deps.live, record, since=None)
    wallboard.on_taken_over(deps.live, replace(record, organisation=consult.to_organisation, topic=consult.to_topic),
                            waited_seconds=_consult_wait(deps, record))
    sid_of_room = room_sid(deps, record)
    _quietly(deps, lambda: deps.telephony.hold_member(room_sid=sid_of_room or "", member=record.sid, hold=False))
    deps.calls.apply(record.sid, event=EventKind.TRANSFERRED, at=deps.clock.now(),
                     detail={"kind": TransferKind.THREE_WAY.value, "from_organisation": record.organisation,
                             "from_topic": record.topic, "to_organisation": consult.to_organisation,
                             "to_topic": consult.to_topic, "liaison": liaison_id, "to_liaison": consult.liaison},
                     dedupe=f"transfer:three_way:{consult.number}")
    return "De beller hoort u nu allebei: u praat met z'n drieën."


def cancel(deps: CallDeps, *, liaison_id: int, call_sid: str, first_gone: bool = False) -> str:
    """The first liaison takes the caller back: the consulted liaison's leg ends and they are freed."""
    record = deps.calls.get(call_sid)
    consult = current(deps, record) if record is not None else None
    if record is None or consult is None or consult.by != liaison_id or record.liaison_id != liaison_id:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    sid_of_room = room_sid(deps, record)
    wallboard.on_hold(deps.live, record, since=None)  # back with the first liaison, or back in line
    if consult.active:
        if not note(deps, record, consult, "cancelled", liaison=consult.liaison):
            raise TransferRefused(Refusal.ALREADY_MOVING, "Het overleg is al beëindigd.")
        if consult.leg is not None:
            _quietly(deps, lambda: deps.telephony.hang_up(call_sid=consult.leg or ""))
        _free_consulted(deps, record, consult)
    if first_gone:  # nobody left for the caller: back to the front of the line
        _caller_back_in_line(deps, record, liaison_id=liaison_id)
        return "Overleg beëindigd."
    first_leg = room.liaison_leg(deps, record, liaison_id=liaison_id)
    _quietly(deps, lambda: deps.telephony.hold_member(room_sid=sid_of_room or "", member=record.sid, hold=False))
    if first_leg is not None:
        _quietly(deps, lambda: deps.telephony.set_member_ends_room(room_sid=sid_of_room or "", member=first_leg,
                                                                    ends=True))
    return "Overleg beëindigd: de beller is weer bij u."


def on_call_ended(deps: CallDeps, record: CallRecord) -> None:
    """The caller hung up: a consulted liaison's leg is cancelled and the liaison freed."""
    consult = current(deps, record)
    if consult is None or consult.step not in LIVE:
        return
    note(deps, record, consult, "cancelled", liaison=consult.liaison, reason="caller hung up")
    if consult.leg is not None:
        _quietly(deps, lambda: deps.telephony.hang_up(call_sid=consult.leg or ""))
    _free_consulted(deps, record, consult)


def handed_over_by(deps: CallDeps, record: CallRecord) -> int | None:
    """The first liaison of a consult that handed this call to its present liaison, if any."""
    consult = current(deps, record)
    if consult is not None and consult.step == "completed" and consult.liaison == record.liaison_id:
        return consult.by
    return None


def router_call_of(deps: CallDeps, record: CallRecord) -> str:
    """What the router holds the call's liaison for: the consult member after a completed consult."""
    consult = current(deps, record)
    if consult is not None and consult.step == "completed" and consult.liaison == record.liaison_id:
        return member_of(record.sid)
    return record.sid


def _free_consulted(deps: CallDeps, record: CallRecord, consult: Consult) -> None:
    member, org = member_of(record.sid), consult.to_organisation
    deps.router.abandon(call_sid=member, org=org)
    if consult.liaison is not None:
        now = deps.clock.now()
        released = deps.router.release_liaison(liaison_id=consult.liaison, org=org, status=Presence.AVAILABLE,
                                               now_ms=ms(now), call_sid=member)
        if released.accepted:
            deps.presence.save(liaison_id=consult.liaison, organisation=org, status=Presence.AVAILABLE, since=now)
    deps.after.route(org=org)


def _caller_back_in_line(deps: CallDeps, record: CallRecord, *, liaison_id: int) -> None:
    now = deps.clock.now()
    back = deps.calls.apply(record.sid, event=EventKind.NOT_BRIDGED, at=now, move=CallMove.RETURN,
                            detail={"liaison": liaison_id, "status": "left during a consult"}, liaison_id=None)
    if back is None:
        return
    org = record.organisation or ""
    deps.router.release_liaison(liaison_id=liaison_id, org=org, status=Presence.AVAILABLE, now_ms=ms(now),
                                call_sid=record.sid)
    deps.presence.save(liaison_id=liaison_id, organisation=org, status=Presence.AVAILABLE, since=now)
    _quietly(deps, lambda: deps.telephony.redirect(call_sid=record.sid, to=Goto.to(Step.BACK_IN_LINE)))


def _consult_wait(deps: CallDeps, record: CallRecord) -> float:
    """From the latest consult's request to the consulted liaison joining (the other organisation's speed of answer)."""
    asked = answered = None
    for event in deps.calls.events(record.sid):
        if event.kind == EventKind.CONSULT and event.detail.get("step") == "asked":
            asked, answered = event.at, None
        elif event.kind == EventKind.CONSULT and event.detail.get("step") == "answered":
            answered = event.at
    if asked is None or answered is None:
        return 0.0
    return max(0.0, (answered - asked).total_seconds())


def _quietly(deps: CallDeps, action: Callable[[], object]) -> None:
    """A REST step whose failure the call's own reports settle (the call or leg already gone)."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001
        log.info("voice.consult_rest_step_failed error=%s", type(exc).__name__)
