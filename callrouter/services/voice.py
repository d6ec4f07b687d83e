"""The call before the queue: line, caller identification, the organisation and topic menus.

Each function takes what Twilio told us (already parsed by the web layer), decides with the
domain rules, records what happened on the call, and returns the reply to render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from callrouter.domain import ivr
from callrouter.domain.calls import ANY_TOPIC, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.directory import Line, LineKind, Organisation
from callrouter.domain.privacy import mask_number, pseudonym
from callrouter.domain.voice import Gather, Hangup, Say, VoiceReply
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.cases import CaseStore
from callrouter.services.ports import (
    CallbackStore,
    CallStore,
    Clock,
    Directory,
    Guard,
    Jobs,
    PinVerifier,
    PresenceStore,
    Router,
    Telephony,
)
from callrouter.services.wallboard import LiveBoard

log = logging.getLogger("callrouter.voice")
CODE_LENGTH = 4


@dataclass(frozen=True)
class VoiceDeps:
    flows: dict[str, ivr.Flow]
    directory: Directory
    calls: CallStore
    router: Router
    presence: PresenceStore
    telephony: Telephony
    guard: Guard
    pins: PinVerifier
    clock: Clock
    pseudonym_key: bytes
    holidays: Callable[[date], str | None]
    callbacks: CallbackStore
    jobs: Jobs
    callback_policy: CallbackPolicy = field(default_factory=lambda: CallbackPolicy())
    general_public_phone: str = "1400"
    dial_timeout_seconds: int = 20
    widen_after_seconds: float = 60.0
    announce_every_seconds: int = 90
    hold_music_url: str = ""
    wrap_up_seconds: int = 0
    # Organisations to route after the reply is sent (web); None: route at once (API, workers).
    after: list[str] | None = None
    # The wallboard's live counters (None: not kept, as in unit tests).
    live: LiveBoard | None = None
    # Cases for the multi-organisation figures (None: calls are not grouped into cases).
    cases: CaseStore | None = None

    def flow_for(self, kind: str) -> ivr.Flow:
        return self.flows[kind]


def _spoken_phone(number: str) -> str:
    """+31880430430 -> 088 043 0430, read digit by digit by the voice."""
    if number.startswith("+31"):
        number = "0" + number[3:]
    return " ".join(number[i : i + 3] for i in range(0, len(number), 3))


def public_phone(deps: VoiceDeps, record: CallRecord | None, line: Line | None = None) -> str:
    org_code = (record.organisation if record else None) or (
        line.organisations[0] if line and len(line.organisations) == 1 else None)
    org = deps.directory.organisation(org_code) if org_code else None
    return _spoken_phone(org.public_phone) if org else deps.general_public_phone


def goodbye(deps: VoiceDeps, record: CallRecord, *, prompt: str, event: EventKind, outcome: Outcome,
            detail: dict[str, object] | None = None, **values: object) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    deps.calls.apply(record.sid, event=event, at=deps.clock.now(), detail=detail, state=CallState.ENDED,
                     outcome=outcome, ended_at=deps.clock.now())
    return VoiceReply.of(flow.say(prompt, record.language, **values), Hangup())


def not_in_use(deps: VoiceDeps) -> VoiceReply:
    flow = deps.flow_for(LineKind.PROFESSIONAL)
    return VoiceReply.of(flow.say("not_in_use", "nl"), flow.say("not_in_use", "en"), Hangup())


def incoming(deps: VoiceDeps, *, call_sid: str, from_number: str, to_number: str) -> VoiceReply:
    line = deps.directory.line_by_number(to_number)
    if line is None:
        log.warning("voice.unknown_line call_sid=%s to=%s", call_sid, mask_number(to_number))
        return not_in_use(deps)
    now = deps.clock.now()
    caller = pseudonym(from_number, key=deps.pseudonym_key)
    flow = deps.flow_for(line.kind)
    received = {"line": line.number, "kind": line.kind.value}
    # Read-only checks first (Redis, the cached directory), so the usual first webhook (a
    # registered caseworker's number) is recorded in one write: open_call + identified() in one.
    professional = line.kind != LineKind.CITIZEN
    locked = professional and deps.guard.is_locked(caller=caller)
    caseworker = deps.directory.caseworker_by_phone(from_number) if professional and not locked else None
    if caseworker is not None:
        opened = CallRecord(sid=call_sid, line_number=line.number, line_kind=line.kind.value, caller_pseudonym=caller,
                            caller_masked=mask_number(from_number), state=CallState.MENU, received_at=now,
                            language=flow.default_language, caseworker_id=caseworker.id, location=caseworker.location,
                            menu_step=_after_identify(flow), menu_page=0, menu_tries=0)
        record, created = deps.calls.open_identified(
            opened, detail=received, identified_at=deps.clock.now(),
            identified={"by": "number", "caseworker": caseworker.id, "location": caseworker.location})
        if created:  # the rest of identified(), whose write is already done
            location = deps.directory.location(caseworker.location)
            greeting = flow.say("greeting_caseworker", record.language,
                                location=location.name if location else caseworker.location)
            return after_identified(deps, record, greeting=greeting)
    else:
        fresh = CallRecord(sid=call_sid, line_number=line.number, line_kind=line.kind.value, caller_pseudonym=caller,
                           caller_masked=mask_number(from_number), state=CallState.IDENTIFYING, received_at=now,
                           language=flow.default_language)
        record, created = deps.calls.open_call(fresh, detail=received)
    # A call opened before (a repeated or concurrent delivery) goes on from where it is.
    if not created and record.state not in (CallState.IDENTIFYING, CallState.MENU):
        return VoiceReply.of(Hangup()) if record.state == CallState.ENDED else current_menu(deps, record)

    if line.kind == LineKind.CITIZEN:
        org = deps.directory.organisation(line.organisations[0]) if line.organisations else None
        if org is None:
            return not_in_use(deps)
        record = deps.calls.apply(call_sid, event=EventKind.IDENTIFIED, at=now, detail={"as": "citizen"},
                                  state=CallState.MENU, menu_step="organisation") or record
        greeting = flow.say("greeting_citizen", record.language, organisation=org.name)
        return organisation_chosen(deps, record, org, greeting=greeting)

    if locked:
        return goodbye(deps, record, prompt="locked", event=EventKind.LOCKED_OUT, outcome=Outcome.REFUSED,
                       public_phone=public_phone(deps, record, line))
    if caseworker is None:
        return VoiceReply.of(flow.say("greeting_unknown", record.language), ask_code(deps, record))
    return identified(deps, record, caseworker_id=caseworker.id, location_code=caseworker.location, how="number")


def ask_code(deps: VoiceDeps, record: CallRecord, *, wrong: bool = False) -> Gather:
    flow = deps.flow_for(record.line_kind)
    prompts: tuple[Say, ...] = (flow.say("ask_code", "nl"), flow.say("ask_code", "en"))
    if wrong:
        prompts = (flow.say("code_wrong", "nl"), *prompts)
    return Gather(action="/twilio/voice/pin", prompts=prompts, timeout=flow.timeout_seconds,
                  num_digits=None, finish_on_key="#")


def pin_entered(deps: VoiceDeps, *, call_sid: str, digits: str) -> VoiceReply:
    record = deps.calls.get(call_sid)
    if record is None or record.state != CallState.IDENTIFYING:
        return stale(deps, record)
    flow = deps.flow_for(record.line_kind)
    digits = "".join(ch for ch in digits if ch.isdigit())
    code, pin = digits[:CODE_LENGTH], digits[CODE_LENGTH:]
    caseworker = deps.directory.caseworker_by_code(code) if len(code) == CODE_LENGTH and pin else None
    locked = bool(caseworker) and deps.guard.is_locked(caller=record.caller_pseudonym, code=code)
    if caseworker and caseworker.pin_hash and not locked and deps.pins.verify(caseworker.pin_hash, pin):
        return identified(deps, record, caseworker_id=caseworker.id, location_code=caseworker.location, how="pin")
    if caseworker:
        deps.guard.record_failed_pin(code=code)
    tries = record.pin_tries + 1
    # Only the number of digits is recorded, never the digits.
    record = deps.calls.apply(call_sid, event=EventKind.PIN_FAILED, at=deps.clock.now(),
                              detail={"try": tries, "length": len(digits)}, pin_tries=tries) or record
    if tries >= flow.max_tries:
        deps.guard.record_failed_call(caller=record.caller_pseudonym)
        return goodbye(deps, record, prompt="code_failed", event=EventKind.REFUSED, outcome=Outcome.REFUSED,
                       public_phone=public_phone(deps, record))
    return VoiceReply.of(ask_code(deps, record, wrong=True))


def identified(deps: VoiceDeps, record: CallRecord, *, caseworker_id: int, location_code: str, how: str) -> VoiceReply:
    flow = deps.flow_for(record.line_kind)
    location = deps.directory.location(location_code)
    record = deps.calls.apply(record.sid, event=EventKind.IDENTIFIED, at=deps.clock.now(),
                              detail={"by": how, "caseworker": caseworker_id, "location": location_code},
                              state=CallState.MENU, caseworker_id=caseworker_id, location=location_code,
                              menu_step=_after_identify(flow), menu_page=0, menu_tries=0) or record
    greeting = flow.say("greeting_caseworker", record.language, location=location.name if location else location_code)
    return after_identified(deps, record, greeting=greeting)


def _after_identify(flow: ivr.Flow) -> str:
    return ivr.CASE_REFERENCE_STEP if flow.case_reference else "organisation"


def after_identified(deps: VoiceDeps, record: CallRecord, *, greeting: Say) -> VoiceReply:
    """The optional case-reference question (callrouter.services.case_flow); else the menu."""
    from callrouter.services import case_flow

    return case_flow.after_identified(deps, record, greeting=greeting)


def first_menu(deps: VoiceDeps, record: CallRecord, *, greeting: Say | None, then: Say | None = None) -> VoiceReply:
    """After the greeting: the organisation menu, or straight on when the counter has only one."""
    lead = tuple(s for s in (greeting, then) if s is not None)
    choices = organisation_choices(deps, record)
    if len(choices) == 1:  # one organisation connected here: no menu to ask
        org = deps.directory.organisation(choices[0].code)
        assert org is not None
        return organisation_chosen(deps, record, org, lead=lead, by_service=True)
    return VoiceReply.of(menu_gather(deps, record, lead=lead, first=True))


def organisation_choices(deps: VoiceDeps, record: CallRecord) -> list[ivr.Choice]:
    line = deps.directory.line_by_number(record.line_number)
    scope = set(line.organisations) if line and line.organisations else None
    orgs = deps.directory.organisations_at(record.location or "")
    return [ivr.Choice(o.code, o.name) for o in orgs if scope is None or o.code in scope]


def topic_choices(deps: VoiceDeps, record: CallRecord) -> list[ivr.Choice]:
    org = deps.directory.organisation(record.organisation or "")
    if org is None:
        return []
    return [ivr.Choice(t.code, t.name_en if record.language == "en" else t.name_nl) for t in org.topics]


def menu_of(deps: VoiceDeps, record: CallRecord) -> ivr.Menu:
    step = record.menu_step or "organisation"
    choices = organisation_choices(deps, record) if step == "organisation" else topic_choices(deps, record)
    return ivr.build_menu(flow=deps.flow_for(record.line_kind), step=step, choices=choices, page=record.menu_page)


def menu_gather(deps: VoiceDeps, record: CallRecord, *, lead: tuple[Say, ...] = (), first: bool = False,
                reprompt: bool = False) -> Gather:
    flow = deps.flow_for(record.line_kind)
    menu = menu_of(deps, record)
    said = ivr.menu_prompts(flow=flow, menu=menu, language=record.language,
                            first_page_offer=first and menu.page == 0, reprompt=reprompt)
    return Gather(action=f"/twilio/voice/menu?step={menu.step}", prompts=(*lead, *said),
                  timeout=flow.timeout_seconds, num_digits=1)


def current_menu(deps: VoiceDeps, record: CallRecord) -> VoiceReply:
    if record.state == CallState.MENU and record.menu_step == ivr.CASE_REFERENCE_STEP:
        from callrouter.services.case_flow import ask_case_reference

        return VoiceReply.of(ask_case_reference(deps, record))
    if record.state == CallState.MENU:
        return VoiceReply.of(menu_gather(deps, record))
    if record.state == CallState.IDENTIFYING:
        return VoiceReply.of(ask_code(deps, record))
    if record.state == CallState.CALLBACK:  # arranging a callback: only its own steps apply
        return VoiceReply.of(Hangup())
    from callrouter.services.queue_flow import enqueue_reply  # the queue side of the flow

    return enqueue_reply(deps, record, lead=())


def stale(deps: VoiceDeps, record: CallRecord | None) -> VoiceReply:
    """A request that does not fit the call's state (repeated or late): say where the caller is."""
    if record is None or record.state == CallState.ENDED:
        return VoiceReply.of(Hangup())
    return current_menu(deps, record)


