"""What callers and liaisons hear around a callback.

Caller side: the offer (while waiting, when closed, when nobody is on duty), the slot menu, the
number (the caller's own, or one keyed in), a short voice message. The callback is created the
moment the caller says yes, so a hang-up during the rest loses nothing.
Liaison side (agent-first): who asked and why, the voice message, then 1 to call now, 2 to postpone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import phonenumbers

from callrouter.domain.callbacks import Callback, CallbackOrigin, CallbackState, router_member, slots
from callrouter.domain.calls import CallRecord, CallState, EventKind, Outcome
from callrouter.domain.voice import Dial, Gather, Hangup, Leave, Pause, Play, Record, Redirect, Say, VoiceReply
from callrouter.services import callbacks as service
from callrouter.services.opening import spoken_moment
from callrouter.services.queue_flow import topic_name
from callrouter.services.voice import VoiceDeps, stale

log = logging.getLogger("callrouter.callbacks")
DIALOGUE = "/twilio/voice/callback/dialogue"


def offers_callbacks(deps: VoiceDeps, record: CallRecord) -> bool:
    return deps.flow_for(record.line_kind).callbacks


def normalise_number(digits: str) -> str | None:
    """A Dutch or international number keyed in by a caller, as E.164; None when it is not a real number."""
    raw = digits.strip().rstrip("#")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, "NL")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# -- the offer ---------------------------------------------------------------------------------

def offer_prompt(deps: VoiceDeps, record: CallRecord) -> Say:
    return deps.flow_for(record.line_kind).say("callback_offer", record.language)


def accept_in_queue(deps: VoiceDeps, *, call_sid: str, digits: str, from_number: str) -> VoiceReply:
    """Key 1 during the hold: the callback takes the caller's place, the caller leaves Twilio's queue."""
    record = deps.calls.get(call_sid)
    if record is None or record.state != CallState.QUEUED or digits.strip()[:1] != "1" or not offers_callbacks(deps, record):
        return VoiceReply()  # any other key: keep holding (the waitUrl loop goes on)
    callback, created = service.request_callback(deps, record=record, origin=CallbackOrigin.IN_QUEUE,
                                                 phone_number=from_number)
    deps.calls.apply(call_sid, event=EventKind.CALLBACK_REQUESTED, at=deps.clock.now(),
                     detail={"callback": callback.id, "joined": not created}, expect=frozenset({CallState.QUEUED}),
                     state=CallState.CALLBACK, outcome=Outcome.CALLBACK_REQUESTED)
    # The callback holds the place in line now; the call itself leaves the router's queue.
    deps.router.abandon(call_sid=call_sid, org=record.organisation or "")
    return VoiceReply.of(Leave())


def offer_when_closed(deps: VoiceDeps, record: CallRecord, *, lead: tuple[Say, ...]) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=f"{DIALOGUE}?step=closed", prompts=(*lead, flow.say("callback_closed_offer", record.language)),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def offer_when_nobody(deps: VoiceDeps, record: CallRecord, *, lead: tuple[Say, ...]) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=f"{DIALOGUE}?step=nobody", prompts=(*lead, flow.say("callback_no_liaison_offer", record.language)),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def _goodbye(deps: VoiceDeps, record: CallRecord) -> VoiceReply:
    """The caller said no (or nothing) to the offer: the call ends as it would have."""
    deps.calls.apply(record.sid, event=EventKind.COMPLETED, at=deps.clock.now(), detail={"callback": "declined"},
                     state=CallState.ENDED, ended_at=deps.clock.now())
    return VoiceReply.of(Hangup())


def _may_ask_again(deps: VoiceDeps, record: CallRecord, *, step: str) -> bool:
    """A wrong key in the callback offer or the slot menu: asked again, up to the flow's tries."""
    tries = record.menu_tries + 1
    deps.calls.apply(record.sid, event=EventKind.MENU_INVALID, at=deps.clock.now(), detail={"step": f"callback-{step}",
                     "try": tries}, menu_tries=tries)
    return tries < deps.flow_for(record.line_kind).max_tries


