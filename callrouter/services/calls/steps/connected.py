"""The liaison's leg: picked up (the conversation starts), and how the dial ended.

Not answered, busy, failed, or hung up during the whisper (never bridged): the call goes back to
the front of its line, the liaison is marked away (never stuck busy), and the pickup does not count
as an answer. Talked: the end step settles the conversation. Late or repeated reports change nothing.
"""

from __future__ import annotations

import logging

from callrouter.domain.call_flow import DialEnd, LegStatus, Step
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Hangup, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult
from callrouter.services.statistics import wallboard

log = logging.getLogger("callrouter.queue")


def liaison_leg(deps: CallDeps, given: StepInput) -> StepResult:
    """Status reports of the liaison's leg: answered means the liaison picked up.

    A late one (after the call ended, as when reports come out of order) changes nothing: the
    answer was already recorded when the conversation ended.
    """
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
        return VoiceReply.of(Hangup())
    if ended == DialEnd.TALKED:  # the conversation ended, the caller is still on the line
        return Next(Step.END, record=record, options={"leg": LegStatus.COMPLETED, "reason": "conversation ended",
                                                      "talk_seconds": given.talk_seconds, "answered": True,
                                                      "then": Step.VERDICT})
    if ended == DialEnd.CANCELLED:  # the caller hung up while the liaison's phone rang
        return Next(Step.END, record=record, options={"leg": LegStatus.CANCELLED,
                                                      "reason": "caller hung up while ringing"})
    return _back_in_line(deps, record, liaison_id=liaison_id, ended=DialEnd(str(ended or DialEnd.FAILED)))


def _back_in_line(deps: CallDeps, record: CallRecord, *, liaison_id: int, ended: DialEnd) -> StepResult:
    """Back to the front of the line; the liaison is marked away. The router takes the call again at its
    next turn of the hold loop, after the caller has heard that they are back in line."""
    now = deps.clock.now()
    not_bridged = ended == DialEnd.NOT_BRIDGED or record.state == CallState.CONNECTED
    requeued = deps.calls.apply(record.sid, event=EventKind.NOT_BRIDGED if not_bridged else EventKind.LIAISON_NO_ANSWER,
                                at=now, move=CallMove.RETURN, detail={"liaison": liaison_id, "status": ended.value},
                                liaison_id=None, answered_at=None)
    if requeued is None:
        return Stale(deps.calls.get(record.sid))
    org = record.organisation or ""
    deps.router.requeue_after_no_answer(call_sid=record.sid, liaison_id=liaison_id, org=org)
    deps.router.abandon(call_sid=record.sid, org=org)  # out of the router's line until the caller holds again
    liaison = deps.directory.liaison(liaison_id)
    if liaison is not None:
        deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=Presence.AWAY, since=now)
    log.info("voice.liaison_no_answer call_sid=%s liaison=%s status=%s", record.sid, liaison_id, ended.value)
    flow = deps.flow_for(record.line_kind)
    return Next(Step.QUEUE, record=requeued, lead=(flow.say("returned_to_queue", requeued.language),),
                options={"hold": True})
