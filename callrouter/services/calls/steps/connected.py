"""The liaison's leg: picked up (the conversation starts), and how the dial ended.

Not answered, busy, failed, or hung up during the whisper (never bridged): the call goes back to
the front of its line, the liaison is marked away (never stuck busy), and the pickup does not count
as an answer. Talked: the end step settles the conversation. Late or repeated reports change nothing.

On the conference bridge the answer is the liaison's leg joining the call's room (a room report), not
its pickup; the leg's end before that puts the caller back in line by a redirect out of the room.
"""

from __future__ import annotations

import logging
from datetime import datetime

from callrouter.domain.call_flow import DialEnd, Goto, LegStatus, RoomEvent, Step
from callrouter.domain.calls import CallEvent, CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Hangup, Pause, Play, Redirect, VoiceReply
from callrouter.services.calls import consult, consult_record, room
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult
from callrouter.services.statistics import wallboard

log = logging.getLogger("callrouter.queue")
# A caller still in the room's hold this long after the record took the call back to the line, or had them
# talking, waits in a room no liaison will join; the room's hold turn sends them on (room_hold). Longer than a
# redirect or a join takes, so it never races the one the record's change makes.
ROOM_STRAY_SECONDS = 10


def liaison_leg(deps: CallDeps, given: StepInput) -> StepResult:
    """Status reports of the liaison's leg: answered means the liaison picked up.

    A late one (after the call ended, as when reports come out of order) changes nothing: the
    answer was already recorded when the conversation ended.
    """
    if given.choice == "room":
        return _room_leg(deps, given)
    if given.leg != LegStatus.ANSWERED:
        return VoiceReply()
    current = deps.calls.get(given.call_sid)
    if current is None or current.liaison_id != given.liaison_id:
        return VoiceReply()  # a late report of an earlier offer's liaison: that offer is settled
    at = given.at or deps.clock.now()
    # Once per offer: the move is allowed only from `offered`, so a repeated report changes nothing, and the
    # next liaison's pickup after one that was never bridged is recorded.
    answered = deps.calls.apply(given.call_sid, event=EventKind.ANSWERED, at=at, move=CallMove.ANSWER,
                                detail={"liaison": given.liaison_id}, answered_at=at)
    if answered is not None:
        wallboard.on_answered(deps.live, answered)
    return VoiceReply()


def dial_result(deps: CallDeps, given: StepInput) -> StepResult:
    record = given.record or deps.calls.get(given.call_sid)
    liaison_id = given.liaison_id
    ended = given.dial or given.option("dial")
    if (record is None or liaison_id is None or record.liaison_id != liaison_id
            or record.state not in (CallState.OFFERED, CallState.CONNECTED)):
        if record is not None and liaison_id is not None and ended not in (DialEnd.TALKED, DialEnd.CANCELLED) \
                and returned_from(deps, record, liaison_id=liaison_id):
            return _back_in_line(deps, record, liaison_id=liaison_id, ended=DialEnd(str(ended or DialEnd.FAILED)))
        return VoiceReply.of(Hangup())
    if ended == DialEnd.TALKED:
        return Next(Step.CONVERSATION_END, record=record, options={"talk_seconds": given.talk_seconds})
    if ended == DialEnd.CANCELLED:  # the caller hung up while the liaison's phone rang
        return Next(Step.END, record=record, options={"leg": LegStatus.CANCELLED,
                                                      "reason": "caller hung up while ringing"})
    return _back_in_line(deps, record, liaison_id=liaison_id, ended=DialEnd(str(ended or DialEnd.FAILED)))


def conversation_end(deps: CallDeps, given: StepInput) -> StepResult:
    """The conversation ended and the caller is still on the line (however the bridge reported it): the one
    place that settles it: the call ends answered, the liaison goes into wrap-up, and the caller hears the verdict
    question when the line asks it (steps/verdict.py)."""
    record = given.record or deps.calls.get(given.call_sid)
    talk = given.option("talk_seconds")
    return Next(Step.END, record=record, options={"leg": LegStatus.COMPLETED, "reason": "conversation ended",
                                                  "talk_seconds": talk if isinstance(talk, int) else None,
                                                  "answered": True, "then": Step.VERDICT})


ROOM_LEG_END = {LegStatus.COMPLETED: DialEnd.NOT_BRIDGED, LegStatus.BUSY: DialEnd.BUSY,
                LegStatus.NOT_ANSWERED: DialEnd.NOT_ANSWERED, LegStatus.FAILED: DialEnd.FAILED,
                LegStatus.CANCELLED: DialEnd.NOT_ANSWERED}


