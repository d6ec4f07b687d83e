"""The organisation's callback list in the liaison console: take, postpone, complete, cancel with a reason."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from callrouter.domain.callbacks import CallbackState
from callrouter.services.callbacks import lifecycle as service
from callrouter.services.errors import CallRouterError, NotFound
from callrouter.services.staff import console
from callrouter.web.console.routes import NOT_FOUND, _liaison
from callrouter.web.staff_auth.context import Who, check_csrf, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)
log = logging.getLogger("callrouter.staff")
STATE_NL = {CallbackState.REQUESTED: "Gepland", CallbackState.SCHEDULED: "Wacht in de rij",
            CallbackState.DIALLING: "Wordt gebeld", CallbackState.RETRY: "Opnieuw proberen",
            CallbackState.COMPLETED: "Afgerond", CallbackState.FAILED: "Mislukt",
            CallbackState.CANCELLED: "Geannuleerd", CallbackState.EXPIRED: "Verlopen"}
REASON_MAX = 200


@router.get("/terugbellen")
def callbacks_page(request: Request, person: Who = Depends(who)) -> Response:
    web = staff_web(request)
    liaison = _liaison(request, person)
    deps = web.console.voice
    listed = service.open_and_failed(deps, organisation=liaison.organisation)
    rows = []
    for callback in listed:
        location = deps.directory.location(callback.location or "")
        org = deps.directory.organisation(callback.organisation)
        topic = org.topic(callback.topic) if org else None
        rows.append({"cb": callback, "state": STATE_NL[callback.state],
                     "location": location.name if location else "onbekend",
                     "topic": topic.name_nl if topic else "geen onderwerp gekozen"})
    flash = web.sessions.pop_flash(person.session_id, person.session)
    return web.render(request, "callbacks.html", {"rows": rows, "liaison": liaison, "flash": flash,
                                                  "reason_max": REASON_MAX}, who=person)


@router.get("/terugbellen/{callback_id}/bericht")
def voice_message(callback_id: int, request: Request, person: Who = Depends(who)) -> Response:
    """The caller's voice message, through the service (Twilio's media URL needs the account's credentials and
    never reaches the browser); not kept in the browser's cache; every listen is in the audit log
    (web/audit.py)."""
    web = staff_web(request)
    liaison = _liaison(request, person)
    try:
        audio = console.voice_message(web.console, liaison=liaison, callback_id=callback_id)
    except NotFound:
        raise NOT_FOUND from None
    except Exception as exc:  # noqa: BLE001 - Twilio unreachable or refusing: say so, the page stays usable
        log.warning("staff.voice_message_unavailable callback=%s error=%s", callback_id, type(exc).__name__)
        return PlainTextResponse("Het bericht is nu niet op te halen. Probeer het over een paar minuten opnieuw.",
                                 status_code=503)
    return Response(audio.content, media_type=audio.media_type)  # staff pages are sent Cache-Control: no-store


@router.post("/terugbellen/{callback_id}/{action}")
async def callback_action(callback_id: int, action: str, request: Request, person: Who = Depends(who)) -> Response:
    await check_csrf(request, person)
    web = staff_web(request)
    liaison = _liaison(request, person)
    deps = web.console.voice
    reason = str((await request.form()).get("reden", "")).strip()[:REASON_MAX]
    org = liaison.organisation
    try:
        if action == "oppakken":
            await run_in_threadpool(service.take, deps, callback_id=callback_id, liaison_id=liaison.id, organisation=org)
            message = "U wordt zo gebeld voor dit terugbelverzoek."
        elif action == "uitstellen":
            until = deps.clock.now() + timedelta(seconds=deps.callback_policy.postpone_seconds)
            await run_in_threadpool(service.postpone, deps, callback_id=callback_id, until=until,
                                    note=reason or "uitgesteld", organisation=org)
            message = "Het terugbelverzoek is uitgesteld."
        elif action in ("afronden", "annuleren"):
            if action == "annuleren" and not reason:
                message = "Fout: geef een reden om te annuleren."
            else:
                to = CallbackState.COMPLETED if action == "afronden" else CallbackState.CANCELLED
                cause = f"{'afgerond' if action == 'afronden' else 'geannuleerd'} door {liaison.code}: {reason or '-'}"
                await run_in_threadpool(service.close, deps, callback_id=callback_id, to=to, cause=cause,
                                        organisation=org)
                message = "Het terugbelverzoek is afgerond." if action == "afronden" else "Het terugbelverzoek is geannuleerd."
        else:
            raise NOT_FOUND
    except NotFound:
        raise NOT_FOUND from None
    except CallRouterError as exc:
        message = f"Fout: {exc.message}"
    web.sessions.set_flash(person.session_id, person.session, message)
    return RedirectResponse("/staff/terugbellen", status_code=303)
