"""Identification: which line was called, and who calls: a caseworker's registered number, else code + PIN.

Unknown callers on a professional line hear the public number after the PIN tries; wrong PINs count
toward the limits on guessing (Guard, docs/security.md). A line's flow may ask registered numbers for the
PIN too (`pin_for_registered_numbers`). A citizen line needs no identity. Then: the case reference, else the menu.
"""

from __future__ import annotations

import logging

from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.directory import LineKind
from callrouter.domain.privacy import mask_number, pseudonym
from callrouter.domain.voice import Gather, Hangup, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import goodbye, public_phone
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult

log = logging.getLogger("callrouter.voice")
security = logging.getLogger("callrouter.security")  # security events, as the web layer logs them
CODE_LENGTH = 4


def not_in_use(deps: CallDeps) -> VoiceReply:
    flow = deps.flow_for(LineKind.PROFESSIONAL)
    return VoiceReply.of(flow.say("not_in_use", "nl"), flow.say("not_in_use", "en"), Hangup())


def after_identify(flow: ivr.Flow) -> str:
    return ivr.CASE_REFERENCE_STEP if flow.case_reference else "organisation"


def incoming(deps: CallDeps, given: StepInput) -> StepResult:
    call_sid, from_number = given.call_sid, given.from_number
    line = deps.directory.line_by_number(given.to_number)
    if line is None:
        log.warning("voice.unknown_line call_sid=%s to=%s", call_sid, mask_number(given.to_number))
        return not_in_use(deps)
    now = deps.clock.now()
    caller = pseudonym(from_number, key=deps.pseudonym_key)
    flow = deps.flow_for(line.kind)
    received: dict[str, object] = {"line": line.number, "kind": line.kind.value}
    # Read-only checks first (Redis, the cached directory), so the usual first webhook (a
    # registered caseworker's number) is recorded in one write: open_call + identified() in one.
    professional = line.kind != LineKind.CITIZEN
    locked = professional and deps.guard.is_locked(caller=caller, now=now)
    registered = deps.directory.caseworker_by_phone(from_number) if professional and not locked else None
    # A line whose flow asks registered numbers for the PIN too (caller ID can be forged: docs/security.md)
    # treats them like any number here; the PIN step counts their tries apart (the code's own bucket).
    caseworker = None if flow.pin_for_registered_numbers else registered
    if caseworker is not None:
        opened = CallRecord(sid=call_sid, line_number=line.number, line_kind=line.kind.value, caller_pseudonym=caller,
                            caller_masked=mask_number(from_number), state=CallState.MENU, received_at=now,
                            language=flow.default_language, caseworker_id=caseworker.id, location=caseworker.location,
                            menu_step=after_identify(flow), menu_page=0, menu_tries=0)
        record, created = deps.calls.open_identified(
            opened, detail=received, identified_at=deps.clock.now(),
            identified={"by": "number", "caseworker": caseworker.id, "location": caseworker.location})
        if created:
            return _greeted(deps, record)
    else:
        fresh = CallRecord(sid=call_sid, line_number=line.number, line_kind=line.kind.value, caller_pseudonym=caller,
                           caller_masked=mask_number(from_number), state=CallState.IDENTIFYING, received_at=now,
                           language=flow.default_language)
        record, created = deps.calls.open_call(fresh, detail=received)
    # A call opened before (a repeated or concurrent delivery) goes on from where it is; so does one
    # whose id comes back for another line (another kind of flow): it stays on its own line.
    if not created and (record.state not in (CallState.IDENTIFYING, CallState.MENU)
                        or record.line_number != line.number):
        return Stale(record)

    if line.kind == LineKind.CITIZEN:
        org = deps.directory.organisation(line.organisations[0]) if line.organisations else None
        if org is None:
            return not_in_use(deps)
        record = deps.calls.apply(call_sid, event=EventKind.IDENTIFIED, at=now, move=CallMove.IDENTIFY,
                                  detail={"as": "citizen"}, menu_step="organisation") or record
        greeting = flow.say("greeting_citizen", record.language, organisation=org.name)
        return Next(Step.OPENING, record=record, lead=(greeting,), options={"organisation": org.code})

    if locked:
        security.warning("security.number_locked call_sid=%s origin=%s", call_sid, mask_number(from_number))
        return goodbye(deps, record, prompt="locked", event=EventKind.LOCKED_OUT, outcome=Outcome.REFUSED,
                       public_phone=public_phone(deps, record, line))
    if caseworker is None:
        return VoiceReply.of(flow.say("greeting_unknown", record.language), ask_code(deps, record))
    return _identified(deps, record, caseworker_id=caseworker.id, location_code=caseworker.location, how="number")


