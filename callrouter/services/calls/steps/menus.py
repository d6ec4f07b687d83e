"""The organisation and topic menus: keys 1..n, more, repeat, language, 0 for a person, tries on silence.

The organisation menu lists only the organisations connected at the caseworker's counter (and in the
line's scope); a counter with one organisation skips it. A chosen organisation goes on to the opening
step; a chosen topic, into the queue.
"""

from __future__ import annotations

from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import ANY_TOPIC, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.voice import Gather, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import goodbye
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult

MENUS = ("organisation", "topic")


def menu(deps: CallDeps, given: StepInput) -> StepResult:
    record = given.record or deps.calls.get(given.call_sid)
    if record is None or record.state != CallState.MENU:
        return Stale(record)
    if given.flag("first_menu"):
        return _first_menu(deps, record, lead=given.lead)
    if given.resume or given.flag("ask"):
        return VoiceReply.of(menu_gather(deps, record, lead=given.lead, first=given.flag("first")))
    if record.menu_step != given.choice:
        return Stale(record)
    return _key(deps, record, step=given.choice, digits=given.digits)


def _first_menu(deps: CallDeps, record: CallRecord, *, lead: tuple[Say, ...]) -> StepResult:
    """After the greeting: the organisation menu, or straight on when the counter has only one."""
    choices = organisation_choices(deps, record)
    if len(choices) == 1:  # one organisation connected here: no menu to ask
        return Next(Step.OPENING, record=record, lead=lead, options={"organisation": choices[0].code,
                                                                     "by_service": True})
    return VoiceReply.of(menu_gather(deps, record, lead=lead, first=True))


def organisation_choices(deps: CallDeps, record: CallRecord) -> list[ivr.Choice]:
    line = deps.directory.line_by_number(record.line_number)
    scope = set(line.organisations) if line and line.organisations else None
    orgs = deps.directory.organisations_at(record.location or "")
    return [ivr.Choice(o.code, o.name) for o in orgs if scope is None or o.code in scope]


def topic_choices(deps: CallDeps, record: CallRecord) -> list[ivr.Choice]:
    org = deps.directory.organisation(record.organisation or "")
    if org is None:
        return []
    return [ivr.Choice(t.code, t.name_en if record.language == "en" else t.name_nl) for t in org.topics]


def menu_of(deps: CallDeps, record: CallRecord) -> ivr.Menu:
    step = record.menu_step or "organisation"
    choices = organisation_choices(deps, record) if step == "organisation" else topic_choices(deps, record)
    return ivr.build_menu(flow=deps.flow_for(record.line_kind), step=step, choices=choices, page=record.menu_page)


def menu_gather(deps: CallDeps, record: CallRecord, *, lead: tuple[Say, ...] = (), first: bool = False,
                reprompt: bool = False) -> Gather:
    flow = deps.flow_for(record.line_kind)
    shown = menu_of(deps, record)
    said = ivr.menu_prompts(flow=flow, menu=shown, language=record.language,
                            first_page_offer=first and shown.page == 0, reprompt=reprompt)
    return Gather(action=Goto.to(Step.MENU, step=shown.step), prompts=(*lead, *said),
                  timeout=flow.timeout_seconds, num_digits=1)


def _key(deps: CallDeps, record: CallRecord, *, step: str, digits: str | None) -> StepResult:
    call_sid = record.sid
    flow = deps.flow_for(record.line_kind)
    shown = menu_of(deps, record)
    press = ivr.read_key(flow=flow, menu=shown, digits=digits, language=record.language)
    now = deps.clock.now()
    detail: dict[str, object] = {"step": step, "page": shown.page}
    kind = ivr.KeyMeaning

    if press.meaning == kind.CHOICE and press.choice:
        return _choose(deps, record, step=step, code=press.choice.code, lead=())
    if press.meaning == kind.MORE:
        record = deps.calls.apply(call_sid, event=EventKind.MENU_CHOICE, at=now, detail={**detail, "choice": "more"},
                                  menu_page=shown.page + 1, menu_tries=0) or record
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
        return _to_person(deps, record, step=step)

    tries = record.menu_tries + 1
    event = EventKind.MENU_NO_INPUT if press.meaning == kind.NO_INPUT else EventKind.MENU_INVALID
    record = deps.calls.apply(call_sid, event=event, at=now, detail={**detail, "try": tries}, menu_tries=tries) or record
    if tries >= flow.max_tries:  # never hang up on silence: a person takes it from here
        return _to_person(deps, record, step=step)
    said = flow.say("no_input" if press.meaning == kind.NO_INPUT else "invalid", record.language)
    return VoiceReply.of(menu_gather(deps, record, lead=(said,), reprompt=True))


def _to_person(deps: CallDeps, record: CallRecord, *, step: str) -> StepResult:
    """Key 0, or tries used up: any liaison of the organisation (the counter's first one if none chosen)."""
    if step == "organisation":
        choices = organisation_choices(deps, record)
        if not choices:
            return goodbye(deps, record, prompt="error", event=EventKind.ERROR, outcome=Outcome.FAILED,
                           detail={"reason": "no organisation connected at this counter"},
                           public_phone=deps.general_public_phone)
        return Next(Step.OPENING, record=record, options={"organisation": choices[0].code, "any_topic": True,
                                                          "by_service": True})
    org = deps.directory.organisation(record.organisation or "")
    flow = deps.flow_for(record.line_kind)
    said = flow.say("to_person", record.language, organisation=org.name if org else "")
    return _choose(deps, record, step=step, code=ANY_TOPIC, lead=(said,))


def _choose(deps: CallDeps, record: CallRecord, *, step: str, code: str, lead: tuple[Say, ...]) -> StepResult:
    if step == "organisation":
        if deps.directory.organisation(code) is None:
            return Stale(record)
        return Next(Step.OPENING, record=record, options={"organisation": code})
    deps.calls.apply(record.sid, event=EventKind.MENU_CHOICE, at=deps.clock.now(),
                     detail={"step": "topic", "choice": code})
    return Next(Step.QUEUE, record=record, lead=lead, options={"topic": code})
