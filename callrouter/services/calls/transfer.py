"""A liaison hands the call on the line to another organisation (docs/transfer.md).

Blind transfer: checked first (the call is this liaison's and connected, the caller still there, the other
organisation connected at the caller's counter, not the liaison's own, open, somebody on duty); then one SQL
move (`transfer`: connected -> queued for the other organisation, its original queue time kept, a
`transferred` event naming both organisations), the liaison released as after a conversation, and the
caller redirected to hear "U wordt doorverbonden met ..." and wait in the other organisation's line. The
move is allowed once per answer, so two clicks (or two tabs) transfer once.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.callbacks import CallbackOrigin
from callrouter.domain.calls import ANY_TOPIC, CallMove, CallRecord, CallState, EventKind, TransferKind
from callrouter.domain.directory import Organisation
from callrouter.domain.queueing import Presence
from callrouter.services.callbacks import lifecycle as callbacks
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms, spoken_moment
from callrouter.services.errors import Conflict

log = logging.getLogger("callrouter.transfer")


class Refusal(enum.StrEnum):
    NOT_YOUR_CALL = "not_your_call"
    CALLER_GONE = "caller_gone"
    OWN_ORGANISATION = "own_organisation"
    NOT_CONNECTED = "not_connected"
    UNKNOWN_TOPIC = "unknown_topic"
    CLOSED = "closed"
    NOBODY_ON_DUTY = "nobody_on_duty"
    ALREADY_MOVING = "already_moving"


class TransferRefused(Conflict):
    """A transfer the service will not make; `message` is for the liaison to read (and say to the caller)."""

    def __init__(self, reason: Refusal, message: str, *, offer_callback: bool = False) -> None:
        super().__init__(message, field="organisation")
        self.reason = reason
        self.offer_callback = offer_callback


@dataclass(frozen=True)
class Transferred:
    call_sid: str
    from_organisation: str
    to_organisation: str
    to_topic: str


def transfer_targets(deps: CallDeps, *, record: CallRecord) -> list[Organisation]:
    """The organisations this call may be transferred to: connected at the caller's counter, not its own."""
    return [org for org in deps.directory.organisations_at(record.location or "") if org.code != record.organisation]


def check_blind_transfer(deps: CallDeps, *, liaison_id: int, call_sid: str, to_organisation: str,
                         to_topic: str | None = None) -> tuple[CallRecord, Organisation, str]:
    """The call, the organisation and the topic of a transfer that may be made now; TransferRefused otherwise."""
    record = deps.calls.get(call_sid)
    if record is None:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    if record.state == CallState.ENDED:
        raise TransferRefused(Refusal.CALLER_GONE, "De beller heeft al opgehangen.")
    if record.state == CallState.QUEUED and _transferred_by(deps, record, liaison_id):
        raise TransferRefused(Refusal.ALREADY_MOVING, "Dit gesprek wordt al doorverbonden.")
    if record.state != CallState.CONNECTED or record.liaison_id != liaison_id:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    if to_organisation == record.organisation:
        raise TransferRefused(Refusal.OWN_ORGANISATION, "Dit is uw eigen organisatie: kies een andere organisatie.")
    location = deps.directory.location(record.location or "")
    target = next((o for o in transfer_targets(deps, record=record) if o.code == to_organisation), None)
    if target is None:
        known = deps.directory.organisation(to_organisation)
        where = f"loket {location.name}" if location else "dit loket"
        name = known.name if known else to_organisation
        raise TransferRefused(Refusal.NOT_CONNECTED, f"{name} is niet aangesloten bij {where}.")
    topic = to_topic or ANY_TOPIC
    if topic != ANY_TOPIC and target.topic(topic) is None:
        raise TransferRefused(Refusal.UNKNOWN_TOPIC, f"{target.name} kent dit onderwerp niet: kies een ander.")
    now = deps.clock.now()
    if not target.hours.is_open(now, deps.holidays):
        opens = target.hours.next_opening(now, deps.holidays)
        when = spoken_moment(opens, now=now, language="nl", zone=target.hours.zone) if opens else None
        raise TransferRefused(Refusal.CLOSED, f"{target.name} is nu gesloten" + (
            f"; weer open {when}." if when else "; wanneer het weer opengaat is niet bekend."), offer_callback=True)
    counts = deps.router.presence_counts(org=target.code)
    if not sum(n for status, n in counts.items() if status != Presence.OFFLINE):
        raise TransferRefused(Refusal.NOBODY_ON_DUTY,
                              f"Er is nu niemand van {target.name} aan het werk. Bied de beller aan om "
                              f"teruggebeld te worden door {target.name}.", offer_callback=True)
    return record, target, topic


