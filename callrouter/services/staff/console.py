"""The liaison console's use cases: own presence, the call on the line, recent calls, outcomes.

Need to know: a liaison sees only calls of their own organisation, records outcomes only for
calls they took, and changes only their own presence. Anything else is NotFound (404), so the
existence of other organisations' calls is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callrouter.domain.calls import CallState
from callrouter.domain.directory import Liaison, Organisation
from callrouter.domain.presence import Actor
from callrouter.domain.queueing import Presence
from callrouter.domain.staff import Account, ConversationOutcome, check_outcome
from callrouter.ports.staff import CallQueries, CallSummary, Outcomes
from callrouter.services.calls import consult as consults
from callrouter.services.calls import transfer as transfers
from callrouter.services.calls.deps import CallDeps
from callrouter.services.errors import CallRouterError, Conflict, NotFound
from callrouter.services.staff import presence as presence_service
from callrouter.services.staff.presence import PresenceView


@dataclass(frozen=True)
class ConsoleDeps:
    voice: CallDeps
    calls: CallQueries
    outcomes: Outcomes
    outcome_edit_seconds: int = 28800


@dataclass(frozen=True)
class CallDetail:
    call: CallSummary
    topic_name: str
    outcome: ConversationOutcome | None
    may_record: bool  # taken by this liaison, answered, and (if recorded) still within the edit window
    editable_until: datetime | None


@dataclass(frozen=True)
class ConsoleView:
    liaison: Liaison
    presence: PresenceView
    current: CallDetail | None
    recent: list[CallDetail]
    # Where the current call may be transferred (connected at the caller's counter, not the own organisation).
    transfer_targets: tuple[Organisation, ...] = ()
    may_consult: bool = False  # the call is in a conference room: consult and three-way are possible
    consult: consults.Consult | None = None  # the current call's latest consult
    consult_with: str = ""  # the consulted organisation's name


def liaison_of(deps: ConsoleDeps, account: Account) -> Liaison:
    """The directory liaison this account acts as; NotFound when it has no (valid) liaison grant."""
    grant = account.liaison_grant()
    liaison = deps.voice.directory.liaison(grant.liaison_id) if grant and grant.liaison_id is not None else None
    if grant is None or liaison is None or liaison.organisation != grant.organisation:
        raise NotFound("no liaison for this account")
    return liaison


def topic_name(deps: ConsoleDeps, call: CallSummary) -> str:
    if not call.topic or call.topic == "*":
        return "geen onderwerp gekozen"
    org = deps.voice.directory.organisation(call.organisation or "")
    topic = org.topic(call.topic) if org else None
    return topic.name_nl if topic else call.topic


def _detail(deps: ConsoleDeps, liaison: Liaison, call: CallSummary) -> CallDetail:
    outcome = deps.outcomes.get(call.sid)
    mine = call.liaison_id == liaison.id and call.answered_at is not None
    until = outcome.editable_until(deps.outcome_edit_seconds) if outcome else None
    open_ = outcome is None or (outcome.liaison_id == liaison.id and deps.voice.clock.now() <= (until or outcome.recorded_at))
    return CallDetail(call, topic_name(deps, call), outcome, mine and open_, until)


def call_detail(deps: ConsoleDeps, *, liaison: Liaison, sid: str) -> CallDetail:
    call = deps.calls.call(sid)
    if call is None or call.organisation != liaison.organisation:
        raise NotFound("no such call")
    return _detail(deps, liaison, call)


def console_view(deps: ConsoleDeps, *, liaison: Liaison, recent: int = 10) -> ConsoleView:
    presence = presence_service.get_presence(deps.voice, liaison_id=liaison.id, organisation_scope=liaison.organisation)
    current = None
    if presence.call_sid:
        call = deps.calls.call(presence.call_sid)
        if call is not None and call.organisation == liaison.organisation:
            current = _detail(deps, liaison, call)
    calls = [_detail(deps, liaison, c) for c in deps.calls.calls_of_liaison(liaison.id, limit=recent)]
    targets: tuple[Organisation, ...] = ()
    consult: consults.Consult | None = None
    with_name = ""
    if current is not None:
        record = deps.voice.calls.get(current.call.sid)
        if record is not None and record.state == CallState.CONNECTED and record.liaison_id == liaison.id:
            targets = tuple(transfers.transfer_targets(deps.voice, record=record))
            consult = consults.current(deps.voice, record)
            if consult is not None and consult.by != liaison.id:
                consult = None
            org = deps.voice.directory.organisation(consult.to_organisation) if consult else None
            with_name = org.name if org else (consult.to_organisation if consult else "")
    return ConsoleView(liaison, presence, current, calls, targets, deps.voice.bridge == "conference", consult,
                       with_name)


def consult_action(deps: ConsoleDeps, *, liaison: Liaison, sid: str, action: str) -> str:
    """Complete the consult (the caller goes on with the other liaison), take the caller back, or all three talk."""
    if action == "complete":
        return consults.complete(deps.voice, liaison_id=liaison.id, call_sid=sid)
    if action == "cancel":
        return consults.cancel(deps.voice, liaison_id=liaison.id, call_sid=sid)
    if action == "three_way":
        return consults.three_way(deps.voice, liaison_id=liaison.id, call_sid=sid)
    raise CallRouterError("Kies wat er met het overleg moet gebeuren.", field="action")


def transfer_call(deps: ConsoleDeps, *, liaison: Liaison, sid: str, organisation: str, topic: str,
                  callback: bool = False, consult: bool = False) -> str:
    """Blind transfer of the liaison's current call (or, `callback`, a callback by that organisation instead);
    the message to show. Raises TransferRefused with a reason the liaison can read (and say), or
    CallRouterError for a form without an organisation."""
    if not organisation:
        raise CallRouterError("Kies de organisatie om naar door te verbinden.", field="organisation")
    chosen_topic: str | None = None
    if topic:
        topic_org, _, code = topic.partition(":")
        if topic_org != organisation or not code:
            raise transfers.TransferRefused(transfers.Refusal.UNKNOWN_TOPIC,
                                            "Dit onderwerp hoort niet bij de gekozen organisatie: kies een ander.")
        chosen_topic = code
    if consult:
        return consults.start(deps.voice, liaison_id=liaison.id, call_sid=sid, to_organisation=organisation,
                              to_topic=chosen_topic)
    if callback:
        return transfers.callback_by_other(deps.voice, liaison_id=liaison.id, call_sid=sid,
                                           to_organisation=organisation, to_topic=chosen_topic)
    done = transfers.blind_transfer(deps.voice, liaison_id=liaison.id, call_sid=sid, to_organisation=organisation,
                                    to_topic=chosen_topic)
    org = deps.voice.directory.organisation(done.to_organisation)
    name = org.name if org else done.to_organisation
    return f"Doorverbonden met {name}. De beller hoort dit en wacht vooraan in de rij van {name}."


def set_own_presence(deps: ConsoleDeps, *, liaison: Liaison, target_liaison_id: int, status: str) -> PresenceView:
    if target_liaison_id != liaison.id:
        raise NotFound("no such liaison")
    try:
        chosen = Presence(status)
    except ValueError:
        raise CallRouterError("Kies een beschikbaarheid.", field="status") from None
    if chosen not in presence_service.SETTABLE:
        raise CallRouterError("Kies een beschikbaarheid.", field="status")
    return presence_service.set_presence(deps.voice, liaison_id=liaison.id, status=chosen,
                                         organisation_scope=liaison.organisation)


def record_outcome(deps: ConsoleDeps, *, account: Account, liaison: Liaison, sid: str, result: str,
                   referred_organisation: str | None, note: str) -> ConversationOutcome:
    """Record or change the outcome of a call this liaison took; raises NotFound, Conflict or OutcomeInvalid."""
    detail = call_detail(deps, liaison=liaison, sid=sid)
    if detail.call.liaison_id != liaison.id or detail.call.answered_at is None:
        raise NotFound("no such call")
    if not detail.may_record:
        raise Conflict("De uitkomst van dit gesprek kan niet meer worden gewijzigd.")
    known = {org.code for org in deps.voice.directory.all_organisations()}
    chosen, referred, clean_note = check_outcome(result=result, referred_organisation=referred_organisation,
                                                 note=note, own_organisation=liaison.organisation,
                                                 known_organisations=known)
    saved = deps.outcomes.save(call_sid=sid, liaison_id=liaison.id, result=chosen, referred_organisation=referred,
                               note=clean_note, at=deps.voice.clock.now(), by=account.id)
    presence_service.end_wrap_up(deps.voice, liaison_id=liaison.id, actor=Actor.LIAISON)  # the outcome ends wrap-up
    return saved


def waited_text(seconds: float | None) -> str:
    if seconds is None:
        return "onbekend"
    whole = int(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"

