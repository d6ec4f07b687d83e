"""The emulator's own HTTP API under /_emulator/, for demos and tests in another process."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .calls import Call
from .engine import Engine
from .people import CallerScript, Phone

router = APIRouter(prefix="/_emulator")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine  # Starlette's State is untyped
    return engine


def call_summary(call: Call) -> dict[str, Any]:
    return {"sid": call.sid, "parent_call_sid": call.parent_sid, "from": call.from_, "to": call.to,
            "direction": call.direction, "status": call.status, "done": call.done,
            "duration": call.duration(), "ended_by": call.ended_by}


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/calls")
async def place_call(request: Request) -> JSONResponse:
    body = await request.json()
    try:
        call = _engine(request).place_inbound(body["from"], body["to"], CallerScript.from_dict(body.get("script")))
    except (KeyError, ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(call_summary(call), status_code=201)


@router.get("/calls")
async def list_calls(request: Request) -> list[dict[str, Any]]:
    return [call_summary(c) for c in _engine(request).calls.values()]


@router.get("/calls/{sid}")
async def get_call(sid: str, request: Request) -> JSONResponse:
    call = _engine(request).calls.get(sid)
    if call is None:
        return JSONResponse({"error": "no such call"}, status_code=404)
    return JSONResponse({**call_summary(call), "children": [c.sid for c in call.children],
                         "transcript": [e.to_dict() for e in call.transcript]})


@router.post("/phones")
async def register_phone(request: Request) -> JSONResponse:
    body = dict(await request.json())
    address = body.pop("address", None)
    try:
        if not address:
            raise ValueError("address is required")
        _engine(request).phones[address] = Phone.from_dict(body)
    except (TypeError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"address": address}, status_code=201)


@router.post("/faults")
async def set_faults(request: Request) -> JSONResponse:
    body = await request.json()
    config = _engine(request).config
    if "status_callback_delay" in body:
        try:
            delay = float(body["status_callback_delay"])
        except (TypeError, ValueError):
            delay = -1.0
        if delay < 0:
            return JSONResponse({"error": "status_callback_delay must be a number >= 0"}, status_code=400)
        config.status_callback_delay = delay
    for name in ("duplicate_status_callbacks", "reorder_status_callbacks"):
        if name in body:
            setattr(config, name, bool(body[name]))
    return JSONResponse({"duplicate_status_callbacks": config.duplicate_status_callbacks,
                         "reorder_status_callbacks": config.reorder_status_callbacks,
                         "status_callback_delay": config.status_callback_delay})


@router.get("/queues")
async def queues(request: Request) -> dict[str, Any]:
    return {name: {"sid": q.sid, "size": len(q.members), "calls": [c.sid for c, _ in q.members]}
            for name, q in _engine(request).queues.items()}


@router.post("/pacing")
async def set_pacing(request: Request) -> JSONResponse:
    """{"calls_per_second": n}: how fast REST-created calls and participants start (Twilio's CPS; 0 or null: unpaced)."""
    body = await request.json()
    config = _engine(request).config
    value = body.get("calls_per_second") if isinstance(body, dict) else -1
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
        return JSONResponse({"error": "calls_per_second must be a number >= 0 or null"}, status_code=400)
    config.calls_per_second = None if value is None else float(value)
    return JSONResponse({"calls_per_second": config.calls_per_second})


@router.get("/conferences")
async def conferences(request: Request) -> list[dict[str, Any]]:
    engine = _engine(request)
    return [{"sid": c.sid, "friendly_name": c.friendly_name, "status": c.status, "reason_ended": c.reason_ended,
             "participants": [{"call_sid": p.sid, "label": p.label, "status": p.status, "hold": p.hold,
                               "muted": p.muted, "coaching": p.coaching, "hears": sorted(c.hears(p))}
                              for p in c.participants]}
            for c in engine.conferences.values()]


@router.get("/conferences/{sid}")
async def conference(sid: str, request: Request) -> JSONResponse:
    found = _engine(request).conferences.get(sid)
    if found is None:
        return JSONResponse({"error": "no such conference"}, status_code=404)
    return JSONResponse({"sid": found.sid, "friendly_name": found.friendly_name, "status": found.status,
                         "transcript": [e.to_dict() for e in found.transcript]})


@router.get("/hears/{call_sid}")
async def hears(call_sid: str, request: Request) -> JSONResponse:
    engine = _engine(request)
    if call_sid not in engine.calls:
        return JSONResponse({"error": "no such call"}, status_code=404)
    return JSONResponse({"call_sid": call_sid, "hears": sorted(engine.hears(call_sid))})
