"""Words several steps say: phone numbers read aloud, topic names, moments ('morgen om 08:30'), goodbyes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callrouter.domain.calls import ANY_TOPIC, CallMove, CallRecord, EventKind, Outcome
from callrouter.domain.directory import Line
from callrouter.domain.voice import Hangup, VoiceReply
from callrouter.services.calls.deps import CallDeps

DAYS = {"nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
        "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
MONTHS = {"nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                 "oktober", "november", "december"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December")}


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def spoken_phone(number: str) -> str:
    """+31880430430 -> 088 043 0430, read digit by digit by the voice."""
    if number.startswith("+31"):
        number = "0" + number[3:]
    return " ".join(number[i : i + 3] for i in range(0, len(number), 3))


def public_phone(deps: CallDeps, record: CallRecord | None, line: Line | None = None) -> str:
    org_code = (record.organisation if record else None) or (
        line.organisations[0] if line and len(line.organisations) == 1 else None)
    org = deps.directory.organisation(org_code) if org_code else None
    return spoken_phone(org.public_phone) if org else deps.general_public_phone


def topic_name(deps: CallDeps, *, organisation: str | None, topic: str | None, language: str) -> str:
    org = deps.directory.organisation(organisation or "")
    if org is None or topic in (None, ANY_TOPIC):
        return "een algemene vraag" if language == "nl" else "a general question"
    found = org.topic(topic or "")
    if found is None:
        return topic or ""
    return found.name_en if language == "en" else found.name_nl


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


def goodbye(deps: CallDeps, record: CallRecord, *, prompt: str, event: EventKind, outcome: Outcome,
            detail: dict[str, object] | None = None, **values: object) -> VoiceReply:
    """Say `prompt` and end the call there (refused, locked out, an error before the queue)."""
    flow = deps.flow_for(record.line_kind)
    now = deps.clock.now()
    deps.calls.apply(record.sid, event=event, at=now, move=CallMove.END, detail=detail, outcome=outcome, ended_at=now)
    return VoiceReply.of(flow.say(prompt, record.language, **values), Hangup())