def _room_leg(deps: CallDeps, given: StepInput) -> StepResult:
    """The liaison's leg into the call's room. Its pickup is not the answer (joining the room is); its end while
    the call is still offered to this liaison (no answer, busy, failed, hung up in the whisper) puts the
    caller back at the front of the line. Reports of another offer's leg change nothing."""
    if given.leg is None or not given.leg.ended:
        return VoiceReply()
    current = deps.calls.get(given.call_sid)
    # The report again after its handling died halfway: finished only while the router's part is left, as the
    # redirect out of the room (unlike a dial's answer) must not be sent twice.
    if current is not None and given.liaison_id is not None and deps.router.call_of_liaison(
            liaison_id=given.liaison_id, org=current.organisation or "") == current.sid \
            and returned_from(deps, current, liaison_id=given.liaison_id):
        return _back_in_line(deps, current, liaison_id=given.liaison_id, ended=ROOM_LEG_END[given.leg],
                             from_room=True)
    if (current is None or given.liaison_id is None or current.state != CallState.OFFERED
            or current.liaison_id != given.liaison_id):
        return VoiceReply()
    placed = room.liaison_leg(deps, current)
    if given.member and placed and given.member != placed:
        return VoiceReply()  # an earlier leg of the same liaison
    leg = given.member or placed
    if given.leg == LegStatus.COMPLETED and any(e.kind == EventKind.ROOM_JOINING and e.detail.get("leg") == leg
                                                for e in deps.calls.events(current.sid)):
        # Past the whisper, into the room: a conversation whose join report has not come yet (reports race);
        # the room's end (the caller's Dial action) settles it.
        return VoiceReply()
    return _back_in_line(deps, current, liaison_id=given.liaison_id, ended=ROOM_LEG_END[given.leg], from_room=True)


def room_event(deps: CallDeps, given: StepInput) -> StepResult:
    """The call's room reports a member joined or left. Once each (a repeat, or one that comes after the same
    member's later report by sequence number, changes nothing): the liaison's leg joining is the answer."""
    record = deps.calls.get(given.call_sid)
    event = given.choice
    if record is None or event not in tuple(RoomEvent):
        return VoiceReply()
    member = given.member or ""
    at = given.at or deps.clock.now()
    earlier = [e.detail for e in deps.calls.events(record.sid) if e.kind == EventKind.ROOM]
    noted = deps.calls.apply(record.sid, event=EventKind.ROOM, at=at,
                             detail={"event": event, "member": member, "sequence": given.sequence,
                                     **({"room_sid": given.room_sid} if given.room_sid else {})},
                             dedupe=f"room:{event}:{member}")
    # None: the same report again (Twilio's duplicate, or a retry after its handling died halfway in a failover).
    # Only the answer is finished then, which is once per offer by itself (the move is allowed only from `offered`).
    again = noted is None
    if again and event != RoomEvent.JOINED:
        return VoiceReply()
    current = record if noted is None else noted
    overtaken = any(d.get("member") == member and isinstance(d.get("sequence"), int) and given.sequence is not None
                    and int(str(d["sequence"])) > given.sequence for d in earlier)
    if not again and not overtaken and member and member != record.sid and event in (RoomEvent.JOINED,
                                                                                      RoomEvent.LEFT):
        consult.on_room_report(deps, current, joined=event == RoomEvent.JOINED, member=member)
    if event != RoomEvent.JOINED or overtaken or not member or member == record.sid:
        return VoiceReply()
    if current.state != CallState.OFFERED or current.liaison_id is None:
        return VoiceReply()
    placed = room.liaison_leg(deps, current)
    if placed is not None and placed != member:
        return VoiceReply()  # a leg of an earlier offer
    answered = deps.calls.apply(record.sid, event=EventKind.ANSWERED, at=at, move=CallMove.ANSWER,
                                detail={"liaison": current.liaison_id, "from": "room"}, answered_at=at)
    if answered is not None:
        wallboard.on_answered(deps.live, answered)
        log.info("voice.answered call_sid=%s liaison=%s (joined the room)", record.sid, current.liaison_id)
    return VoiceReply()