def callback_by_other(deps: CallDeps, *, liaison_id: int, call_sid: str, to_organisation: str,
                      to_topic: str | None = None) -> str:
    """Instead of a transfer the other organisation cannot take now (closed, nobody on duty): it calls the
    caseworker back on their registered number (at its next opening when closed), keeping their place in its
    line from now. The call goes on with this liaison. The message to show; TransferRefused otherwise."""
    try:
        check_blind_transfer(deps, liaison_id=liaison_id, call_sid=call_sid, to_organisation=to_organisation,
                             to_topic=to_topic)
    except TransferRefused as refused:
        if refused.reason not in (Refusal.CLOSED, Refusal.NOBODY_ON_DUTY):
            raise
    else:
        raise TransferRefused(Refusal.ALREADY_MOVING, "Die organisatie kan het gesprek nu aannemen: verbind door.")
    # Refused only for being closed or unstaffed: the call is this liaison's, the organisation and topic fit.
    record = deps.calls.get(call_sid)
    target = deps.directory.organisation(to_organisation)
    if record is None or target is None:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "U bent niet in gesprek met deze beller.")
    topic = to_topic or ANY_TOPIC
    caseworker = deps.directory.caseworker(record.caseworker_id) if record.caseworker_id else None
    if caseworker is None or not caseworker.phone_numbers:
        raise TransferRefused(Refusal.NOT_YOUR_CALL, "Deze beller heeft geen vast nummer bij ons: terugbellen "
                                                      "door een andere organisatie kan niet.")
    now = deps.clock.now()
    opens = None if target.hours.is_open(now, deps.holidays) else target.hours.next_opening(now, deps.holidays)
    there = replace(record, organisation=target.code, topic=topic, queued_at=now)
    callback, _ = callbacks.request_callback(deps, record=there, origin=CallbackOrigin.CLOSED if opens
                                             else CallbackOrigin.NO_LIAISON, phone_number=caseworker.phone_numbers[0],
                                             due_at=opens)
    deps.calls.apply(record.sid, event=EventKind.CALLBACK_BY_OTHER, at=now,
                     detail={"to_organisation": target.code, "to_topic": topic, "callback": callback.id,
                             "liaison": liaison_id}, dedupe=f"callback_by:{target.code}:{topic}")
    when = spoken_moment(opens, now=now, language="nl", zone=target.hours.zone) if opens else "zodra er iemand is"
    return f"{target.name} belt {caseworker.name} terug op het vaste nummer, {when}."


def _transferred_by(deps: CallDeps, record: CallRecord, liaison_id: int) -> bool:
    return any(e.kind == EventKind.TRANSFERRED and e.detail.get("liaison") == liaison_id
               for e in deps.calls.events(record.sid))


def blind_transfer(deps: CallDeps, *, liaison_id: int, call_sid: str, to_organisation: str,
                   to_topic: str | None = None) -> Transferred:
    """Hand the caller to another organisation's line at their original queue time; TransferRefused with a reason."""
    record, target, topic = check_blind_transfer(deps, liaison_id=liaison_id, call_sid=call_sid,
                                                 to_organisation=to_organisation, to_topic=to_topic)
    now = deps.clock.now()
    from_org = record.organisation or ""
    detail: dict[str, object] = {"kind": TransferKind.BLIND.value, "from_organisation": from_org,
                                 "from_topic": record.topic, "to_organisation": target.code, "to_topic": topic,
                                 "liaison": liaison_id}
    answered = ms(record.answered_at) if record.answered_at else 0
    moved = deps.calls.apply(record.sid, event=EventKind.TRANSFERRED, at=now, move=CallMove.TRANSFER, detail=detail,
                             dedupe=f"transfer:{liaison_id}:{answered}", organisation=target.code, topic=topic,
                             liaison_id=None, offered_at=None)
    if moved is None:  # a second click, another tab, or the call changed meanwhile
        raise TransferRefused(Refusal.ALREADY_MOVING, "Dit gesprek wordt al doorverbonden.")
    release_after_conversation(deps, liaison_id=liaison_id, org=from_org, call_sid=record.sid)
    try:
        deps.telephony.redirect(call_sid=record.sid, to=Goto.to(Step.TRANSFERRED))
    except Exception as exc:  # noqa: BLE001 - the caller is gone (the liaison is already free); the caller's own
        # status report ends the call (it comes after the hang-up that made the redirect fail)
        log.info("voice.transfer_redirect_failed call_sid=%s error=%s", record.sid, type(exc).__name__)
        raise TransferRefused(Refusal.CALLER_GONE, "De beller heeft al opgehangen.") from exc
    log.info("voice.transferred call_sid=%s from=%s to=%s topic=%s kind=blind", record.sid, from_org, target.code,
             topic)
    return Transferred(record.sid, from_org, target.code, topic)


def release_after_conversation(deps: CallDeps, *, liaison_id: int, org: str, call_sid: str) -> None:
    """As after a conversation: wrap-up (ended by a timer) or available; routing for the freed liaison."""
    now = deps.clock.now()
    after = Presence.WRAP_UP if deps.wrap_up_seconds else Presence.AVAILABLE
    released = deps.router.release_liaison(liaison_id=liaison_id, org=org, status=after, now_ms=ms(now),
                                           call_sid=call_sid)
    deps.presence.save(liaison_id=liaison_id, organisation=org, status=after, since=now)
    if released.accepted and after == Presence.WRAP_UP:
        deps.jobs.end_wrap_up_at(liaison_id=liaison_id, at=now + timedelta(seconds=deps.wrap_up_seconds))
    deps.after.route(org=org)
