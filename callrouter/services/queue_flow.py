"""The call in and after the queue: enqueue, hold announcements, dispatch to a liaison, the dial, the end.

Twilio holds the caller (<Enqueue> with a waitUrl); the router holds the order in Redis; this
module moves the call record along and tells Twilio (REST redirect) when a liaison is claimed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from callrouter.domain import ivr
from callrouter.domain.callbacks import callback_id_of
from callrouter.domain.calls import ANY_TOPIC, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.queueing import Presence, claim_gaps_s, estimate_wait_seconds
from callrouter.domain.voice import Dial, Enqueue, Gather, Hangup, Pause, Play, Say, VoiceReply
from callrouter.services import wallboard
from callrouter.services.voice import VoiceDeps, stale

log = logging.getLogger("callrouter.queue")
TERMINAL = {"completed", "busy", "failed", "no-answer", "canceled"}
ANSWERED_DIAL = {"completed", "answered"}
HOLD_PAUSE_SECONDS = 5


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def queue_name(org: str) -> str:
    return f"callrouter-{org}"


def topic_name(deps: VoiceDeps, record: CallRecord, *, language: str | None = None) -> str:
    org = deps.directory.organisation(record.organisation or "")
    language = language or record.language
    if org is None or record.topic in (None, ANY_TOPIC):
        return "een algemene vraag" if language == "nl" else "a general question"
    topic = org.topic(record.topic or "")
    if topic is None:
        return record.topic or ""
    return topic.name_en if language == "en" else topic.name_nl


def enqueue_reply(deps: VoiceDeps, record: CallRecord, *, lead: tuple[Say, ...]) -> VoiceReply:
    return VoiceReply.of(*lead, Enqueue(queue=queue_name(record.organisation or ""), wait_url="/twilio/voice/wait",
                                        action="/twilio/voice/queue-exit"))


def enter_queue(deps: VoiceDeps, record: CallRecord, *, topic: str, lead: tuple[Say, ...]) -> VoiceReply:
    now = deps.clock.now()
    org_code = record.organisation or ""
    queued = deps.calls.apply(record.sid, event=EventKind.QUEUED, at=now, detail={"organisation": org_code, "topic": topic},
                              expect=frozenset({CallState.MENU}), state=CallState.QUEUED, topic=topic, queued_at=now,
                              menu_step=None)
    if queued is None:
        return stale(deps, deps.calls.get(record.sid))
    deps.router.enqueue(call_sid=record.sid, org=org_code, topic=topic, klass=queued.priority_class.value,
                        enqueued_at_ms=ms(now))
    wallboard.on_queued(deps.live, queued)
    log.info("voice.enqueued call_sid=%s queue=%s topic=%s class=%s", record.sid, org_code, topic,
             queued.priority_class.value)
    # Routing starts with the first waitUrl request, once the acknowledgement above has been heard
    # (a redirect now would cut it off mid-sentence).
    flow = deps.flow_for(record.line_kind)
    org = deps.directory.organisation(org_code)
    said = flow.say("queued", record.language, organisation=org.name if org else org_code,
                    topic=topic_name(deps, queued))
    return enqueue_reply(deps, queued, lead=(*lead, said))


def wait(deps: VoiceDeps, *, call_sid: str, queue_seconds: float) -> VoiceReply:
    """One turn of Twilio's waitUrl loop: maybe an announcement (and the callback offer), then hold.

    With callbacks on, the hold sits in a Gather, so key 1 asks for a callback at any moment.
    """
    record = deps.calls.get(call_sid)
    hold: tuple[Play | Pause, ...] = (Play(deps.hold_music_url),) if deps.hold_music_url else (Pause(HOLD_PAUSE_SECONDS),)
    if record is None or record.state != CallState.QUEUED:
        return VoiceReply.of(*hold)
    request_dispatch(deps, org=record.organisation or "")
    flow = deps.flow_for(record.line_kind)
    said: list[Say] = []
    if deps.guard.should_announce(call_sid=call_sid, queue_seconds=queue_seconds):
        spoken, estimate, position = announcement(deps, record, flow=flow)
        said.append(spoken)
        record_announcement(deps, record, queue_seconds=queue_seconds, estimate=estimate, position=position)
        if flow.callbacks and (estimate or 0) >= deps.callback_policy.offer_after_seconds:
            from callrouter.services.callback_flow import offer_prompt

            said.append(offer_prompt(deps, record))
    if not flow.callbacks:
        return VoiceReply.of(*said, *hold)
    return VoiceReply.of(Gather(action="/twilio/voice/callback/offer", prompts=(*said, *hold), timeout=1,
                                num_digits=1, action_on_empty_result=False))


def record_announcement(deps: VoiceDeps, record: CallRecord, *, queue_seconds: float, estimate: int | None,
                        position: int) -> None:
    """Keep what was said, so the figures can show the estimates are honest (docs/statistics.md).

    The state stays as it is. The dedupe key is this queue turn (Twilio's QueueTime, within the stay that
    began after the last offer), so the same waitUrl request handled twice records one announcement.
    """
    now = deps.clock.now()
    waited = (now - record.queued_at).total_seconds() if record.queued_at else queue_seconds
    stay = ms(record.offered_at) if record.offered_at else 0
    deps.calls.apply(record.sid, event=EventKind.ANNOUNCED, at=now,
                     detail={"estimate_s": estimate, "position": position, "waited_s": round(max(0.0, waited))},
                     dedupe=f"announced:{stay}:{int(queue_seconds)}",
                     expect=frozenset({CallState.QUEUED, CallState.OFFERED}))


def announcement(deps: VoiceDeps, record: CallRecord, *, flow: ivr.Flow) -> tuple[Say, int | None, int]:
    """What to say about the wait, the estimate in seconds (None: "wait unknown") and the position."""
    org = record.organisation or ""
    place = deps.router.position(call_sid=record.sid, org=org)
    position = place.position if place else 1
    waits = deps.router.recent_waits(org=org, topic=record.topic or ANY_TOPIC)
    gaps = claim_gaps_s(deps.router.recent_claim_times(org=org), now_ms=ms(deps.clock.now()))
    counts = deps.router.presence_counts(org=org)
    # The estimate counts from now and errs long (announced >= actual for most calls, see UX.md).
    estimate = estimate_wait_seconds(position=position, recent_waits_s=[w / 1000 for w in waits],
                                     recent_claim_gaps_s=gaps, available_liaisons=counts.get("available", 0))
    if not estimate:
        return flow.say("wait_unknown", record.language, position=position), None, position
    return flow.say("wait_estimate", record.language, position=position,
                    wait=ivr.spoken_duration(estimate, record.language)), estimate, position


def request_dispatch(deps: VoiceDeps, *, org: str) -> None:
    """Route now, or (in a webhook) right after the reply is sent, so a redirect never races the reply."""
    if deps.after is not None:
        deps.after.append(org)
    else:
        dispatch(deps, org=org)


def queue_exit(deps: VoiceDeps, *, call_sid: str, result: str) -> VoiceReply:
    """Enqueue's action: the caller left the queue. Hang-ups are settled by the status callback too."""
    record = deps.calls.get(call_sid)
    if record is not None and record.state not in (CallState.QUEUED, CallState.OFFERED):
        wallboard.on_left_queue(deps.live, record)
    if record is not None and result == "leave" and record.state == CallState.CALLBACK:
        from callrouter.services.callback_flow import after_queue

        return after_queue(deps, record)
    if record is not None and result in ("hangup", "error", "system-error", "queue-full"):
        end_call(deps, record, status="failed" if "error" in result or result == "queue-full" else "completed",
                 reason=f"queue result {result}")
        return VoiceReply.of(Hangup())
    # Twilio docs unclear whether TwiML returned for other results (redirected, bridged) is used;
    # an empty document changes nothing for a call that has moved on.
    return VoiceReply()


