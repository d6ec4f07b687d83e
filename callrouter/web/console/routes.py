"""The liaison console: own availability, the call on the line, recent calls, conversation outcomes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from callrouter.domain.directory import Liaison
from callrouter.domain.queueing import Presence
from callrouter.domain.staff import NOTE_MAX, RESULT_NAMES_NL, ConversationResult, OutcomeInvalid
from callrouter.services.errors import CallRouterError, Conflict, NotFound
from callrouter.services.staff import console as service
from callrouter.services.staff.presence import SETTABLE
from callrouter.web.staff_auth.context import StaffPageError, StaffWeb, Who, check_csrf, staff_web, who, who_polling

router = APIRouter(prefix="/staff", include_in_schema=False)
PRESENCE_NL = {Presence.AVAILABLE: "Beschikbaar", Presence.AWAY: "Afwezig", Presence.WRAP_UP: "Nawerk",
               Presence.OFFLINE: "Niet ingelogd op de lijn", Presence.BUSY: "In gesprek"}
NOT_FOUND = StaffPageError(404, "Niet gevonden", "Deze pagina bestaat niet, of u hebt er geen toegang toe.")
CALL_GONE = StaffPageError(404, "Gesprek niet gevonden",
                           "Dit gesprek bestaat niet (meer): het hoort bij een andere organisatie, of de bewaartermijn "
                           "is voorbij en het is verwijderd. Er is niets opgeslagen.")


def _liaison(request: Request, person: Who) -> Liaison:
    try:
        return service.liaison_of(staff_web(request).console, person.account)
    except NotFound:
        raise NOT_FOUND from None


def _texts() -> dict[str, object]:
    return {"presence_names": {str(k): v for k, v in PRESENCE_NL.items()}, "settable": [str(p) for p in SETTABLE],
            "result_names": {str(k): v for k, v in RESULT_NAMES_NL.items()}, "waited": service.waited_text,
            "note_max": NOTE_MAX}


def _live_values(web: StaffWeb, liaison: Liaison, view: service.ConsoleView) -> dict[str, object]:
    return {"view": view, "organisations": _others(web, liaison), **_texts()}


@router.get("/console")
def console_page(request: Request, person: Who = Depends(who)) -> Response:
    web = staff_web(request)
    liaison = _liaison(request, person)
    view = service.console_view(web.console, liaison=liaison)
    flash = web.sessions.pop_flash(person.session_id, person.session)
    return web.render(request, "console.html", {"flash": flash, **_live_values(web, liaison, view)}, who=person)


@router.get("/console/live")
def console_live(request: Request, person: Who = Depends(who_polling)) -> Response:
    """The live part of the console, fetched every few seconds by console.js (not counted as activity)."""
    web = staff_web(request)
    liaison = _liaison(request, person)
    view = service.console_view(web.console, liaison=liaison)
    return web.render(request, "_live.html", _live_values(web, liaison, view), who=person)


@router.post("/medewerkers/{liaison_id}/beschikbaarheid")
async def set_presence(liaison_id: int, request: Request, person: Who = Depends(who)) -> Response:
    await check_csrf(request, person)
    web = staff_web(request)
    liaison = _liaison(request, person)
    status = str((await request.form()).get("status", ""))
    try:
        view = await run_in_threadpool(service.set_own_presence, web.console, liaison=liaison,
                                       target_liaison_id=liaison_id, status=status)
        message = f"Uw beschikbaarheid is nu: {PRESENCE_NL.get(Presence(view.status), view.status)}."
    except NotFound:
        raise NOT_FOUND from None
    except Conflict:
        message = "Fout: u bent in gesprek. Uw beschikbaarheid verandert als het gesprek is afgelopen."
    except CallRouterError as exc:
        message = f"Fout: {exc.message}"
    return _to_console(web, person, message)


@router.post("/gesprekken/{sid}/doorverbinden")
async def transfer_call(sid: str, request: Request, person: Who = Depends(who)) -> Response:
    """Blind transfer of the call on the line; the result or the refusal's reason as the console's message."""
    await check_csrf(request, person)
    web = staff_web(request)
    liaison = _liaison(request, person)
    form = await request.form()
    message = await _message_of(partial(service.transfer_call, web.console, liaison=liaison, sid=sid,
                                        organisation=str(form.get("organisation", "")),
                                        topic=str(form.get("topic", "")),
                                        callback=form.get("action") == "callback",
                                        consult=form.get("action") == "consult"))
    return _to_console(web, person, message)


@router.post("/gesprekken/{sid}/overleg")
async def consult_action(sid: str, request: Request, person: Who = Depends(who)) -> Response:
    """The consult of the call on the line: complete, take the caller back, or all three talk."""
    await check_csrf(request, person)
    web = staff_web(request)
    liaison = _liaison(request, person)
    action = str((await request.form()).get("action", ""))
    message = await _message_of(partial(service.consult_action, web.console, liaison=liaison, sid=sid, action=action))
    return _to_console(web, person, message)


async def _message_of(action: Callable[[], str]) -> str:
    """Run a console action off the event loop: its message, or the refusal's reason (which the liaison can read
    and say to the caseworker)."""
    try:
        return await run_in_threadpool(action)
    except CallRouterError as exc:  # TransferRefused included
        return f"Fout: {exc.message}"


def _to_console(web: StaffWeb, person: Who, message: str) -> Response:
    """Back to the console (POST, redirect, GET), with `message` shown once at the top."""
    web.sessions.set_flash(person.session_id, person.session, message)
    return RedirectResponse("/staff/console", status_code=303)


@router.get("/gesprekken/{sid}")
def call_page(sid: str, request: Request, person: Who = Depends(who)) -> Response:
    web = staff_web(request)
    liaison = _liaison(request, person)
    try:
        detail = service.call_detail(web.console, liaison=liaison, sid=sid)
    except NotFound:
        raise NOT_FOUND from None
    values = {"detail": detail, "form": _form_of(detail), "errors": {}, **_texts(), "organisations": _others(web, liaison)}
    return web.render(request, "call.html", values, who=person)


def _others(web: StaffWeb, liaison: Liaison) -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in web.console.voice.directory.all_organisations() if o.code != liaison.organisation]


def _form_of(detail: service.CallDetail) -> dict[str, str]:
    o = detail.outcome
    return {"result": o.result.value if o else "", "referred_organisation": (o.referred_organisation or "") if o else "",
            "note": o.note if o else ""}


@router.post("/gesprekken/{sid}/uitkomst")
async def record_outcome(sid: str, request: Request, person: Who = Depends(who)) -> Response:
    await check_csrf(request, person)
    web = staff_web(request)
    liaison = _liaison(request, person)
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("result", "referred_organisation", "note")}
    raw_revision = str(form.get("revision", ""))
    revision = int(raw_revision) if raw_revision.isdigit() and len(raw_revision) < 6 else None
    try:
        await run_in_threadpool(service.record_outcome, web.console, account=person.account, liaison=liaison, sid=sid,
                                result=values["result"], referred_organisation=values["referred_organisation"],
                                note=values["note"], expect_revision=revision)
    except NotFound:
        raise CALL_GONE from None
    except (OutcomeInvalid, service.OutcomeRefused) as exc:
        detail = service.call_detail(web.console, liaison=liaison, sid=sid)
        field = exc.field or "call"
        status = 422 if isinstance(exc, OutcomeInvalid) else 409
        return web.render(request, "call.html", {"detail": detail, "form": values, "errors": {field: exc.message},
                                                 **_texts(), "organisations": _others(web, liaison)},
                          status=status, who=person)
    name = RESULT_NAMES_NL[ConversationResult(values["result"])]
    return _to_console(web, person, f"Uitkomst opgeslagen: {name}.")