def _openings(deps: VoiceDeps, record: CallRecord) -> list[datetime]:
    org = deps.directory.organisation(record.organisation or "")
    if org is None:
        return []
    now = deps.clock.now()
    first = org.hours.next_opening(now, deps.holidays)
    if first is None:
        return []
    later = first + timedelta(hours=2)
    candidates = [first] + ([later] if org.hours.is_open(later, deps.holidays) else [])
    next_day = org.hours.next_opening(first.replace(hour=0, minute=0) + timedelta(days=1), deps.holidays)
    if next_day:
        candidates.append(next_day)
    return slots(openings=candidates)


def _slot_menu(deps: VoiceDeps, record: CallRecord, *, lead: tuple[Say, ...] = ()) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    org = deps.directory.organisation(record.organisation or "")
    zone = org.hours.zone if org else "Europe/Amsterdam"
    now = deps.clock.now()
    said = [flow.say("callback_slot_question", record.language)]
    for key, moment in enumerate(_openings(deps, record), start=1):
        said.append(flow.say("option", record.language, key=key,
                             name=spoken_moment(moment, now=now, language=record.language, zone=zone)))
    return VoiceReply.of(Gather(action=f"{DIALOGUE}?step=slot", prompts=(*lead, *said), timeout=flow.timeout_seconds,
                                num_digits=1, action_on_empty_result=True))


def _create_then_number(deps: VoiceDeps, record: CallRecord, *, origin: CallbackOrigin, from_number: str,
                        due: datetime | None) -> VoiceReply:
    callback, created = service.request_callback(deps, record=record, origin=origin, phone_number=from_number,
                                                 due_at=due)
    deps.calls.apply(record.sid, event=EventKind.CALLBACK_REQUESTED, at=deps.clock.now(),
                     detail={"callback": callback.id, "joined": not created}, state=CallState.CALLBACK,
                     outcome=Outcome.CALLBACK_REQUESTED)
    if not created:
        return _finish(deps, record, joined=True)
    return _number_question(deps, record, callback_id=callback.id)


# -- the dialogue after yes ----------------------------------------------------------------------

def _number_question(deps: VoiceDeps, record: CallRecord, *, callback_id: int, lead: tuple[Say, ...] = ()) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=f"{DIALOGUE}?step=number&cb={callback_id}",
                                prompts=(*lead, flow.say("callback_number_question", record.language)),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def _ask_record(deps: VoiceDeps, record: CallRecord, *, callback_id: int) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    after = f"{DIALOGUE}?step=recorded&cb={callback_id}"
    # Silence: Twilio skips the action and goes on to the Redirect.
    return VoiceReply.of(flow.say("callback_record", record.language),
                         Record(action=after, max_length=30, timeout=5, finish_on_key="#"), Redirect(after))


def _finish(deps: VoiceDeps, record: CallRecord, *, joined: bool = False, callback: Callback | None = None) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    now = deps.clock.now()
    deps.calls.apply(record.sid, event=EventKind.COMPLETED, at=now, detail={"callback": "arranged"},
                     dedupe="ended", state=CallState.ENDED, ended_at=now, outcome=Outcome.CALLBACK_REQUESTED)
    if joined:
        return VoiceReply.of(flow.say("callback_joined", record.language), Hangup())
    if callback is not None and callback.state == CallbackState.REQUESTED:
        org = deps.directory.organisation(callback.organisation)
        moment = spoken_moment(callback.due_at, now=now, language=record.language,
                               zone=org.hours.zone if org else "Europe/Amsterdam")
        return VoiceReply.of(flow.say("callback_done_at", record.language, moment=moment), Hangup())
    return VoiceReply.of(flow.say("callback_done", record.language), Hangup())