def dispatch(deps: VoiceDeps, *, org: str) -> int:
    """Claim every possible (call, liaison) pair of the organisation and send those calls to the liaison."""
    if not org:
        return 0
    now = deps.clock.now()
    claims = deps.router.dispatch(org=org, now_ms=ms(now))
    for claim in claims:
        callback_id = callback_id_of(claim.call_sid)
        if callback_id is not None:  # a callback's turn: a worker calls the liaison, then the caller
            deps.jobs.start_attempt(callback_id=callback_id, liaison_id=claim.liaison_id)
            continue
        offered = deps.calls.apply(claim.call_sid, event=EventKind.OFFERED, at=now,
                                   detail={"liaison": claim.liaison_id, "waited_ms": claim.waited_ms},
                                   expect=frozenset({CallState.QUEUED}), state=CallState.OFFERED,
                                   liaison_id=claim.liaison_id, offered_at=now)
        if offered is None:  # the call ended meanwhile: give the liaison back
            deps.router.abandon(call_sid=claim.call_sid, org=org)
            continue
        try:
            deps.telephony.redirect(call_sid=claim.call_sid, path=f"/twilio/voice/connect?liaison={claim.liaison_id}")
            log.info("voice.offered call_sid=%s liaison=%s", claim.call_sid, claim.liaison_id)
        except Exception as exc:  # noqa: BLE001 - any failure: the liaison must not stay reserved
            log.warning("voice.redirect_failed call_sid=%s error=%s", claim.call_sid, type(exc).__name__)
            end_call(deps, offered, status="failed", reason=f"redirect failed: {type(exc).__name__}")
    return len(claims)


