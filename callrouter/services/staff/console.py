"""The liaison console's use cases: own presence, the call on the line, recent calls, outcomes.

Need to know: a liaison sees only calls of their own organisation, records outcomes only for
calls they took, and changes only their own presence. Another organisation's call is NotFound (404),
so its existence is not revealed; a colleague's call of the own organisation is refused naming the field.

Every conversation gets a result: when one ends (a routed call, or a callback's conversation, which has a
call row of its own) the console asks for it while wrap-up runs, and lists the liaison's conversations of
the last `record_within_days` still without one. A callback on the line is shown from its callback row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callrouter.domain.callbacks import Callback, callback_id_of
from callrouter.domain.calls import CallState
from callrouter.domain.directory import Liaison, Organisation
from callrouter.domain.presence import Actor
from callrouter.domain.queueing import Presence
from callrouter.domain.staff import Account, ConversationOutcome, OutcomeChanged, check_outcome
from callrouter.ports.staff import Audio, CallQueries, CallSummary, Outcomes, VoiceMessages
from callrouter.services.calls import consult as consults
from callrouter.services.calls import consult_record
from callrouter.services.calls import transfer as transfers
from callrouter.services.calls.deps import CallDeps
from callrouter.services.errors import CallRouterError, NotFound
from callrouter.services.staff import presence as presence_service
from callrouter.services.staff.presence import PresenceView


@dataclass(frozen=True)
class ConsoleDeps:
    voice: CallDeps
    calls: CallQueries
    outcomes: Outcomes
    outcome_edit_seconds: int = 28800
    # A first outcome may be recorded this long after the conversation (the note retention period: after it
    # the retention job has emptied that period's notes, and a late record is no record of the conversation).
    record_within_days: int = 90
    voice_messages: VoiceMessages | None = None  # None: the console links no voice message (unit tests)


class OutcomeRefused(CallRouterError):
    """An outcome that cannot be recorded now; names the field (call: this conversation; result: the choice)."""

    status = 409
    code = "outcome_refused"


@dataclass(frozen=True)
class CallDetail:
    call: CallSummary
    topic_name: str
    outcome: ConversationOutcome | None
    may_record: bool  # taken by this liaison, answered, and (if recorded) still within the edit window
    editable_until: datetime | None
    callback: Callback | None = None  # a callback on the line (no call row yet), or the one a conversation served

    @property
    def revision(self) -> int:
        """The outcome's revision the form is based on (0: none yet)."""
        return self.outcome.revision if self.outcome else 0


@dataclass(frozen=True)
class ConsoleView:
    liaison: Liaison
    presence: PresenceView
    current: CallDetail | None
    recent: list[CallDetail]
    pending: list[CallDetail] = field(default_factory=list)  # conversations still without an outcome
    ask: CallDetail | None = None  # the one just ended: the console asks for its outcome
    # Where the current call may be transferred (connected at the caller's counter, not the own organisation).
    transfer_targets: tuple[Organisation, ...] = ()
    may_consult: bool = False  # the call is in a conference room: consult and three-way are possible
    consult: consult_record.Consult | None = None  # the current call's latest consult
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


def _record_until(deps: ConsoleDeps, call: CallSummary) -> datetime | None:
    ended = call.ended_at or call.answered_at
    return ended + timedelta(days=deps.record_within_days) if ended else None


def _detail(deps: ConsoleDeps, liaison: Liaison, call: CallSummary) -> CallDetail:
    outcome = deps.outcomes.get(call.sid)
    mine = call.liaison_id == liaison.id and call.answered_at is not None
    now = deps.voice.clock.now()
    until = outcome.editable_until(deps.outcome_edit_seconds) if outcome else None
    if outcome is None:
        last = _record_until(deps, call)
        open_ = last is None or now <= last
    else:
        open_ = outcome.liaison_id == liaison.id and now <= (until or outcome.recorded_at)
    served = deps.voice.callbacks.get(call.callback_id) if call.callback_id else None
    return CallDetail(call, topic_name(deps, call), outcome, mine and open_, until, served)


def _callback_on_line(deps: ConsoleDeps, liaison: Liaison, member: str) -> CallDetail | None:
    """A callback on the liaison's line (presence holds `cb:<id>`): shown from its row until its conversation
    has a call row of its own (written when it is over)."""
    callback_id = callback_id_of(member)
    callback = deps.voice.callbacks.get(callback_id) if callback_id is not None else None
    if callback is None or callback.organisation != liaison.organisation:
        return None
    directory = deps.voice.directory
    location = directory.location(callback.location or "")
    caseworker = directory.caseworker(callback.caseworker_id) if callback.caseworker_id else None
    summary = CallSummary(sid=member, state="callback", organisation=callback.organisation, topic=callback.topic,
                          location_name=location.name if location else None,
                          caseworker_name=caseworker.name if caseworker else None, liaison_id=callback.liaison_id,
                          received_at=callback.created_at, queued_at=callback.place_at,
                          offered_at=callback.attempt_started_at, answered_at=None, ended_at=None,
                          callback_id=callback.id)
    return CallDetail(summary, topic_name(deps, summary), None, False, None, callback)