def after_queue(deps: VoiceDeps, record: CallRecord) -> VoiceReply:
    """Enqueue's action after <Leave>: the caller chose a callback; go on with the number."""
    event = next((e for e in reversed(deps.calls.events(record.sid)) if e.kind == EventKind.CALLBACK_REQUESTED), None)
    callback_id = int(event.detail["callback"]) if event else None  # type: ignore[call-overload]
    if callback_id is None:
        return stale(deps, record)
    if event and event.detail.get("joined"):
        return _finish(deps, record, joined=True)
    return _number_question(deps, record, callback_id=callback_id)


def dialogue(deps: VoiceDeps, *, call_sid: str, step: str, digits: str, from_number: str,
             callback_id: int | None, recording_url: str | None) -> VoiceReply:
    record = deps.calls.get(call_sid)
    if record is None or record.state == CallState.ENDED:
        return VoiceReply.of(Hangup())
    key = digits.strip()[:1]
    flow = deps.flow_for(record.line_kind)
    if step in ("closed", "nobody", "slot") and record.state != CallState.CALLBACK:
        return stale(deps, record)
    if step in ("closed", "nobody"):
        if key == "1":
            origin = CallbackOrigin.CLOSED if step == "closed" else CallbackOrigin.NO_LIAISON
            due = (_openings(deps, record) or [None])[0] if step == "closed" else None
            return _create_then_number(deps, record, origin=origin, from_number=from_number, due=due)
        if key == "2" and step == "closed":
            return _slot_menu(deps, record)
        if not key or not _may_ask_again(deps, record, step=step):  # silence means no; a wrong key is asked once more
            return _goodbye(deps, record)
        invalid = (flow.say("invalid", record.language),)
        return (offer_when_closed if step == "closed" else offer_when_nobody)(deps, record, lead=invalid)
    if step == "slot":
        choices = _openings(deps, record)
        index = int(key) - 1 if key.isdigit() else -1
        if 0 <= index < len(choices):
            return _create_then_number(deps, record, origin=CallbackOrigin.CLOSED, from_number=from_number,
                                       due=choices[index])
        if not key or not _may_ask_again(deps, record, step=step):
            return _goodbye(deps, record)
        return _slot_menu(deps, record, lead=(flow.say("invalid", record.language),))
    callback = deps.callbacks.get(callback_id) if callback_id else None
    if callback is None or callback.call_sid != call_sid:
        return stale(deps, record)
    if step == "number":
        if key == "2":
            return VoiceReply.of(Gather(action=f"{DIALOGUE}?step=enter&cb={callback.id}",
                                        prompts=(flow.say("callback_number_enter", record.language),),
                                        timeout=10, num_digits=None, finish_on_key="#"))
        return _ask_record(deps, record, callback_id=callback.id)
    if step == "enter":
        number = normalise_number(digits)
        if number is None:
            return _number_question(deps, record, callback_id=callback.id,
                                    lead=(flow.say("callback_number_wrong", record.language),))
        deps.callbacks.move(callback.id, to=callback.state, cause="number keyed in", at=deps.clock.now(),
                            expect=frozenset({callback.state}), phone_number=number)
        return _ask_record(deps, record, callback_id=callback.id)
    if step == "recorded":
        if recording_url:
            deps.callbacks.move(callback.id, to=callback.state, cause="voice message", at=deps.clock.now(),
                                expect=frozenset({callback.state}), voice_message_url=recording_url)
        return _finish(deps, record, callback=callback)
    return stale(deps, record)


# -- the liaison's leg (agent-first) -------------------------------------------------------------

