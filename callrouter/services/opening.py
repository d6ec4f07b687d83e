"""Before the queue: is the organisation open, and is anybody of it on duty?"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from callrouter.domain.calls import CallRecord, CallState, EventKind, Outcome
from callrouter.domain.directory import Organisation
from callrouter.domain.voice import Hangup, Say, VoiceReply

if TYPE_CHECKING:
    from callrouter.services.voice import VoiceDeps

DAYS = {"nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
MONTHS = {"nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                 "oktober", "november", "december"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December")}


def spoken_moment(moment: datetime, *, now: datetime, language: str, zone: str) -> str:
    """'vandaag om 08:30', 'morgen om 08:30', or 'maandag 30 november om 08:30'."""
    local, today = moment.astimezone(ZoneInfo(zone)), now.astimezone(ZoneInfo(zone)).date()
    clock = local.strftime("%H:%M")
    lang = "en" if language == "en" else "nl"
    if local.date() == today:
        return f"today at {clock}" if lang == "en" else f"vandaag om {clock}"
    if (local.date() - today).days == 1:
        return f"tomorrow at {clock}" if lang == "en" else f"morgen om {clock}"
    day = f"{DAYS[lang][local.weekday()]} {local.day} {MONTHS[lang][local.month - 1]}"
    return f"{day} at {clock}" if lang == "en" else f"{day} om {clock}"


def _end(deps: VoiceDeps, record: CallRecord, org: Organisation, *, prompt: str, event: EventKind, outcome: Outcome,
         lead: tuple[Say, ...], detail: dict[str, object], **values: object) -> VoiceReply:
    from callrouter.services.voice import _spoken_phone

    now = deps.clock.now()
    flow = deps.flow_for(record.line_kind)
    said = flow.say(prompt, record.language, organisation=org.name, public_phone=_spoken_phone(org.public_phone),
                    **values)
    offer = flow.callbacks and prompt in ("closed", "no_liaison")
    if offer:  # the call stays open while the caller hears the callback offer
        from callrouter.services.callback_flow import offer_when_closed, offer_when_nobody

        updated = deps.calls.apply(record.sid, event=event, at=now, detail={"organisation": org.code, **detail},
                                   state=CallState.CALLBACK, outcome=outcome, organisation=org.code,
                                   menu_tries=0) or record
        make_offer = offer_when_closed if prompt == "closed" else offer_when_nobody
        return make_offer(deps, updated, lead=(*lead, said))
    deps.calls.apply(record.sid, event=event, at=now, detail={"organisation": org.code, **detail},
                     state=CallState.ENDED, outcome=outcome, ended_at=now, organisation=org.code)
    return VoiceReply.of(*lead, said, Hangup())


def closed_reply(deps: VoiceDeps, record: CallRecord, org: Organisation, *, lead: tuple[Say, ...],
                 detail: dict[str, object] | None = None) -> VoiceReply | None:
    """`detail`: more for the `closed` event (e.g. who chose the organisation)."""
    now = deps.clock.now()
    if org.hours.is_open(now, deps.holidays):
        return None
    opening = org.hours.next_opening(now, deps.holidays)
    if opening is None:
        return _end(deps, record, org, prompt="closed_long", event=EventKind.CLOSED, outcome=Outcome.CLOSED,
                    lead=lead, detail={"opens": None, **(detail or {})})
    spoken = spoken_moment(opening, now=now, language=record.language, zone=org.hours.zone)
    return _end(deps, record, org, prompt="closed", event=EventKind.CLOSED, outcome=Outcome.CLOSED, lead=lead,
                detail={"opens": opening.isoformat(), **(detail or {})}, opening=spoken)


def nobody_on_duty(deps: VoiceDeps, record: CallRecord, org: Organisation, *, lead: tuple[Say, ...],
                   detail: dict[str, object] | None = None) -> VoiceReply | None:
    counts = deps.router.presence_counts(org=org.code)
    on_duty = sum(n for status, n in counts.items() if status != "offline")
    if on_duty:
        return None
    return _end(deps, record, org, prompt="no_liaison", event=EventKind.NO_LIAISON, outcome=Outcome.NO_LIAISON,
                lead=lead, detail=detail or {})
