"""The research export: pseudonymised rows per call for a period, streamed as CSV or JSON.

Two doors, one stream (callrouter.services.statistics.research):
- /staff/onderzoek for a logged-in researcher (staff role `researcher`): a form, and with format=csv|json the
  download; the audit middleware writes its row (callrouter/web/audit.py), `who` counts it against the
  export limit;
- GET /api/research/calls?from=&to=&format= with a researcher API token; this route writes its audit row
  itself (account 0, the token's fingerprint in the filters) before the first byte.
A bad period is refused (422) naming the field, before anything is read.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from callrouter.bootstrap import research_deps
from callrouter.domain.research import COLUMNS, ExportRefused, check_period
from callrouter.domain.staff import Role
from callrouter.ports.audit import AuditEntry
from callrouter.services.statistics import research
from callrouter.web.api_auth import ApiUser, researcher_user, token_digest
from callrouter.web.dashboard.pages import TEMPLATES
from callrouter.web.security import security_event, source_of
from callrouter.web.staff_auth.context import Who, staff_web, who

PAGE = "/staff/onderzoek"
API_PATH = "/api/research/calls"
API_ACCOUNT = 0  # the audit log's account for API tokens (staff accounts start at 1)
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}

staff_router = APIRouter(prefix="/staff", include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["research"])


def _day(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ExportRefused(name, f"{value[:20]!r} is not a date (yyyy-mm-dd).",
                            f"De datum bij '{name}' is geen geldige datum (jjjj-mm-dd): {value[:20]!r}.") from None


def _stream(request: Request, asked: research.ExportAsk) -> StreamingResponse:
    container = request.app.state.container
    deps = research_deps(container.settings, container.parts)
    return StreamingResponse(research.export_chunks(deps, asked), media_type=MEDIA[asked.format],
                             headers={"Content-Disposition": f'attachment; filename="{research.file_name(asked)}"'})


@api_router.get(API_PATH.removeprefix("/api"), responses={
    200: {"content": {"text/csv": {}, "application/json": {}},
          "description": "one row per call that arrived in the period; columns in docs/research-export.md"},
    401: {"description": "no bearer token, or an unknown one"},
    403: {"description": "not a researcher token"},
    422: {"description": "a bad period or format (the field is named)"}})
async def research_calls(
    request: Request,
    first: str = Query(..., alias="from", description="first local day, yyyy-mm-dd (Europe/Amsterdam)"),
    last: str = Query(..., alias="to", description="last local day, inclusive"),
    fmt: str = Query("csv", alias="format", description="csv or json"),
    user: ApiUser = Depends(researcher_user),
) -> Response:
    """Pseudonymised rows per call for a period (researcher tokens only); every download is in the audit log."""
    settings = request.app.state.container.settings
    try:
        asked = research.ask(first_day=_day("from", first), last_day=_day("to", last), fmt=fmt,
                             kept_days=settings.retention_call_record_days)
    except ExportRefused as exc:
        return JSONResponse({"error": "invalid", "detail": exc.message, "field": exc.field}, status_code=422)
    header = request.headers.get("authorization", "")
    fingerprint = token_digest(header.split(" ", 1)[1] if " " in header else "")[:12]
    entry = AuditEntry(at=datetime.now(UTC), account_id=API_ACCOUNT, action="export", target=API_PATH,
                       filters={"from": asked.first_day.isoformat(), "to": asked.last_day.isoformat(),
                                "format": asked.format, "api_token": f"sha256:{fingerprint}", "role": user.role},
                       origin=source_of(request))
    await run_in_threadpool(request.app.state.container.parts.audit.record, entry)
    return _stream(request, asked)


def _is_researcher(person: Who) -> bool:
    return any(grant.role == Role.RESEARCHER for grant in person.account.grants)


@staff_router.get(PAGE.removeprefix("/staff"))
def research_page(request: Request, person: Who = Depends(who)) -> Response:
    params = request.query_params
    fmt = params.get("format", "html")
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    if not _is_researcher(person):
        security_event(request, "http_403", account=person.account.id, field="rol")
        message = "De onderzoeksexport is er voor de rol onderzoeker. U hebt die rol niet."
        if fmt in research.FORMATS:
            return JSONResponse({"error": "refused", "field": "rol", "message": message}, status_code=403)
        return web.render(request, "error.html", {"title": "Geen toegang", "message": message}, status=403, who=person)
    kept = web.settings.retention_call_record_days
    first, last = params.get("van", ""), params.get("tot", "")
    values: dict[str, object] = {"van": first, "tot": last, "kept_days": kept, "columns": COLUMNS, "error": None}
    try:
        if fmt == "html":  # the form; dates given are checked, the download is the form's button
            if first or last:
                check_period(first_day=_day("van", first), last_day=_day("tot", last), kept_days=kept,
                             names=("van", "tot"))
            return web.render(request, "research.html", values, who=person)
        asked = research.ask(first_day=_day("van", first), last_day=_day("tot", last),
                             fmt=fmt, kept_days=kept, names=("van", "tot", "format"))
    except ExportRefused as exc:
        if fmt in research.FORMATS:
            return JSONResponse({"error": "refused", "field": exc.field, "message": exc.message_nl}, status_code=422)
        values["error"] = f"{exc.message_nl} (veld: {exc.field})"
        return web.render(request, "research.html", values, status=422, who=person)
    return _stream(request, asked)
