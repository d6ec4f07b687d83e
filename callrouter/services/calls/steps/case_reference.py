"""The optional case-reference question after identification, and grouping the call into its case.

A caseworker may key in a case reference of the counter's own; the digits are never stored or logged
(a valid reference only as a keyed pseudonym of caseworker and reference), and a number that looks
like a citizen service number (BSN eleven-test) is refused. See docs/statistics.md.
"""

from __future__ import annotations

import logging

from callrouter.domain import cases, ivr
from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.domain.voice import Gather, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult

log = logging.getLogger("callrouter.voice")


def case_reference(deps: CallDeps, given: StepInput) -> StepResult:
    record = given.record or deps.calls.get(given.call_sid)
    if record is None:
        return Stale(record)
    if given.flag("greeted"):  # just identified: the question, or (when the line has none) on to the menu
        if record.menu_step == ivr.CASE_REFERENCE_STEP:
            return VoiceReply.of(ask(deps, record, lead=given.lead, first=True))
        attach_case(deps, record, reference=None)
        return Next(Step.MENU, record=record, lead=given.lead, options={"first_menu": True})
    if record.state != CallState.MENU or record.menu_step != ivr.CASE_REFERENCE_STEP:
        return Stale(record)
    if given.resume:
        return VoiceReply.of(ask(deps, record))
    return _entered(deps, record, digits=given.digits)


def attach_case(deps: CallDeps, record: CallRecord, *, reference: str | None) -> None:
    """Group the call with the caseworker's other calls; `reference` is already a keyed pseudonym.
    A failure is logged, never heard: the call goes on without a case."""
    if deps.cases is None or record.caseworker_id is None:
        return
    try:
        deps.cases.attach(call_sid=record.sid, caseworker_id=record.caseworker_id, location=record.location or "",
                          reference=reference, at=deps.clock.now())
    except Exception:  # statistics must not cost the caller their call
        log.exception("voice.case_attach_failed call_sid=%s", record.sid)


def ask(deps: CallDeps, record: CallRecord, *, lead: tuple[Say, ...] = (), first: bool = False) -> Gather:
    """'Heeft u een eigen dossiernummer?': digits and '#', or '#' alone / silence for none (barge-in)."""
    flow = deps.flow_for(record.line_kind)
    said = [*lead, flow.say("case_reference_question", record.language)]
    if first and record.language == flow.default_language and len(flow.languages) > 1:
        said.append(Say(flow.text("language_offer", flow.languages[1]), flow.languages[1]))
    return Gather(action=Goto.to(Step.CASE_REFERENCE), prompts=tuple(said), timeout=ivr.CASE_REFERENCE_TIMEOUT,
                  num_digits=None, finish_on_key="#")


def _entered(deps: CallDeps, record: CallRecord, *, digits: str | None) -> StepResult:
    """A reference, none, a refused citizen number or a malformed one. The digits are never stored or
    logged: a valid reference only as a keyed pseudonym of (caseworker, reference)."""
    call_sid = record.sid
    flow = deps.flow_for(record.line_kind)
    now = deps.clock.now()
    detail: dict[str, object] = {"step": ivr.CASE_REFERENCE_STEP}
    entered = (digits or "").strip()
    if entered == flow.language_key and record.language == flow.default_language and len(flow.languages) > 1:
        record = deps.calls.apply(call_sid, event=EventKind.LANGUAGE, at=now, detail={"language": flow.languages[1]},
                                  language=flow.languages[1]) or record
        return VoiceReply.of(ask(deps, record))
    found = cases.read_case_reference(entered)
    if found.kind in (cases.ReferenceKind.NONE, cases.ReferenceKind.VALID):
        given = found.reference is not None
        record = deps.calls.apply(call_sid, event=EventKind.MENU_CHOICE, at=now,
                                  detail={**detail, "choice": "reference" if given else "none"},
                                  menu_step="organisation", menu_page=0, menu_tries=0) or record
        reference = cases.reference_pseudonym(caseworker_id=record.caseworker_id or 0, reference=found.reference,
                                              key=deps.pseudonym_key) if found.reference else None
        attach_case(deps, record, reference=reference)
        return Next(Step.MENU, record=record, options={"first_menu": True})
    refused = found.kind == cases.ReferenceKind.CITIZEN_NUMBER
    tries = record.menu_tries + 1
    record = deps.calls.apply(call_sid, event=EventKind.MENU_INVALID, at=now,
                              detail={**detail, "reason": "citizen_number" if refused else "malformed", "try": tries},
                              menu_tries=tries) or record
    said = flow.say("case_reference_citizen_number" if refused else "case_reference_wrong", record.language)
    if tries < ivr.CASE_REFERENCE_TRIES:
        return VoiceReply.of(ask(deps, record, lead=(said,)))
    record = deps.calls.apply(call_sid, event=EventKind.MENU_CHOICE, at=now, detail={**detail, "choice": "none"},
                              menu_step="organisation", menu_page=0, menu_tries=0) or record
    attach_case(deps, record, reference=None)
    return Next(Step.MENU, record=record, lead=(said, flow.say("case_reference_skipped", record.language)),
                options={"first_menu": True})