def ask_code(deps: CallDeps, record: CallRecord, *, wrong: bool = False) -> Gather:
    flow = deps.flow_for(record.line_kind)
    prompts: tuple[Say, ...] = (flow.say("ask_code", "nl"), flow.say("ask_code", "en"))
    if wrong:
        prompts = (flow.say("code_wrong", "nl"), *prompts)
    return Gather(action=Goto.to(Step.PIN), prompts=prompts, timeout=flow.timeout_seconds,
                  num_digits=None, finish_on_key="#")


def pin(deps: CallDeps, given: StepInput) -> StepResult:
    record = given.record or deps.calls.get(given.call_sid)
    if given.resume and record is not None:
        return VoiceReply.of(ask_code(deps, record))
    if record is None or record.state != CallState.IDENTIFYING:
        return Stale(record)
    flow = deps.flow_for(record.line_kind)
    now = deps.clock.now()
    caller = record.caller_pseudonym
    digits = "".join(ch for ch in (given.digits or "") if ch.isdigit())
    code, entered = digits[:CODE_LENGTH], digits[CODE_LENGTH:]
    checked = False
    if len(code) == CODE_LENGTH and entered:
        # Unknown codes go the same way as known ones: the same buckets, and an argon2 check against a dummy
        # hash, so neither the answer, nor a wait, nor the time taken tells whether a code exists.
        caseworker = deps.directory.caseworker_by_code(code)
        own = caseworker is not None and bool(given.from_number) and given.from_number in caseworker.phone_numbers
        if not deps.guard.pin_closed(caller=caller, code=code, own_number=own, now=now):
            checked = True
            if caseworker and caseworker.pin_hash:
                right = deps.pins.verify(caseworker.pin_hash, entered)
            else:
                right = deps.pins.verify_nothing(entered)
            if right and caseworker:
                deps.guard.record_right_pin(caller=caller, code=code, own_number=own)
                return _identified(deps, record, caseworker_id=caseworker.id, location_code=caseworker.location,
                                   how="pin")
            deps.guard.record_wrong_pin(caller=caller, code=code, own_number=own, now=now)
        else:  # refused unchecked and uncounted, so guessing during a wait neither learns nor lengthens it
            security.warning("security.pin_refused_while_waiting call_sid=%s own_number=%s origin=%s", record.sid,
                             own, record.caller_masked)
    else:
        deps.guard.record_wrong_pin(caller=caller, code=None, own_number=False, now=now)
        checked = True
    tries = record.pin_tries + 1
    # Only the number of digits is recorded, never the digits.
    detail: dict[str, object] = {"try": tries, "length": len(digits)}
    if not checked:
        detail["checked"] = False
    record = deps.calls.apply(record.sid, event=EventKind.PIN_FAILED, at=now, detail=detail,
                              pin_tries=tries) or record
    if tries >= flow.max_tries:
        return goodbye(deps, record, prompt="code_failed", event=EventKind.REFUSED, outcome=Outcome.REFUSED,
                       public_phone=public_phone(deps, record))
    return VoiceReply.of(ask_code(deps, record, wrong=True))


def _identified(deps: CallDeps, record: CallRecord, *, caseworker_id: int, location_code: str,
                how: str) -> StepResult:
    flow = deps.flow_for(record.line_kind)
    record = deps.calls.apply(record.sid, event=EventKind.IDENTIFIED, at=deps.clock.now(), move=CallMove.IDENTIFY,
                              detail={"by": how, "caseworker": caseworker_id, "location": location_code},
                              caseworker_id=caseworker_id, location=location_code,
                              menu_step=after_identify(flow), menu_page=0, menu_tries=0) or record
    return _greeted(deps, record)


def _greeted(deps: CallDeps, record: CallRecord) -> Next:
    """The greeting; the case-reference step asks its question when the line has it, else goes on to the menu."""
    flow = deps.flow_for(record.line_kind)
    location = deps.directory.location(record.location or "")
    greeting = flow.say("greeting_caseworker", record.language,
                        location=location.name if location else (record.location or ""))
    return Next(Step.CASE_REFERENCE, record=record, lead=(greeting,), options={"greeted": True})
