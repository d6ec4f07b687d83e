"""The Calls part of Twilio's REST API (2010-04-01), at the paths the twilio library uses."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .calls import Call, Fetch, StatusCallbackSpec
from .engine import Engine, NotInProgress
from .webhooks import API_VERSION

router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}")


def twilio_error(status: int, code: int, message: str, **extra: Any) -> JSONResponse:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status, **extra}
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine  # Starlette's State is untyped
    return engine


def check_auth(request: Request, account_sid: str) -> JSONResponse | None:
    engine = engine_of(request)
    header = request.headers.get("authorization", "")
    user = password = ""
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            pass
    if user != engine.config.account_sid or password != engine.config.auth_token:
        return twilio_error(401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect.")
    if account_sid != engine.config.account_sid:
        return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
    return None


async def read_form(request: Request) -> dict[str, list[str]]:
    form: dict[str, list[str]] = {}
    for key, value in parse_qsl((await request.body()).decode(), keep_blank_values=True):
        form.setdefault(key, []).append(value)
    return form


def one(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[-1] if values else None


def call_resource(engine: Engine, call: Call) -> dict[str, Any]:
    clock = engine.clock
    base = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}"
    updated = call.ended_at if call.ended_at is not None else (call.answered_at or call.created_at)
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": clock.rfc2822(call.created_at),
        "date_updated": clock.rfc2822(updated),
        "direction": call.direction,
        "duration": str(call.duration()) if call.is_over else None,
        "end_time": clock.rfc2822(call.ended_at) if call.ended_at is not None else None,
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": call.parent_sid,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": str(int(round(max(0.0, call.start_at - call.created_at) * 1000))),  # ms, paced by CPS
        "sid": call.sid,
        "start_time": clock.rfc2822(call.created_at) if call.status != "queued" else None,
        "status": call.status,
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
            "payments": f"{base}/Payments.json",
            "events": f"{base}/Events.json",
            "siprec": f"{base}/Siprec.json",
            "streams": f"{base}/Streams.json",
            "transcriptions": f"{base}/Transcriptions.json",
            "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": f"{base}/UserDefinedMessages.json",
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": f"{base}.json",
    }


def page(key: str, items: list[dict[str, Any]], path: str, page_size: int) -> JSONResponse:
    """One page of a list resource, in Twilio's shape (the emulator serves everything on page 0)."""
    items = items[:page_size]
    uri = f"{path}?PageSize={page_size}&Page=0"
    return JSONResponse({key: items, "start": 0, "end": max(0, len(items) - 1), "page": 0, "page_size": page_size,
                         "uri": uri, "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None})


def page_size_of(request: Request) -> int:
    try:
        return max(1, min(1000, int(request.query_params.get("PageSize", 50))))
    except ValueError:
        return 50


def not_found(request: Request) -> JSONResponse:
    return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")


@router.post("/Calls.json")
async def create_call(account_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    form = await read_form(request)
    to, from_ = one(form, "To"), one(form, "From")
    url, twiml_text = one(form, "Url"), one(form, "Twiml")
    if not to:
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not from_:
        return twilio_error(400, 21213, "No 'From' number is specified")
    if not url and not twiml_text:
        return twilio_error(400, 21205, "Either Url, Twiml or ApplicationSid parameter is required")
    events: list[str] = []
    for value in form.get("StatusCallbackEvent", []):
        events.extend(value.replace(",", " ").split())
    spec = StatusCallbackSpec.of(one(form, "StatusCallback"), events, one(form, "StatusCallbackMethod"))
    try:
        timeout = float(one(form, "Timeout") or 60)
    except ValueError:
        return twilio_error(400, 21210, "Timeout must be an integer")
    call = engine.create_api_call(to=to, from_=from_, url=url or None, method=(one(form, "Method") or "POST").upper(),
                                  twiml_text=twiml_text if not url else None, status_callback=spec, timeout=timeout)
    if engine.config.rest_create_delay > 0:
        await asyncio.sleep(engine.config.rest_create_delay)
    return JSONResponse(call_resource(engine, call), status_code=201)


@router.get("/Calls.json")
async def list_calls(account_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    q = request.query_params
    calls = list(engine.calls.values())
    for param, attr in (("Status", "status"), ("To", "to"), ("From", "from_"), ("ParentCallSid", "parent_sid")):
        if q.get(param):
            calls = [c for c in calls if getattr(c, attr) == q[param]]
    calls.reverse()  # newest first, as Twilio lists them
    return page("calls", [call_resource(engine, c) for c in calls], f"/{API_VERSION}/Accounts/{account_sid}/Calls.json",
                page_size_of(request))


@router.get("/Calls/{call_sid}.json")
async def fetch_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    call = engine.calls.get(call_sid)
    if call is None:
        return not_found(request)
    return JSONResponse(call_resource(engine, call))


@router.post("/Calls/{call_sid}.json")
async def update_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    call = engine.calls.get(call_sid)
    if call is None:
        return not_found(request)
    form = await read_form(request)
    status = one(form, "Status")
    url, twiml_text = one(form, "Url"), one(form, "Twiml")
    if status:
        if status not in ("completed", "canceled"):
            return twilio_error(400, 21218, f"Invalid Status: {status}")
        # "canceled" only ends a call that is queued or ringing; "completed" ends it in any state.
        # Twilio docs unclear: ending a call that has already ended; the emulator leaves it be and
        # returns the call resource.
        if not call.is_over and (status == "completed" or call.answered_at is None):
            engine.hangup(call, "canceled" if call.answered_at is None else "completed", by="api")
    elif url or twiml_text:
        fetch = Fetch(url or None, (one(form, "Method") or "POST").upper(), twiml=None if url else twiml_text)
        try:
            engine.redirect(call, fetch)
        except NotInProgress:
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
    return JSONResponse(call_resource(engine, call))


@router.get("/Recordings.json")
async def list_recordings(account_sid: str, request: Request) -> JSONResponse:
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    q = request.query_params
    recordings = [r for r in engine.recordings.values() if not q.get("CallSid") or r.call_sid == q["CallSid"]]
    recordings.reverse()  # newest first
    page_size = int(q.get("PageSize", 50))
    recordings = recordings[:page_size]
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Recordings.json?PageSize={page_size}&Page=0"
    return JSONResponse({"recordings": [r.resource(engine) for r in recordings], "start": 0,
                         "end": max(0, len(recordings) - 1), "page": 0, "page_size": page_size, "uri": uri,
                         "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None})


@router.get("/Recordings/{name}")
async def fetch_recording(account_sid: str, name: str, request: Request) -> Response:
    """…/Recordings/{sid}.json is the resource; …/{sid} and …/{sid}.wav the audio (WAV)."""
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    sid, _, ext = name.partition(".")
    recording = engine.recordings.get(sid)
    if recording is None:
        return not_found(request)
    if ext == "json":
        return JSONResponse(recording.resource(engine))
    if ext not in ("", "wav") or recording.status != "completed":
        # Only WAV is emulated (no .mp3); an empty or unfinished recording has no audio.
        return not_found(request)
    return Response(recording.wav(), media_type="audio/x-wav")


@router.delete("/Recordings/{name}")
async def delete_recording(account_sid: str, name: str, request: Request) -> Response:
    """DELETE …/Recordings/{sid}.json: 204 with no body; 404 (20404) when there is no such recording."""
    if (denied := check_auth(request, account_sid)) is not None:
        return denied
    engine = engine_of(request)
    sid = name.partition(".")[0]
    with engine.lock:
        recording = engine.recordings.pop(sid, None)
    if recording is None:
        return not_found(request)
    engine.deleted_recordings.append(sid)
    return Response(status_code=204)
