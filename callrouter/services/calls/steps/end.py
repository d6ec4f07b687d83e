"""The end of a call, however it ended, and the caller's leg's status reports that tell of it.

Ending frees what the call held: its place in line, or its liaison (into wrap-up when the line has
one, ended by a timer). Safe to run more than once: the `end` move is allowed only once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from callrouter.domain.call_flow import LegStatus, Step
from callrouter.domain.calls import WAITING_STATES, CallMove, CallRecord, CallState, EventKind, Outcome, end_outcome
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Hangup, VoiceReply
from callrouter.services.callbacks import lifecycle as callbacks
from callrouter.services.calls import consult, room
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.calls.step import Next, StepInput, StepResult
from callrouter.services.statistics import wallboard

log = logging.getLogger("callrouter.voice")


def end(deps: CallDeps, given: StepInput) -> StepResult:
    """Ends the call; option `then`: the step that follows for a caller still on the line (else hang up)."""
    record = given.record or deps.calls.get(given.call_sid)
    if record is not None:
        leg = given.option("leg", LegStatus.COMPLETED)
        talk = given.option("talk_seconds")
        end_call(deps, record, leg=LegStatus(str(leg)), reason=str(given.option("reason", "")),
                 talk_seconds=talk if isinstance(talk, int) else None, answered=given.flag("answered"), at=given.at)
        then = given.option("then")
        if isinstance(then, Step) and record.state != CallState.ENDED:  # not when the caller's hang-up ended it
            return Next(then, record=deps.calls.get(record.sid))
    return VoiceReply.of(Hangup())


def end_call(deps: CallDeps, record: CallRecord, *, leg: LegStatus, reason: str, talk_seconds: int | None = None,
             answered: bool = False, at: datetime | None = None) -> None:
    """`at`: when the network says the call ended (a status report's time); None: now."""
    now = at or deps.clock.now()
    if record.state == CallState.ENDED:
        return
    outcome = end_outcome(record, failed=leg == LegStatus.FAILED, answered=answered)
    answered_at = record.answered_at
    if outcome == Outcome.ANSWERED and answered_at is None:
        answered_at = now - timedelta(seconds=talk_seconds or 0)
    if outcome == Outcome.ANSWERED and record.state == CallState.OFFERED:
        # The liaison's "answered" report has not come (yet): the dial result says they talked.
        picked_up = deps.calls.apply(record.sid, event=EventKind.ANSWERED, at=answered_at or now, move=CallMove.ANSWER,
                                     detail={"liaison": record.liaison_id, "from": "dial result"},
                                     answered_at=answered_at)
        if picked_up is not None:
            wallboard.on_answered(deps.live, picked_up)
    event = EventKind.COMPLETED if outcome == Outcome.ANSWERED else EventKind.ABANDONED
    ended = deps.calls.apply(record.sid, event=event, at=now, move=CallMove.END,
                             detail={"status": leg.value, "reason": reason, "talk_seconds": talk_seconds},
                             dedupe="ended", outcome=outcome, ended_at=now, answered_at=answered_at)
    if ended is None:
        return
    wallboard.on_ended(deps.live, record, outcome=outcome, at=now)
    consult.on_call_ended(deps, record)  # a consulted liaison's leg ends, the liaison is freed
    org = record.organisation or ""
    talked = record.state == CallState.CONNECTED or outcome == Outcome.ANSWERED
    if record.state in WAITING_STATES and not talked:
        deps.router.abandon(call_sid=record.sid, org=org)
    if talked:  # the liaison still holds the call in the router: released into wrap-up or available
        if record.liaison_id is not None:
            _release_liaison(deps, record, liaison_id=record.liaison_id)
        deps.after.route(org=org)
    elif record.state == CallState.OFFERED:
        room.cancel_liaison_leg(deps, record, reason=reason or "caller's call ended")  # it may still ring
        deps.after.route(org=org)
    auto_after = deps.callback_policy.auto_after_abandon_seconds
    if (outcome == Outcome.ABANDONED_IN_QUEUE and auto_after and record.queued_at
            and deps.flow_for(record.line_kind).callbacks and (now - record.queued_at).total_seconds() >= auto_after):
        callbacks.request_callback_for_abandoned(deps, record=record)
    log.info("voice.ended call_sid=%s outcome=%s", record.sid, outcome.value)


def _release_liaison(deps: CallDeps, record: CallRecord, *, liaison_id: int) -> None:
    """The conversation is over: wrap-up (ended by a timer, see services/staff/presence.py) or available."""
    now = deps.clock.now()
    org = record.organisation or ""
    after = Presence.WRAP_UP if deps.wrap_up_seconds else Presence.AVAILABLE
    released = deps.router.release_liaison(liaison_id=liaison_id, org=org, status=after, now_ms=ms(now),
                                           call_sid=consult.router_call_of(deps, record))
    deps.presence.save(liaison_id=liaison_id, organisation=org, status=after, since=now)
    if released.accepted and after == Presence.WRAP_UP:
        deps.jobs.end_wrap_up_at(liaison_id=liaison_id, at=now + timedelta(seconds=deps.wrap_up_seconds))


def status(deps: CallDeps, given: StepInput) -> StepResult:
    """The caller's leg's status report; repeated or late ones change nothing."""
    record = deps.calls.get(given.call_sid)
    if record is None or given.leg is None:
        log.info("voice.status_unknown_call call_sid=%s", given.call_sid)
        return VoiceReply()
    at = given.at or deps.clock.now()
    sequence = given.sequence
    seq = sequence if sequence is not None else record.last_status_seq + 1
    noted = deps.calls.apply(record.sid, event=EventKind.STATUS, at=at, detail={"status": given.leg.value,
                                                                              "sequence": sequence},
                             dedupe=f"status:{given.leg.value}", last_status_seq=max(seq, record.last_status_seq))
    if noted is None or (sequence is not None and sequence < record.last_status_seq):
        return VoiceReply()
    if given.leg.ended:
        return Next(Step.END, record=noted, options={"leg": given.leg, "reason": "caller's call ended"})
    return VoiceReply()