def menu_key(deps: VoiceDeps, *, call_sid: str, step: str, digits: str | None) -> VoiceReply:
    record = deps.calls.get(call_sid)
    if record is None or record.state != CallState.MENU or record.menu_step != step:
        return stale(deps, record)
    flow = deps.flow_for(record.line_kind)
    menu = menu_of(deps, record)
    press = ivr.read_key(flow=flow, menu=menu, digits=digits, language=record.language)
    now = deps.clock.now()
    detail: dict[str, object] = {"step": step, "page": menu.page}
    kind = ivr.KeyMeaning

    if press.meaning == kind.CHOICE and press.choice:
        return choose(deps, record, step=step, code=press.choice.code, lead=())
    if press.meaning == kind.MORE:
        record = deps.calls.apply(call_sid, event=EventKind.MENU_CHOICE, at=now, detail={**detail, "choice": "more"},
                                  menu_page=menu.page + 1, menu_tries=0) or record
        return VoiceReply.of(menu_gather(deps, record))
    if press.meaning == kind.REPEAT:
        record = deps.calls.apply(call_sid, event=EventKind.MENU_REPEAT, at=now, detail=detail) or record
        return VoiceReply.of(menu_gather(deps, record, reprompt=True))
    if press.meaning == kind.LANGUAGE:
        record = deps.calls.apply(call_sid, event=EventKind.LANGUAGE, at=now, detail={"language": flow.languages[1]},
                                  language=flow.languages[1]) or record
        return VoiceReply.of(menu_gather(deps, record))
    if press.meaning == kind.PERSON:
        deps.calls.apply(call_sid, event=EventKind.MENU_PERSON, at=now, detail=detail)
        return to_person(deps, record, step=step)

    tries = record.menu_tries + 1
    event = EventKind.MENU_NO_INPUT if press.meaning == kind.NO_INPUT else EventKind.MENU_INVALID
    record = deps.calls.apply(call_sid, event=event, at=now, detail={**detail, "try": tries}, menu_tries=tries) or record
    if tries >= flow.max_tries:  # never hang up on silence: a person takes it from here
        return to_person(deps, record, step=step)
    said = flow.say("no_input" if press.meaning == kind.NO_INPUT else "invalid", record.language)
    return VoiceReply.of(menu_gather(deps, record, lead=(said,), reprompt=True))