def connect(deps: VoiceDeps, *, call_sid: str, liaison_id: int) -> VoiceReply:
    record = deps.calls.get(call_sid)
    if record is None or record.state != CallState.OFFERED or record.liaison_id != liaison_id:
        return enqueue_reply(deps, record, lead=()) if record and record.state == CallState.QUEUED else stale(deps, record)
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None:
        return no_answer(deps, record=record, liaison_id=liaison_id, status="failed")
    return VoiceReply.of(Dial(address=liaison.address, action=f"/twilio/voice/dial-result?liaison={liaison_id}",
                              whisper_url=f"/twilio/voice/whisper?call={call_sid}",
                              status_callback=f"/twilio/voice/liaison-status?call={call_sid}&liaison={liaison_id}",
                              timeout=deps.dial_timeout_seconds, caller_id=record.line_number))


def whisper(deps: VoiceDeps, *, call_sid: str) -> VoiceReply:
    """Said to the liaison before the caller is put through: where from, what about, how long waited."""
    record = deps.calls.get(call_sid)
    if record is None:
        return VoiceReply.of(Hangup())
    flow = deps.flow_for(record.line_kind)
    location = deps.directory.location(record.location or "")
    org = deps.directory.organisation(record.organisation or "")
    waited = (record.offered_at - record.queued_at).total_seconds() if record.offered_at and record.queued_at else 0
    return VoiceReply.of(flow.say("whisper", "nl", location=location.name if location else "onbekend",
                                  organisation=org.name if org else "", topic=topic_name(deps, record, language="nl"),
                                  waited=ivr.spoken_duration(waited, "nl")))


def liaison_leg(deps: VoiceDeps, *, call_sid: str, liaison_id: int, status: str) -> None:
    """Status callbacks of the liaison's leg: 'in-progress' means the liaison picked up.

    A late one (after the call ended, as when callbacks come out of order) changes nothing: the
    answer was already recorded when the conversation ended.
    """
    if status not in ("in-progress", "answered"):
        return
    now = deps.clock.now()
    answered = deps.calls.apply(call_sid, event=EventKind.ANSWERED, at=now, detail={"liaison": liaison_id},
                                dedupe="answered", expect=frozenset({CallState.OFFERED}), state=CallState.CONNECTED,
                                answered_at=now)
    if answered is not None:
        wallboard.on_answered(deps.live, answered)


def dial_result(deps: VoiceDeps, *, call_sid: str, liaison_id: int, status: str, duration: int | None) -> VoiceReply:
    record = deps.calls.get(call_sid)
    if record is None or record.liaison_id != liaison_id or record.state not in (CallState.OFFERED, CallState.CONNECTED):
        return VoiceReply.of(Hangup())
    if status in ANSWERED_DIAL:
        end_call(deps, record, status="completed", reason="conversation ended", talk_seconds=duration, answered=True)
        return VoiceReply.of(Hangup())
    if status == "canceled":  # the caller hung up while the liaison's phone rang
        end_call(deps, record, status="canceled", reason="caller hung up while ringing")
        return VoiceReply.of(Hangup())
    return no_answer(deps, record=record, liaison_id=liaison_id, status=status)


def no_answer(deps: VoiceDeps, *, record: CallRecord, liaison_id: int, status: str) -> VoiceReply:
    """Busy, no answer, failed: back to the front of the queue; the liaison is marked away."""
    now = deps.clock.now()
    requeued = deps.calls.apply(record.sid, event=EventKind.LIAISON_NO_ANSWER, at=now,
                                detail={"liaison": liaison_id, "status": status},
                                expect=frozenset({CallState.OFFERED}), state=CallState.QUEUED, liaison_id=None)
    if requeued is None:
        return stale(deps, deps.calls.get(record.sid))
    deps.router.requeue_after_no_answer(call_sid=record.sid, liaison_id=liaison_id, org=record.organisation or "")
    liaison = deps.directory.liaison(liaison_id)
    if liaison is not None:
        deps.presence.save(liaison_id=liaison_id, organisation=liaison.organisation, status=Presence.AWAY, since=now)
    log.info("voice.liaison_no_answer call_sid=%s liaison=%s status=%s", record.sid, liaison_id, status)
    flow = deps.flow_for(record.line_kind)
    request_dispatch(deps, org=record.organisation or "")
    return enqueue_reply(deps, requeued, lead=(flow.say("returned_to_queue", requeued.language),))