def room_hold(deps: CallDeps, given: StepInput) -> StepResult:
    """Heard in the room until it starts (only prompts, music, pauses and a redirect may be said there); the
    redirect to itself loops it however long the ring takes.

    Each turn also asks the record, for a caller who waits in a room no liaison will join:
    - the record has had the call back in line for `ROOM_STRAY_SECONDS` (the process that took it back died
      before its redirect, or before it placed the leg): the caller is redirected to the line, where the hold
      loop puts them in the router's line again;
    - the record has them talking, yet the room never started for them (`_room_never_started`): the liaison
      joined and left before the caller arrived (their redirect was held up). No conversation: back in line in
      front, as a pick-up that was never bridged."""
    record = deps.calls.get(given.call_sid) if given.call_sid else None
    reply = VoiceReply.of(Play(deps.hold_music_url) if deps.hold_music_url else Pause(5), Redirect(Goto.to(Step.ROOM_HOLD)))
    if record is None or record.state not in (CallState.QUEUED, CallState.CONNECTED):
        return reply
    now = deps.clock.now()
    events = deps.calls.events(record.sid)
    if record.state == CallState.CONNECTED:
        if record.liaison_id is not None and _room_never_started(deps, record, events=events, now=now,
                                                                 waiting_in=given.room_sid):
            log.warning("voice.room_never_started call_sid=%s liaison=%s", record.sid, record.liaison_id)
            _back_in_line(deps, record, liaison_id=record.liaison_id, ended=DialEnd.NOT_BRIDGED, from_room=True)
        return reply
    since = max((e.at for e in events), default=record.queued_at or record.received_at)
    if (now - since).total_seconds() >= ROOM_STRAY_SECONDS:
        log.warning("voice.room_stray call_sid=%s", record.sid)
        try:
            deps.telephony.redirect(call_sid=record.sid, to=Goto.to(Step.BACK_IN_LINE))
        except Exception as exc:  # noqa: BLE001 - the caller is gone: their status report ends the call
            log.info("voice.room_stray_failed call_sid=%s error=%s", record.sid, type(exc).__name__)
    return reply


def _room_never_started(deps: CallDeps, record: CallRecord, *, events: list[CallEvent], now: datetime,
                        waiting_in: str | None) -> bool:
    """A connected call whose caller hears a room's hold: the liaison's leg went into the room at least
    `ROOM_STRAY_SECONDS` ago (on the service's clock: the join's own time is the network's) and has left it
    again, from another room than the one the caller waits in, and no consult is under way. The caller came in
    after the liaison had left (their redirect was held up): they never talked.

    `waiting_in`: the room this hold turn is for (its ConferenceSid), else the room the record last saw the
    caller join. The same room as the liaison's is a late hold turn of a room that has since started (a
    request held up by a failover): the conversation took place, and its end settles the call."""
    joining = [e for e in events if e.kind == EventKind.ROOM_JOINING and e.detail.get("liaison") == record.liaison_id]
    if not joining or (now - joining[-1].at).total_seconds() < ROOM_STRAY_SECONDS:
        return False
    left = _rooms_where(events, RoomEvent.LEFT, member=joining[-1].detail.get("leg"))
    if waiting_in is None:
        joined = _rooms_where(events, RoomEvent.JOINED, member=record.sid)
        waiting_in = str(joined[-1]) if joined and joined[-1] else None
    if not left or waiting_in is None or left[-1] is None or left[-1] == waiting_in:
        return False
    return consult_record.current(deps, record) is None


def _rooms_where(events: list[CallEvent], event: RoomEvent, *, member: object) -> list[object]:
    """The rooms (their ConferenceSid, None when a report had none) where `member` had `event`, in order."""
    return [e.detail.get("room_sid") for e in events
            if e.kind == EventKind.ROOM and e.detail.get("event") == event and e.detail.get("member") == member]