def call_detail(deps: ConsoleDeps, *, liaison: Liaison, sid: str) -> CallDetail:
    call = deps.calls.call(sid)
    if call is None or call.organisation != liaison.organisation:
        raise NotFound("no such call")
    return _detail(deps, liaison, call)


def console_view(deps: ConsoleDeps, *, liaison: Liaison, recent: int = 10) -> ConsoleView:
    presence = presence_service.get_presence(deps.voice, liaison_id=liaison.id, organisation_scope=liaison.organisation)
    current = None
    if presence.call_sid and callback_id_of(presence.call_sid) is not None:
        current = _callback_on_line(deps, liaison, presence.call_sid)
    elif presence.call_sid:
        call = deps.calls.call(presence.call_sid)
        if call is not None and call.organisation == liaison.organisation:
            current = _detail(deps, liaison, call)
    calls = [_detail(deps, liaison, c) for c in deps.calls.calls_of_liaison(liaison.id, limit=recent)]
    since = deps.voice.clock.now() - timedelta(days=deps.record_within_days)
    pending = [d for d in (_detail(deps, liaison, c) for c in deps.calls.without_outcome(liaison.id, since=since))
               if d.may_record]
    ask = pending[0] if pending and current is None else None  # the newest, once the liaison is off the line
    targets: tuple[Organisation, ...] = ()
    consult: consult_record.Consult | None = None
    with_name = ""
    if current is not None:
        record = deps.voice.calls.get(current.call.sid)
        if record is not None and record.state == CallState.CONNECTED and record.liaison_id == liaison.id:
            targets = tuple(transfers.transfer_targets(deps.voice, record=record))
            consult = consult_record.current(deps.voice, record)
            if consult is not None and consult.by != liaison.id:
                consult = None
            org = deps.voice.directory.organisation(consult.to_organisation) if consult else None
            with_name = org.name if org else (consult.to_organisation if consult else "")
    return ConsoleView(liaison, presence, current, calls, pending=pending, ask=ask, transfer_targets=targets,
                       may_consult=deps.voice.bridge == "conference", consult=consult, consult_with=with_name)


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
                   referred_organisation: str | None, note: str, expect_revision: int | None = None) -> ConversationOutcome:
    """Record or change the outcome of a conversation this liaison had. Raises NotFound (unknown, another
    organisation's, or deleted by retention), OutcomeRefused naming the field, or OutcomeInvalid. `expect_revision`:
    the outcome's revision the form showed (0: none); another one now means it was recorded meanwhile."""
    detail = call_detail(deps, liaison=liaison, sid=sid)
    if detail.call.liaison_id != liaison.id or detail.call.answered_at is None:
        raise OutcomeRefused("U voerde dit gesprek niet: alleen wie het gesprek voerde, legt de uitkomst vast.",
                             field="call")
    if expect_revision is not None and detail.revision != expect_revision:
        raise _recorded_meanwhile()
    if not detail.may_record:
        if detail.outcome is None:
            raise OutcomeRefused(f"Dit gesprek is meer dan {deps.record_within_days} dagen geleden: de bewaartermijn "
                                 "is voorbij, een uitkomst vastleggen kan niet meer.", field="call")
        raise OutcomeRefused("De uitkomst van dit gesprek kan niet meer worden gewijzigd.", field="call")
    known = {org.code for org in deps.voice.directory.all_organisations()}
    chosen, referred, clean_note = check_outcome(result=result, referred_organisation=referred_organisation,
                                                 note=note, own_organisation=liaison.organisation,
                                                 known_organisations=known)
    try:
        saved = deps.outcomes.save(call_sid=sid, liaison_id=liaison.id, result=chosen, referred_organisation=referred,
                                   note=clean_note, at=deps.voice.clock.now(), by=account.id,
                                   expect_revision=detail.revision if expect_revision is None else expect_revision)
    except OutcomeChanged:
        raise _recorded_meanwhile() from None
    except LookupError:  # deleted between reading and saving (the retention job)
        raise NotFound("no such call") from None
    presence_service.end_wrap_up(deps.voice, liaison_id=liaison.id, actor=Actor.LIAISON)  # the outcome ends wrap-up
    return saved


def _recorded_meanwhile() -> OutcomeRefused:
    return OutcomeRefused("Er is net een uitkomst voor dit gesprek opgeslagen (misschien in een ander venster). "
                          "Bekijk die en wijzig hem zo nodig.", field="result")


def waited_text(seconds: float | None) -> str:
    if seconds is None:
        return "onbekend"
    whole = int(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"



def voice_message(deps: ConsoleDeps, *, liaison: Liaison, callback_id: int) -> Audio:
    """The voice message of a callback of the liaison's organisation, fetched from Twilio; NotFound for another
    organisation's callback, one without a message, or one whose recording is gone (the retention job)."""
    callback = deps.voice.callbacks.get(callback_id)
    if callback is None or callback.organisation != liaison.organisation or not callback.voice_message_url:
        raise NotFound("no such voice message")
    audio = deps.voice_messages.audio(callback.voice_message_url) if deps.voice_messages is not None else None
    if audio is None:
        raise NotFound("no such voice message")
    return audio
