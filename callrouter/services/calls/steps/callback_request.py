"""What a caller hears around asking for a callback: the offer (while waiting, when closed, when nobody is
on duty), the slot menu, the number (the caller's own, or one keyed in), a short voice message.

The callback is created the moment the caller says yes, so a hang-up during the rest loses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.callbacks import Callback, CallbackOrigin, CallbackState, slots
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.voice import Gather, Hangup, Leave, Record, Redirect, Say, VoiceReply
from callrouter.services.callbacks import lifecycle as service
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import spoken_moment
from callrouter.services.calls.step import Stale, StepInput, StepResult

PARTS = ("closed", "nobody", "slot", "number", "enter", "recorded")  # the dialogue's webhooks


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


def _dialogue(part: str, callback_id: int | None = None) -> Goto:
    return Goto.to(Step.CALLBACK_DIALOGUE, step=part, cb=callback_id)


def accept_in_queue(deps: CallDeps, given: StepInput) -> StepResult:
    """Key 1 during the hold: the callback takes the caller's place, the caller leaves the hold loop."""
    record = deps.calls.get(given.call_sid)
    if (record is None or record.state != CallState.QUEUED or (given.digits or "").strip()[:1] != "1"
            or not deps.flow_for(record.line_kind).callbacks):
        return VoiceReply()  # any other key: keep holding (the hold loop goes on)
    callback, created = service.request_callback(deps, record=record, origin=CallbackOrigin.IN_QUEUE,
                                                 phone_number=given.from_number)
    deps.calls.apply(record.sid, event=EventKind.CALLBACK_REQUESTED, at=deps.clock.now(),
                     move=CallMove.ARRANGE_CALLBACK, detail={"callback": callback.id, "joined": not created},
                     outcome=Outcome.CALLBACK_REQUESTED)
    # The callback holds the place in line now; the call itself leaves the router's queue.
    deps.router.abandon(call_sid=record.sid, org=record.organisation or "")
    return VoiceReply.of(Leave())


def dialogue(deps: CallDeps, given: StepInput) -> StepResult:
    record = given.record or deps.calls.get(given.call_sid)
    if record is None or record.state == CallState.ENDED:
        return VoiceReply.of(Hangup())
    if given.resume:  # arranging a callback: only its own steps apply
        return VoiceReply.of(Hangup())
    part = given.choice
    if part == "offer_closed":
        return _offer(deps, record, part="closed", prompt="callback_closed_offer", lead=given.lead)
    if part == "offer_nobody":
        return _offer(deps, record, part="nobody", prompt="callback_no_liaison_offer", lead=given.lead)
    if part == "after_queue":
        return _after_queue(deps, record)
    key = (given.digits or "").strip()[:1]
    flow = deps.flow_for(record.line_kind)
    if part in ("closed", "nobody", "slot") and record.state != CallState.CALLBACK:
        return Stale(record)
    if part in ("closed", "nobody"):
        if key == "1":
            origin = CallbackOrigin.CLOSED if part == "closed" else CallbackOrigin.NO_LIAISON
            openings = _openings(deps, record) if part == "closed" else []
            due = openings[0] if openings else None
            return _create_then_number(deps, record, origin=origin, from_number=given.from_number, due=due)
        if key == "2" and part == "closed":
            return _slot_menu(deps, record)
        if not key or not _may_ask_again(deps, record, part=part):  # silence means no; a wrong key is asked once more
            return _goodbye(deps, record)
        prompt = "callback_closed_offer" if part == "closed" else "callback_no_liaison_offer"
        return _offer(deps, record, part=part, prompt=prompt, lead=(flow.say("invalid", record.language),))
    if part == "slot":
        choices = _openings(deps, record)
        index = int(key) - 1 if key.isdigit() else -1
        if 0 <= index < len(choices):
            return _create_then_number(deps, record, origin=CallbackOrigin.CLOSED, from_number=given.from_number,
                                       due=choices[index])
        if not key or not _may_ask_again(deps, record, part=part):
            return _goodbye(deps, record)
        return _slot_menu(deps, record, lead=(flow.say("invalid", record.language),))
    callback = deps.callbacks.get(given.callback_id) if given.callback_id else None
    if callback is None or callback.call_sid != record.sid:
        return Stale(record)
    if part == "number":
        if key == "2":
            return VoiceReply.of(Gather(action=_dialogue("enter", callback.id),
                                        prompts=(flow.say("callback_number_enter", record.language),),
                                        timeout=10, num_digits=None, finish_on_key="#"))
        return _ask_record(deps, record, callback_id=callback.id)
    if part == "enter":
        number = normalise_number(given.digits or "")
        if number is None:
            return _number_question(deps, record, callback_id=callback.id,
                                    lead=(flow.say("callback_number_wrong", record.language),))
        deps.callbacks.move(callback.id, to=callback.state, cause="number keyed in", at=deps.clock.now(),
                            expect=frozenset({callback.state}), phone_number=number)
        return _ask_record(deps, record, callback_id=callback.id)
    if part == "recorded":
        if given.recording_url:
            deps.callbacks.move(callback.id, to=callback.state, cause="voice message", at=deps.clock.now(),
                                expect=frozenset({callback.state}), voice_message_url=given.recording_url)
        return _finish(deps, record, callback=callback)
    return Stale(record)