def end_call(deps: VoiceDeps, record: CallRecord, *, status: str, reason: str, talk_seconds: int | None = None,
             answered: bool = False) -> None:
    """The call is over, however it ended; frees what it held. Safe to call more than once."""
    now = deps.clock.now()
    if record.state == CallState.ENDED:
        return
    outcome = {
        CallState.IDENTIFYING: Outcome.ABANDONED_IN_MENU, CallState.MENU: Outcome.ABANDONED_IN_MENU,
        CallState.QUEUED: Outcome.ABANDONED_IN_QUEUE, CallState.OFFERED: Outcome.ABANDONED_IN_QUEUE,
        CallState.CONNECTED: Outcome.ANSWERED,
        # Arranging a callback: closed, nobody on duty, or the callback already asked for stands.
        CallState.CALLBACK: record.outcome or Outcome.ABANDONED_IN_MENU,
    }[record.state]
    if status == "failed" and record.state != CallState.CONNECTED:
        outcome = Outcome.FAILED
    answered_at = record.answered_at
    if record.state == CallState.CONNECTED or answered:
        outcome = Outcome.ANSWERED
        if answered_at is None:
            answered_at = now - timedelta(seconds=talk_seconds or 0)
    if outcome == Outcome.ANSWERED and record.state == CallState.OFFERED and answered_at is not None:
        # The liaison's "answered" callback has not come (yet): the dial result says they did.
        picked_up = deps.calls.apply(record.sid, event=EventKind.ANSWERED, at=answered_at,
                                     detail={"liaison": record.liaison_id, "from": "dial result"}, dedupe="answered",
                                     expect=frozenset({CallState.OFFERED}), state=CallState.CONNECTED,
                                     answered_at=answered_at)
        if picked_up is not None:
            wallboard.on_answered(deps.live, picked_up)
    event = EventKind.COMPLETED if outcome == Outcome.ANSWERED else EventKind.ABANDONED
    ended = deps.calls.apply(record.sid, event=event, at=now, detail={"status": status, "reason": reason,
                                                                     "talk_seconds": talk_seconds},
                             dedupe="ended", expect=frozenset(s for s in CallState if s != CallState.ENDED),
                             state=CallState.ENDED, outcome=outcome, ended_at=now, answered_at=answered_at)
    if ended is None:
        return
    wallboard.on_ended(deps.live, record, outcome=outcome, at=now)
    org = record.organisation or ""
    if record.state in (CallState.QUEUED, CallState.OFFERED):
        deps.router.abandon(call_sid=record.sid, org=org)
    if record.state == CallState.CONNECTED or outcome == Outcome.ANSWERED:
        if record.liaison_id is not None:
            status_after = Presence.WRAP_UP if deps.wrap_up_seconds else Presence.AVAILABLE
            deps.router.release_liaison(liaison_id=record.liaison_id, org=org, status=status_after, now_ms=ms(now),
                                        call_sid=record.sid)
            deps.presence.save(liaison_id=record.liaison_id, organisation=org, status=status_after, since=now)
        request_dispatch(deps, org=org)
    elif record.state == CallState.OFFERED:
        request_dispatch(deps, org=org)
    auto_after = deps.callback_policy.auto_after_abandon_seconds
    if (outcome == Outcome.ABANDONED_IN_QUEUE and auto_after and record.queued_at and deps.flow_for(record.line_kind).callbacks
            and (now - record.queued_at).total_seconds() >= auto_after):
        from callrouter.services.callbacks import request_callback_for_abandoned

        request_callback_for_abandoned(deps, record=record)
    log.info("voice.ended call_sid=%s outcome=%s", record.sid, outcome.value)


def call_status(deps: VoiceDeps, *, call_sid: str, status: str, sequence: int | None) -> None:
    """Twilio's status callback for the caller's leg; repeated or late ones change nothing."""
    record = deps.calls.get(call_sid)
    if record is None:
        log.info("voice.status_unknown_call call_sid=%s", call_sid)
        return
    now = deps.clock.now()
    seq = sequence if sequence is not None else record.last_status_seq + 1
    noted = deps.calls.apply(call_sid, event=EventKind.STATUS, at=now, detail={"status": status, "sequence": sequence},
                             dedupe=f"status:{status}", last_status_seq=max(seq, record.last_status_seq))
    if noted is None or (sequence is not None and sequence < record.last_status_seq):
        return
    if status in TERMINAL:
        end_call(deps, noted, status=status, reason="caller's call ended")
