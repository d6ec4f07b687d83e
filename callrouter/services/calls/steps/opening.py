"""An organisation was chosen: is it open, and is anybody of it on duty? Then its topic menu or the queue.

Closed or nobody on duty: the caller hears so (with the public number), and a callback is offered
where the line offers callbacks; otherwise the call ends there.
"""

from __future__ import annotations

from callrouter.domain.call_flow import Step
from callrouter.domain.calls import ANY_TOPIC, CallMove, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.directory import Organisation
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Hangup, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import spoken_moment, spoken_phone
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult


def opening(deps: CallDeps, given: StepInput) -> StepResult:
    """`by_service`: the service chose (one organisation at the counter, or `0` / tries used up), not a key;
    the events say so ("by": "service"), so the menu figures do not count it as the caller's choice."""
    record = given.record or deps.calls.get(given.call_sid)
    org = deps.directory.organisation(str(given.option("organisation", "")))
    if record is None or record.state != CallState.MENU or org is None:
        return Stale(record)
    lead = given.lead
    by: dict[str, object] = {"by": "service"} if given.flag("by_service") else {}
    ended = _closed(deps, record, org, lead=lead, detail=by) or _nobody_on_duty(deps, record, org, lead=lead, detail=by)
    if ended is not None:
        return ended
    record = deps.calls.apply(record.sid, event=EventKind.MENU_CHOICE, at=deps.clock.now(),
                              detail={"step": "organisation", "choice": org.code, **by}, menu_step="topic",
                              menu_page=0, menu_tries=0, organisation=org.code) or record
    any_topic = given.flag("any_topic")
    if any_topic or len(org.topics) <= 1:
        topic = org.topics[0].code if (len(org.topics) == 1 and not any_topic) else ANY_TOPIC
        flow = deps.flow_for(record.line_kind)
        said = flow.say("to_person", record.language, organisation=org.name) if topic == ANY_TOPIC else None
        return Next(Step.QUEUE, record=record, lead=(*lead, *((said,) if said else ())), options={"topic": topic})
    return Next(Step.MENU, record=record, lead=lead, options={"ask": True, "first": bool(lead)})


def _closed(deps: CallDeps, record: CallRecord, org: Organisation, *, lead: tuple[Say, ...],
            detail: dict[str, object]) -> StepResult | None:
    now = deps.clock.now()
    if org.hours.is_open(now, deps.holidays):
        return None
    opens = org.hours.next_opening(now, deps.holidays)
    if opens is None:
        return _turned_away(deps, record, org, prompt="closed_long", event=EventKind.CLOSED, outcome=Outcome.CLOSED,
                            lead=lead, detail={"opens": None, **detail})
    spoken = spoken_moment(opens, now=now, language=record.language, zone=org.hours.zone)
    return _turned_away(deps, record, org, prompt="closed", event=EventKind.CLOSED, outcome=Outcome.CLOSED, lead=lead,
                        detail={"opens": opens.isoformat(), **detail}, opening=spoken)


def _nobody_on_duty(deps: CallDeps, record: CallRecord, org: Organisation, *, lead: tuple[Say, ...],
                    detail: dict[str, object]) -> StepResult | None:
    counts = deps.router.presence_counts(org=org.code)
    if sum(n for status, n in counts.items() if status != Presence.OFFLINE):
        return None
    # The router's live state may be gone (Redis lost it in a failover, and the reconciler has not rebuilt it
    # yet): a caller is told nobody is on duty only when the record says so too (read as the rebuild reads it:
    # a liaison no longer in the directory does not count).
    if any(o == org.code and status != Presence.OFFLINE and deps.directory.liaison(liaison_id) is not None
           for liaison_id, o, status, _since in deps.presence.all()):
        return None
    return _turned_away(deps, record, org, prompt="no_liaison", event=EventKind.NO_LIAISON,
                        outcome=Outcome.NO_LIAISON, lead=lead, detail=detail)


def _turned_away(deps: CallDeps, record: CallRecord, org: Organisation, *, prompt: str, event: EventKind,
                 outcome: Outcome, lead: tuple[Say, ...], detail: dict[str, object], **values: object) -> StepResult:
    now = deps.clock.now()
    flow = deps.flow_for(record.line_kind)
    said = flow.say(prompt, record.language, organisation=org.name, public_phone=spoken_phone(org.public_phone),
                    **values)
    if flow.callbacks and prompt in ("closed", "no_liaison"):  # the call stays open for the callback offer
        updated = deps.calls.apply(record.sid, event=event, at=now, move=CallMove.ARRANGE_CALLBACK,
                                   detail={"organisation": org.code, **detail}, outcome=outcome,
                                   organisation=org.code, menu_tries=0) or record
        return Next(Step.CALLBACK_DIALOGUE, record=updated, lead=(*lead, said),
                    choice="offer_closed" if prompt == "closed" else "offer_nobody")
    deps.calls.apply(record.sid, event=event, at=now, move=CallMove.END, detail={"organisation": org.code, **detail},
                     outcome=outcome, ended_at=now, organisation=org.code)
    return VoiceReply.of(*lead, said, Hangup())