def _offer(deps: CallDeps, record: CallRecord, *, part: str, prompt: str, lead: tuple[Say, ...]) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=_dialogue(part), prompts=(*lead, flow.say(prompt, record.language)),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def _goodbye(deps: CallDeps, record: CallRecord) -> VoiceReply:
    """The caller said no (or nothing) to the offer: the call ends as it would have."""
    now = deps.clock.now()
    deps.calls.apply(record.sid, event=EventKind.COMPLETED, at=now, move=CallMove.END,
                     detail={"callback": "declined"}, ended_at=now)
    return VoiceReply.of(Hangup())


def _may_ask_again(deps: CallDeps, record: CallRecord, *, part: str) -> bool:
    """A wrong key in the callback offer or the slot menu: asked again, up to the flow's tries."""
    tries = record.menu_tries + 1
    deps.calls.apply(record.sid, event=EventKind.MENU_INVALID, at=deps.clock.now(),
                     detail={"step": f"callback-{part}", "try": tries}, menu_tries=tries)
    return tries < deps.flow_for(record.line_kind).max_tries


def _openings(deps: CallDeps, record: CallRecord) -> list[datetime]:
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


def _slot_menu(deps: CallDeps, record: CallRecord, *, lead: tuple[Say, ...] = ()) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    org = deps.directory.organisation(record.organisation or "")
    zone = org.hours.zone if org else "Europe/Amsterdam"
    now = deps.clock.now()
    said = [flow.say("callback_slot_question", record.language)]
    for key, moment in enumerate(_openings(deps, record), start=1):
        said.append(flow.say("option", record.language, key=key,
                             name=spoken_moment(moment, now=now, language=record.language, zone=zone)))
    return VoiceReply.of(Gather(action=_dialogue("slot"), prompts=(*lead, *said), timeout=flow.timeout_seconds,
                                num_digits=1, action_on_empty_result=True))


def _create_then_number(deps: CallDeps, record: CallRecord, *, origin: CallbackOrigin, from_number: str,
                        due: datetime | None) -> VoiceReply:
    callback, created = service.request_callback(deps, record=record, origin=origin, phone_number=from_number,
                                                 due_at=due)
    deps.calls.apply(record.sid, event=EventKind.CALLBACK_REQUESTED, at=deps.clock.now(),
                     detail={"callback": callback.id, "joined": not created}, only_in=frozenset({CallState.CALLBACK}),
                     outcome=Outcome.CALLBACK_REQUESTED)
    if not created:
        return _finish(deps, record, joined=True)
    return _number_question(deps, record, callback_id=callback.id)


def _number_question(deps: CallDeps, record: CallRecord, *, callback_id: int, lead: tuple[Say, ...] = ()) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=_dialogue("number", callback_id),
                                prompts=(*lead, flow.say("callback_number_question", record.language)),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def _ask_record(deps: CallDeps, record: CallRecord, *, callback_id: int) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    after = _dialogue("recorded", callback_id)
    # Silence: the recording's action is skipped and the Redirect runs.
    return VoiceReply.of(flow.say("callback_record", record.language),
                         Record(action=after, max_length=30, timeout=5, finish_on_key="#"), Redirect(after))


def _finish(deps: CallDeps, record: CallRecord, *, joined: bool = False, callback: Callback | None = None) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    now = deps.clock.now()
    deps.calls.apply(record.sid, event=EventKind.COMPLETED, at=now, move=CallMove.END, detail={"callback": "arranged"},
                     dedupe="ended", ended_at=now, outcome=Outcome.CALLBACK_REQUESTED)
    if joined:
        return VoiceReply.of(flow.say("callback_joined", record.language), Hangup())
    if callback is not None and callback.state == CallbackState.REQUESTED:
        org = deps.directory.organisation(callback.organisation)
        moment = spoken_moment(callback.due_at, now=now, language=record.language,
                               zone=org.hours.zone if org else "Europe/Amsterdam")
        return VoiceReply.of(flow.say("callback_done_at", record.language, moment=moment), Hangup())
    return VoiceReply.of(flow.say("callback_done", record.language), Hangup())


def _after_queue(deps: CallDeps, record: CallRecord) -> StepResult:
    """The hold loop ended on <Leave>: the caller chose a callback; go on with the number."""
    event = next((e for e in reversed(deps.calls.events(record.sid)) if e.kind == EventKind.CALLBACK_REQUESTED), None)
    raw = event.detail.get("callback") if event else None
    if not isinstance(raw, int):
        return Stale(record)
    if event is not None and event.detail.get("joined"):
        return _finish(deps, record, joined=True)
    return _number_question(deps, record, callback_id=raw)
