"""The line: into the queue, the hold loop (announcements, the callback offer), and leaving it.

Twilio holds the caller; the router holds the order in Redis. A call joins the router's line at its
first turn of the hold loop, which only starts once the caller has heard the acknowledgement ("U gaat
voor op de wachtende burgers..."), so no redirect to a liaison can cut that sentence off. Its place
is still its time of entering the queue (SQL), so nobody who came later goes first.
"""

from __future__ import annotations

import logging

from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto, LegStatus, QueueExit, Step
from callrouter.domain.calls import ANY_TOPIC, WAITING_STATES, CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence, claim_gaps_s, estimate_wait_seconds
from callrouter.domain.voice import Enqueue, Gather, Hangup, Pause, Play, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms, public_phone, topic_name
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult
from callrouter.services.statistics import wallboard

log = logging.getLogger("callrouter.queue")
HOLD_PAUSE_SECONDS = 5


def queue_name(org: str) -> str:
    return f"callrouter-{org}"


def hold_reply(record: CallRecord, *, lead: tuple[Say, ...] = ()) -> VoiceReply:
    return VoiceReply.of(*lead, Enqueue(queue=queue_name(record.organisation or ""), wait=Goto.to(Step.WAIT),
                                        action=Goto.to(Step.QUEUE_EXIT)))


def queue(deps: CallDeps, given: StepInput) -> StepResult:
    """Into the line with the chosen topic (option `topic`); resume, or `hold`: back into the hold loop."""
    record = given.record or deps.calls.get(given.call_sid)
    if record is None:
        return Stale(record)
    if given.resume or given.flag("hold"):
        return hold_reply(record, lead=given.lead)
    now = deps.clock.now()
    org_code = record.organisation or ""
    topic = str(given.option("topic", ANY_TOPIC))
    queued = deps.calls.apply(record.sid, event=EventKind.QUEUED, at=now, move=CallMove.ENQUEUE,
                              detail={"organisation": org_code, "topic": topic}, topic=topic, queued_at=now,
                              menu_step=None)
    if queued is None:
        return Stale(deps.calls.get(record.sid))
    wallboard.on_queued(deps.live, queued)
    log.info("voice.enqueued call_sid=%s queue=%s topic=%s class=%s", record.sid, org_code, topic,
             queued.priority_class.value)
    flow = deps.flow_for(record.line_kind)
    org = deps.directory.organisation(org_code)
    said = flow.say("queued", record.language, organisation=org.name if org else org_code,
                    topic=topic_name(deps, organisation=org_code, topic=topic, language=queued.language))
    return hold_reply(queued, lead=(*given.lead, said))


def back_in_line(deps: CallDeps, given: StepInput) -> StepResult:
    """The caller was sent out of the call's room back to the line (the liaison did not take the call)."""
    record = deps.calls.get(given.call_sid)
    if record is None or record.state != CallState.QUEUED:
        return Stale(record)
    flow = deps.flow_for(record.line_kind)
    return hold_reply(record, lead=(flow.say("returned_to_queue", record.language),))


def transferred(deps: CallDeps, given: StepInput) -> StepResult:
    """The caller was handed to another organisation: told so, then in its line (at the first turn of the hold
    loop, with the original queue time: nobody who called later goes first)."""
    record = deps.calls.get(given.call_sid)
    if record is None or record.state != CallState.QUEUED:
        return Stale(record)
    org = deps.directory.organisation(record.organisation or "")
    flow = deps.flow_for(record.line_kind)
    said = flow.say("transferring", record.language, organisation=org.name if org else record.organisation or "")
    return hold_reply(record, lead=(said,))