def liaison_answers(deps: VoiceDeps, *, callback_id: int, attempt: int, call_sid: str) -> VoiceReply:
    callback = service.current_attempt(deps, callback_id=callback_id, attempt=attempt)
    if callback is None:
        return VoiceReply.of(Hangup())
    if callback.attempt_call_sid is None:  # the worker died before it could note the sid: Twilio tells us
        deps.callbacks.move(callback.id, to=CallbackState.DIALLING, cause="liaison leg seen", at=deps.clock.now(),
                            expect=frozenset({CallbackState.DIALLING}), expect_attempts=attempt, attempt_call_sid=call_sid)
    flow = deps.flow_for("professional")
    location = deps.directory.location(callback.location or "")
    org = deps.directory.organisation(callback.organisation)
    topic = topic_name(deps, _as_record(callback), language="nl")
    said: list[Say | Play | Pause] = [flow.say("callback_liaison_intro", "nl", location=location.name if location else "onbekend",
                                               organisation=org.name if org else callback.organisation, topic=topic)]
    if callback.voice_message_url:
        said += [flow.say("callback_liaison_message", "nl"), Play(callback.voice_message_url)]
    said.append(flow.say("callback_liaison_choice", "nl"))
    action = f"/twilio/voice/callback/liaison-choice?cb={callback_id}&a={attempt}"
    return VoiceReply.of(Gather(action=action, prompts=tuple(said), timeout=8, num_digits=1,
                                action_on_empty_result=True))


def _as_record(callback: Callback) -> CallRecord:
    return CallRecord(sid=callback.call_sid or "", line_number=callback.line_number, line_kind="professional",
                      caller_pseudonym="", caller_masked="", state=CallState.ENDED, received_at=callback.created_at,
                      organisation=callback.organisation, topic=callback.topic)


def liaison_choice(deps: VoiceDeps, *, callback_id: int, attempt: int, digits: str) -> VoiceReply:
    callback = service.current_attempt(deps, callback_id=callback_id, attempt=attempt)
    if callback is None:
        return VoiceReply.of(Hangup())
    flow = deps.flow_for("professional")
    if digits.strip()[:1] == "1":
        query = f"cb={callback_id}&a={attempt}"
        return VoiceReply.of(Dial(address=callback.phone_number, action=f"/twilio/voice/callback/dialled?{query}",
                                  whisper_url="", status_callback="", timeout=deps.dial_timeout_seconds,
                                  caller_id=callback.line_number))
    until = deps.clock.now() + timedelta(seconds=deps.callback_policy.postpone_seconds)
    service.postpone(deps, callback_id=callback_id, until=until, note="postponed by the liaison",
                     expect_attempts=attempt)
    if callback.liaison_id is not None:
        service.release(deps, organisation=callback.organisation, liaison_id=callback.liaison_id,
                        member=router_member(callback_id))
    return VoiceReply.of(flow.say("callback_liaison_postponed", "nl"), Hangup())


def caller_dialled(deps: VoiceDeps, *, callback_id: int, attempt: int, status: str) -> VoiceReply:
    callback = service.current_attempt(deps, callback_id=callback_id, attempt=attempt)
    if callback is None:
        return VoiceReply.of(Hangup())
    if status in ("completed", "answered"):
        service.caller_reached(deps, callback=callback)
        return VoiceReply.of(Hangup())
    service.caller_not_reached(deps, callback=callback, status=status)
    return VoiceReply.of(deps.flow_for("professional").say("callback_liaison_no_answer", "nl"), Hangup())


def liaison_leg_status(deps: VoiceDeps, *, callback_id: int, attempt: int, status: str) -> None:
    """The liaison's leg ended: not answered means back in line (liaison away); otherwise the liaison is free."""
    if status not in ("completed", "busy", "no-answer", "failed", "canceled"):
        return
    callback = deps.callbacks.get(callback_id)
    if callback is None or callback.liaison_id is None:
        return
    member = router_member(callback_id)
    if callback.state == CallbackState.DIALLING and callback.attempts == attempt:
        # The liaison never chose (did not answer, or hung up before pressing a key).
        service.back_in_line(deps, callback, liaison_id=callback.liaison_id, cause=f"liaison leg {status}")
        return
    service.release(deps, organisation=callback.organisation, liaison_id=callback.liaison_id, member=member)