def to_person(deps: VoiceDeps, record: CallRecord, *, step: str) -> VoiceReply:
    """Key 0, or tries used up: any liaison of the organisation (the counter's first one if none chosen)."""
    if step == "organisation":
        choices = organisation_choices(deps, record)
        if not choices:
            return goodbye(deps, record, prompt="error", event=EventKind.ERROR, outcome=Outcome.FAILED,
                           detail={"reason": "no organisation connected at this counter"},
                           public_phone=deps.general_public_phone)
        return choose(deps, record, step=step, code=choices[0].code, lead=(), any_topic=True, by_service=True)
    org = deps.directory.organisation(record.organisation or "")
    flow = deps.flow_for(record.line_kind)
    said = flow.say("to_person", record.language, organisation=org.name if org else "")
    return choose(deps, record, step=step, code=ANY_TOPIC, lead=(said,))


def choose(deps: VoiceDeps, record: CallRecord, *, step: str, code: str, lead: tuple[Say, ...],
           any_topic: bool = False, by_service: bool = False) -> VoiceReply:
    if step == "organisation":
        org = deps.directory.organisation(code)
        if org is None:
            return stale(deps, record)
        return organisation_chosen(deps, record, org, greeting=None, any_topic=any_topic, by_service=by_service)
    from callrouter.services.queue_flow import enter_queue

    deps.calls.apply(record.sid, event=EventKind.MENU_CHOICE, at=deps.clock.now(),
                     detail={"step": "topic", "choice": code})
    return enter_queue(deps, record, topic=code, lead=lead)


