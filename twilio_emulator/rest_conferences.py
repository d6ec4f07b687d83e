"""The Conferences and Participants REST resources (2010-04-01), at the paths the twilio library uses."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .calls import StatusCallbackSpec
from .conference import Conference, Participant, label_problem
from .conference_callbacks import conference_events
from .conference_legs import add_participant, announce
from .engine import Engine
from .rest import check_auth, engine_of, not_found, one, page, page_size_of, read_form, twilio_error
from .webhooks import API_VERSION

router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}")
_CONFERENCE_SID = re.compile(r"^CF[0-9a-fA-F]{32}$")
# The emulator's code for a parameter Twilio would refuse without a documented code of its own.
INVALID_PARAMETER = 20001


class BadParameter(Exception):
    def __init__(self, message: str, code: int = INVALID_PARAMETER) -> None:
        super().__init__(message)
        self.code = code


def _bool(form: dict[str, list[str]], key: str) -> bool | None:
    """A true/false parameter; absent: None. Twilio: "Anything value other than true or false is interpreted as false"."""
    value = one(form, key)
    if value is None or value == "":
        return None
    return value.strip().lower() == "true"


def conference_resource(engine: Engine, conference: Conference) -> dict[str, Any]:
    clock = engine.clock
    base = f"/{API_VERSION}/Accounts/{engine.config.account_sid}/Conferences/{conference.sid}"
    return {
        "account_sid": engine.config.account_sid,
        "api_version": API_VERSION,
        "call_sid_ending_conference": conference.call_sid_ending,
        "date_created": clock.rfc2822(conference.created_at),
        "date_updated": clock.rfc2822(conference.updated_at),
        "friendly_name": conference.friendly_name,
        "reason_conference_ended": conference.reason_ended,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "subresource_uris": {"participants": f"{base}/Participants.json", "recordings": f"{base}/Recordings.json"},
        "uri": f"{base}.json",
    }


def participant_resource(engine: Engine, conference: Conference, p: Participant) -> dict[str, Any]:
    clock = engine.clock
    status = p.status
    if status in ("queued", "connecting"):
        status = {"queued": "queued", "ringing": "ringing"}.get(p.call.status, "connecting")
    return {
        "account_sid": engine.config.account_sid,
        "call_sid": p.sid,
        "call_sid_to_coach": p.call_sid_to_coach,
        "coaching": p.coaching,
        "conference_sid": conference.sid,
        "date_created": clock.rfc2822(p.created_at),
        "date_updated": clock.rfc2822(p.updated_at),
        "end_conference_on_exit": p.end_conference_on_exit,
        "hold": p.hold,
        "label": p.label,
        "muted": p.muted,
        "queue_time": str(p.queue_time_ms),
        "start_conference_on_enter": p.start_conference_on_enter,
        "status": status,
        "uri": f"/{API_VERSION}/Accounts/{engine.config.account_sid}/Conferences/{conference.sid}/Participants/"
               f"{p.sid}.json",
    }


def _conference(engine: Engine, sid: str) -> Conference | None:
    return engine.conferences.get(sid)


def _room(request: Request, account_sid: str, sid: str) -> Conference | JSONResponse:
    """The conference the path names by its SID, or the error to answer (401, 404)."""
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    conference = _conference(engine_of(request), sid)
    return conference if conference is not None else not_found(request)


# Conferences --------------------------------------------------------------------------------
@router.get("/Conferences.json")
async def list_conferences(account_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    q = request.query_params
    found = list(engine.conferences.values())
    if q.get("FriendlyName"):
        found = [c for c in found if c.friendly_name == q["FriendlyName"]]
    if q.get("Status"):
        found = [c for c in found if c.status == q["Status"]]
    found.reverse()  # newest first
    return page("conferences", [conference_resource(engine, c) for c in found],
                f"/{API_VERSION}/Accounts/{account_sid}/Conferences.json", page_size_of(request))


@router.get("/Conferences/{sid}.json")
async def fetch_conference(account_sid: str, sid: str, request: Request) -> JSONResponse:
    engine = engine_of(request)
    conference = _room(request, account_sid, sid)
    if isinstance(conference, JSONResponse):
        return conference
    return JSONResponse(conference_resource(engine, conference))


@router.post("/Conferences/{sid}.json")
async def update_conference(account_sid: str, sid: str, request: Request) -> JSONResponse:
    """Status=completed ends the conference ("conference-ended-via-api"); AnnounceUrl plays to every participant."""
    engine = engine_of(request)
    conference = _room(request, account_sid, sid)
    if isinstance(conference, JSONResponse):
        return conference
    form = await read_form(request)
    status, announce_url = one(form, "Status"), one(form, "AnnounceUrl")
    if status and status != "completed":
        return twilio_error(400, INVALID_PARAMETER, f"Invalid Status: {status}; only 'completed' is allowed")
    if status == "completed":
        # Twilio docs unclear: ending a conference that has already ended; it is returned unchanged.
        conference.end("conference-ended-via-api")
    elif announce_url:
        if conference.status == "completed":
            return twilio_error(400, INVALID_PARAMETER, "The conference has ended")
        announce(engine, conference, None, announce_url, (one(form, "AnnounceMethod") or "POST").upper())
    return JSONResponse(conference_resource(engine, conference))


# Participants -------------------------------------------------------------------------------
@router.get("/Conferences/{sid}/Participants.json")
async def list_participants(account_sid: str, sid: str, request: Request) -> JSONResponse:
    engine = engine_of(request)
    conference = _room(request, account_sid, sid)
    if isinstance(conference, JSONResponse):
        return conference
    q = request.query_params
    found = list(conference.participants) if conference.status != "completed" else []
    for param, attr in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching")):
        if q.get(param):
            wanted = q[param].lower() == "true"
            found = [p for p in found if getattr(p, attr) == wanted]
    return page("participants", [participant_resource(engine, conference, p) for p in found],
                f"/{API_VERSION}/Accounts/{account_sid}/Conferences/{sid}/Participants.json", page_size_of(request))


@router.post("/Conferences/{sid}/Participants.json")
async def create_participant(account_sid: str, sid: str, request: Request) -> JSONResponse:
    """Dial To and put the leg in the conference. The conference may be named by its SID or, as the Participants
    docs allow for creating a participant, by its FriendlyName (a new conference if none of that name is live)."""
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    form = await read_form(request)
    if _CONFERENCE_SID.match(sid):
        found = _conference(engine, sid)
        if found is None or found.status == "completed":
            return not_found(request)
        conference = found
    else:
        conference = engine.conference_named(sid)
    to, from_ = one(form, "To"), one(form, "CallerId") or one(form, "From")
    if not to:
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not from_:
        return twilio_error(400, 21213, "No 'From' number is specified")
    try:
        settings, timeout = _create_settings(form, conference)
    except BadParameter as bad:
        return twilio_error(400, bad.code, str(bad))
    call_events: list[str] = []
    for value in form.get("StatusCallbackEvent", []):
        call_events.extend(value.replace(",", " ").split())
    call_spec = StatusCallbackSpec.of(one(form, "StatusCallback"), call_events, one(form, "StatusCallbackMethod"))
    conference_url = one(form, "ConferenceStatusCallback")
    conference.set_callback(StatusCallbackSpec(conference_url, conference_events(form.get("ConferenceStatusCallbackEvent")),
                                               (one(form, "ConferenceStatusCallbackMethod") or "POST").upper())
                            if conference_url else None)
    p = add_participant(engine, conference, settings, to=to, from_=from_, timeout=timeout,
                        status_callback=call_spec)
    return JSONResponse(participant_resource(engine, conference, p), status_code=201)


def _create_settings(form: dict[str, list[str]], conference: Conference) -> tuple[dict[str, object], float]:
    label = one(form, "Label")
    if label is not None:
        if (problem := label_problem(label)) is not None:
            raise BadParameter(problem, 16024)
        if conference.label_taken(label):
            raise BadParameter("Participant label is in use by another participant", 16026)
    try:
        timeout = float(one(form, "Timeout") or 60)
    except ValueError:
        raise BadParameter("Timeout must be an integer between 5 and 600", 21210) from None
    if not 5 <= timeout <= 600:
        raise BadParameter("Timeout must be an integer between 5 and 600", 21210)
    beep = one(form, "Beep") or "true"
    if beep not in ("true", "false", "onEnter", "onExit"):
        raise BadParameter(f"Invalid Beep: {beep}")
    settings: dict[str, object] = {"label": label, "beep": beep}
    coaching, coach = _bool(form, "Coaching"), one(form, "CallSidToCoach")
    _check_coaching(conference, coaching, coach)
    if coach:
        settings.update(coaching=coaching is not False, call_sid_to_coach=coach)
    for key, attr in (("Muted", "muted"), ("StartConferenceOnEnter", "start_conference_on_enter"),
                      ("EndConferenceOnExit", "end_conference_on_exit")):
        value = _bool(form, key)
        if value is not None:
            settings[attr] = value
    if one(form, "WaitUrl") is not None:
        settings["wait_url"] = one(form, "WaitUrl")
        settings["wait_method"] = (one(form, "WaitMethod") or "POST").upper()
    # EarlyMedia, Record, Region and the rest are accepted and ignored.
    return settings, timeout


def _check_coaching(conference: Conference, coaching: bool | None, coach: str | None) -> None:
    if coaching and not coach:
        raise BadParameter("CallSidToCoach is required when Coaching is true")
    coached = conference.find(coach) if coach else None
    if coach and (coached is None or not coached.in_room):
        raise BadParameter(f"CallSidToCoach {coach} is not a participant of this conference", 16029)


def _member(request: Request, account_sid: str, sid: str, key: str) -> tuple[Conference, Participant] | JSONResponse:
    """A participant of a live conference, addressed by its CallSid or its label; or the error to answer."""
    conference = _room(request, account_sid, sid)
    if isinstance(conference, JSONResponse):
        return conference
    p = conference.find(key) if conference.status != "completed" else None
    return (conference, p) if p is not None else not_found(request)


@router.get("/Conferences/{sid}/Participants/{key}.json")
async def fetch_participant(account_sid: str, sid: str, key: str, request: Request) -> JSONResponse:
    engine = engine_of(request)
    found = _member(request, account_sid, sid, key)
    if isinstance(found, JSONResponse):
        return found
    return JSONResponse(participant_resource(engine, *found))


@router.post("/Conferences/{sid}/Participants/{key}.json")
async def update_participant(account_sid: str, sid: str, key: str, request: Request) -> JSONResponse:
    """Hold/HoldUrl/HoldMethod, Muted, Coaching/CallSidToCoach, EndConferenceOnExit, BeepOnExit, WaitUrl,
    AnnounceUrl/AnnounceMethod."""
    engine = engine_of(request)
    found = _member(request, account_sid, sid, key)
    if isinstance(found, JSONResponse):
        return found
    conference, p = found
    form = await read_form(request)
    changes: dict[str, Any] = {}
    for param, attr in (("Hold", "hold"), ("Muted", "muted"), ("EndConferenceOnExit", "end_conference_on_exit"),
                        ("BeepOnExit", "beep_on_exit")):
        value = _bool(form, param)
        if value is not None:
            changes[attr] = value
    if one(form, "HoldUrl") is not None:
        changes["hold_url"] = one(form, "HoldUrl")
        changes["hold_method"] = (one(form, "HoldMethod") or "GET").upper()
    if one(form, "WaitUrl") is not None:
        changes["wait_url"] = one(form, "WaitUrl")
        changes["wait_method"] = (one(form, "WaitMethod") or "POST").upper()
    coaching, coach = _bool(form, "Coaching"), one(form, "CallSidToCoach")
    if coaching is not None or coach:
        try:
            _check_coaching(conference, coaching if coaching is not None else p.coaching,
                            coach or p.call_sid_to_coach)
        except BadParameter as bad:
            return twilio_error(400, bad.code, str(bad))
        changes["coaching"] = coaching if coaching is not None else p.coaching
        changes["call_sid_to_coach"] = (coach or p.call_sid_to_coach) if changes["coaching"] else None
    conference.update(p, **changes)
    announce_url = one(form, "AnnounceUrl")
    if announce_url:
        announce(engine, conference, p, announce_url, (one(form, "AnnounceMethod") or "POST").upper())
    return JSONResponse(participant_resource(engine, conference, p))


@router.delete("/Conferences/{sid}/Participants/{key}.json")
async def delete_participant(account_sid: str, sid: str, key: str, request: Request) -> Response:
    """Kick a participant: it leaves the room; a leg in <Dial><Conference> goes on to the Dial action (its TwiML
    runs), a leg created by the Participants resource hangs up; a ringing leg is cancelled. 204, or 404."""
    engine = engine_of(request)
    found = _member(request, account_sid, sid, key)
    if isinstance(found, JSONResponse):
        return found
    conference, p = found
    if not p.in_room:
        engine.hangup(p.call, "canceled", by="api")
    # Twilio docs unclear: the ReasonParticipantLeft of a kicked participant; the emulator sends
    # participant_updated_via_api (of the documented values, the one that names an API request).
    conference.leave(p, "participant_updated_via_api", kicked=True)
    return Response(status_code=204)