def room_left(deps: CallDeps, given: StepInput) -> StepResult:
    """The caller is out of the room (`leg`: the caller's own leg as this report finds it).

    Still offered to or connected with this liaison: if the caller's leg has ended, they hung up (the end
    settles it: a leg that still rings is cancelled); if they are still on the line, the room ended because the
    liaison left it, so a conversation took place even when the report of the liaison's joining has not come
    yet (reports may come late or out of order). Otherwise the call has moved on (back in line by a redirect,
    whose action's answer the network ignores)."""
    record = deps.calls.get(given.call_sid)
    if record is None or record.state == CallState.ENDED:
        return VoiceReply.of(Hangup())
    offer = given.option("offer")
    if isinstance(offer, int) and record.offered_at is not None and room.offer_mark(record) != offer:
        return Stale(record)  # the room of an earlier offer: the caller was redirected on (to this offer's room)
    ours = record.liaison_id == given.liaison_id or (
        record.state == CallState.CONNECTED and consult.handed_over_by(deps, record) == given.liaison_id)
    if record.state not in (CallState.OFFERED, CallState.CONNECTED) or not ours:
        return Stale(record)
    now = given.at or deps.clock.now()
    # The join's time is the network's (its report's Timestamp); a clock apart from ours never makes it negative.
    talk = max(0, round((now - record.answered_at).total_seconds())) if record.answered_at else None
    if given.leg is not None and given.leg.ended:
        offered = record.state == CallState.OFFERED
        return Next(Step.END, record=record, options={"leg": LegStatus.CANCELLED if offered else LegStatus.COMPLETED,
                                                      "reason": "caller left the room", "talk_seconds": talk})
    return Next(Step.CONVERSATION_END, record=record, options={"talk_seconds": talk})


RETURNS = frozenset({EventKind.LIAISON_NO_ANSWER, EventKind.NOT_BRIDGED})


def returned_from(deps: CallDeps, record: CallRecord, *, liaison_id: int) -> bool:
    """The record's last offer ended with the call back in line because this liaison did not take it (not a
    lost offer the reconciler returned: that liaison did nothing wrong). For a report of that liaison's leg it
    means the return is half done: the process that handled the same report died in the middle of
    `_back_in_line` and HAProxy retried the webhook on the other host (a report handled to the end is answered
    from the replay guard, never run again)."""
    if record.state != CallState.QUEUED:
        return False
    for event in reversed(deps.calls.events(record.sid)):
        if event.kind == EventKind.OFFERED:
            return False
        if event.kind in RETURNS:
            return event.detail.get("liaison") == liaison_id and event.detail.get("status") != "lost offer"
    return False


def _back_in_line(deps: CallDeps, record: CallRecord, *, liaison_id: int, ended: DialEnd,
                  from_room: bool = False) -> StepResult:
    """Back to the front of the line; the liaison is marked away. The router takes the call again at its
    next turn of the hold loop, after the caller has heard that they are back in line.

    `from_room`: the caller waits in the call's room, so a redirect (not this reply) takes them back."""
    now = deps.clock.now()
    org = record.organisation or ""
    resumed = record.state == CallState.QUEUED  # the return half done (returned_from): the router's part is left
    if resumed:
        requeued: CallRecord | None = record
    else:
        not_bridged = ended == DialEnd.NOT_BRIDGED or record.state == CallState.CONNECTED
        requeued = deps.calls.apply(record.sid, at=now, move=CallMove.RETURN,
                                    event=EventKind.NOT_BRIDGED if not_bridged else EventKind.LIAISON_NO_ANSWER,
                                    detail={"liaison": liaison_id, "status": ended.value},
                                    liaison_id=None, answered_at=None)
    if requeued is None:
        return Stale(deps.calls.get(record.sid))
    # Each part is done at most once: the requeue only while the router holds the liaison for this call.
    back = deps.router.requeue_after_no_answer(call_sid=record.sid, liaison_id=liaison_id, org=org)
    if back.requeued or not resumed:
        deps.router.abandon(call_sid=record.sid, org=org)  # out of the router's line until the caller holds again
    liaison = deps.directory.liaison(liaison_id)
    away = not resumed or deps.router.liaison_status(liaison_id=liaison_id, org=org) == Presence.AWAY
    if liaison is not None and away:
        deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=Presence.AWAY, since=now)
    if resumed:
        log.warning("voice.back_in_line_resumed call_sid=%s liaison=%s requeued=%s", record.sid, liaison_id,
                    back.requeued)
    log.info("voice.liaison_no_answer call_sid=%s liaison=%s status=%s", record.sid, liaison_id, ended.value)
    if from_room:
        try:
            deps.telephony.redirect(call_sid=record.sid, to=Goto.to(Step.BACK_IN_LINE))
        except Exception as exc:  # noqa: BLE001 - the caller is gone (or unreachable): the call ends
            log.info("voice.back_in_line_failed call_sid=%s error=%s", record.sid, type(exc).__name__)
            return Next(Step.END, record=requeued, options={"leg": LegStatus.COMPLETED,
                                                            "reason": "caller gone before back in line"})
        return VoiceReply()
    flow = deps.flow_for(record.line_kind)
    return Next(Step.QUEUE, record=requeued, lead=(flow.say("returned_to_queue", requeued.language),),
                options={"hold": True})