def organisation_chosen(deps: VoiceDeps, record: CallRecord, org: Organisation, *, greeting: Say | None = None,
                        any_topic: bool = False, lead: tuple[Say, ...] = (), by_service: bool = False) -> VoiceReply:
    """`by_service`: the service chose (one organisation at the counter, or `0` / tries used up), not a key;
    the events say so ("by": "service"), so the menu figures do not count it as the caller's choice."""
    from callrouter.services.opening import closed_reply, nobody_on_duty

    lead = (*((greeting,) if greeting else ()), *lead)  # words said first: the language is offered after them
    by = {"by": "service"} if by_service else {}
    reply = closed_reply(deps, record, org, lead=lead, detail=by) or nobody_on_duty(deps, record, org, lead=lead,
                                                                                     detail=by)
    if reply:
        return reply
    record = deps.calls.apply(record.sid, event=EventKind.MENU_CHOICE, at=deps.clock.now(),
                              detail={"step": "organisation", "choice": org.code, **by}, menu_step="topic",
                              menu_page=0, menu_tries=0, organisation=org.code) or record
    if any_topic or len(org.topics) <= 1:
        topic = org.topics[0].code if (len(org.topics) == 1 and not any_topic) else ANY_TOPIC
        flow = deps.flow_for(record.line_kind)
        said = flow.say("to_person", record.language, organisation=org.name) if topic == ANY_TOPIC else None
        from callrouter.services.queue_flow import enter_queue

        return enter_queue(deps, record, topic=topic, lead=(*lead, *((said,) if said else ())))
    return VoiceReply.of(menu_gather(deps, record, lead=lead, first=bool(lead)))