def wait(deps: CallDeps, given: StepInput) -> StepResult:
    """One turn of the hold loop: join the router's line (once), route, maybe an announcement and the
    callback offer, then hold. With callbacks on, the hold sits in a Gather, so key 1 asks for a callback."""
    record = deps.calls.get(given.call_sid)
    hold: tuple[Play | Pause, ...] = (Play(deps.hold_music_url),) if deps.hold_music_url else (Pause(HOLD_PAUSE_SECONDS),)
    if record is not None and record.state == CallState.ENDED:  # ended meanwhile (e.g. a redirect that failed)
        flow = deps.flow_for(record.line_kind)
        return VoiceReply.of(flow.say("error", record.language, public_phone=public_phone(deps, record)), Hangup())
    if record is None or record.state != CallState.QUEUED:
        return VoiceReply.of(*hold)
    org = record.organisation or ""
    # Idempotent: a call the router knows (waiting, or claimed a moment ago) is left as it is.
    joined = deps.router.enqueue(call_sid=record.sid, org=org, topic=record.topic or ANY_TOPIC,
                                 klass=record.priority_class.value,
                                 enqueued_at_ms=ms(record.queued_at or record.received_at))
    if joined:  # a call in line: routed at once
        deps.after.route(org=org)
    else:  # only time went by (a wait may widen to the whole organisation): routed about once a second
        deps.after.recheck(org=org)
    flow = deps.flow_for(record.line_kind)
    said: list[Say] = []
    if deps.guard.should_announce(call_sid=record.sid, queue_seconds=given.queue_seconds):
        spoken, estimate, position = _announcement(deps, record, flow=flow)
        said.append(spoken)
        _record_announcement(deps, record, queue_seconds=given.queue_seconds, estimate=estimate, position=position)
        if flow.callbacks and (estimate or 0) >= deps.callback_policy.offer_after_seconds:
            said.append(flow.say("callback_offer", record.language))
    if not flow.callbacks:
        return VoiceReply.of(*said, *hold)
    return VoiceReply.of(Gather(action=Goto.to(Step.CALLBACK_OFFER), prompts=(*said, *hold), timeout=1,
                                num_digits=1, action_on_empty_result=False))


def _record_announcement(deps: CallDeps, record: CallRecord, *, queue_seconds: float, estimate: int | None,
                         position: int) -> None:
    """Keep what was said, so the figures can show the estimates are honest (docs/statistics.md).

    The state stays as it is. The dedupe key is this queue turn (the hold loop's queue time, within the
    stay that began after the last offer), so the same request handled twice records one announcement.
    """
    now = deps.clock.now()
    waited = (now - record.queued_at).total_seconds() if record.queued_at else queue_seconds
    stay = ms(record.offered_at) if record.offered_at else 0
    deps.calls.apply(record.sid, event=EventKind.ANNOUNCED, at=now,
                     detail={"estimate_s": estimate, "position": position, "waited_s": round(max(0.0, waited))},
                     dedupe=f"announced:{stay}:{int(queue_seconds)}", only_in=WAITING_STATES)


def _announcement(deps: CallDeps, record: CallRecord, *, flow: ivr.Flow) -> tuple[Say, int | None, int]:
    """What to say about the wait, the estimate in seconds (None: "wait unknown") and the position."""
    org = record.organisation or ""
    place = deps.router.position(call_sid=record.sid, org=org)
    position = place.position if place else 1
    history = deps.router.wait_history(org=org, topic=record.topic or ANY_TOPIC)  # one round trip
    waits, counts = history.waits_ms, history.presence
    gaps = claim_gaps_s(list(history.claim_times_ms), now_ms=ms(deps.clock.now()))
    # The estimate counts from now and errs long (announced >= actual for most calls, see UX.md).
    estimate = estimate_wait_seconds(position=position, recent_waits_s=[w / 1000 for w in waits],
                                     recent_claim_gaps_s=gaps, available_liaisons=counts.get(Presence.AVAILABLE, 0))
    if not estimate:
        return flow.say("wait_unknown", record.language, position=position), None, position
    return flow.say("wait_estimate", record.language, position=position,
                    wait=ivr.spoken_duration(estimate, record.language)), estimate, position


def queue_exit(deps: CallDeps, given: StepInput) -> StepResult:
    """The caller left the hold loop. Hang-ups are settled by the status callback too."""
    record = deps.calls.get(given.call_sid)
    if record is not None and record.state not in WAITING_STATES:
        wallboard.on_left_queue(deps.live, record)
    if record is not None and given.queue_exit == QueueExit.LEFT and record.state == CallState.CALLBACK:
        return Next(Step.CALLBACK_DIALOGUE, record=record, choice="after_queue")
    if record is not None and given.queue_exit in (QueueExit.HUNG_UP, QueueExit.FAILED):
        failed = given.queue_exit == QueueExit.FAILED
        return Next(Step.END, record=record, options={
            "leg": LegStatus.FAILED if failed else LegStatus.COMPLETED, "reason": f"queue result {given.choice}"})
    # Redirected or bridged: the call has moved on; an empty document changes nothing.
    return VoiceReply()
