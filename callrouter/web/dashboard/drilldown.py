"""/staff/dashboard/oproepen: the calls behind a dashboard figure (queue -> liaison -> call), as a page,
CSV or JSON; /staff/dashboard/oproepen/{id or sid}: one call's events for a supervisor.

Same period, filters and roles as the dashboard (callrouter.web.dashboard.query), plus `cijfer` (which
figure), `uur` (local hour of arrival), `pagina` and, only when figures per liaison are switched on,
`medewerker`. Numbers are shown masked; liaison names and ids appear only when switched on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.adapters.sql.directory_repository import load_snapshot
from callrouter.domain.evaluation import VERDICT_NAMES_NL
from callrouter.domain.staff import RESULT_NAMES_NL
from callrouter.services.errors import CallRouterError, NotFound
from callrouter.services.statistics import drilldown as service
from callrouter.services.statistics.drilldown import PER_LIAISON_OFF, DrillDeps
from callrouter.web.console.callback_routes import STATE_NL
from callrouter.web.dashboard import export
from callrouter.web.dashboard.figures import OUTCOMES_NL, drill_figures, pct, secs
from callrouter.web.dashboard.pages import TEMPLATES, parts, refuse, stats_deps
from callrouter.web.dashboard.query import LINE_KINDS_NL, PERIODS, DashboardRefused, Query, Scope, parse, scope_of
from callrouter.web.staff_auth.context import StaffPageError, Who, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE_SIZE = 50
DRILL_PARAMS = frozenset({"cijfer", "uur", "pagina", "medewerker"})
EVENTS_NL = {
    "received": "Binnengekomen", "identified": "Herkend", "pin_failed": "Verkeerde pincode", "refused": "Geweigerd",
    "locked_out": "Geblokkeerd", "language": "Taal gekozen", "menu_choice": "Keuze in het menu",
    "menu_no_input": "Geen keuze gemaakt", "menu_invalid": "Ongeldige keuze", "menu_repeat": "Menu herhaald",
    "menu_person": "Naar een medewerker", "closed": "Gesloten", "no_liaison": "Niemand aanwezig",
    "queued": "In de wachtrij", "offered": "Aangeboden aan een medewerker", "liaison_no_answer": "Medewerker nam niet op",
    "answered": "Opgenomen", "abandoned": "Opgehangen", "completed": "Beëindigd",
    "callback_requested": "Terugbelverzoek", "status": "Status van Twilio", "error": "Fout", "transferred": "Doorverbonden",
    "announced": "Verwachte wachttijd gemeld",
}
OUTCOME_NAMES = {**{o.value: name for o, name in OUTCOMES_NL.items()}, "in_progress": "Nog bezig"}


def _drill_deps(request: Request) -> DrillDeps:
    stats = stats_deps(request)
    return DrillDeps(store=parts(request).drilldown, policy=stats.policy, zone=stats.zone,
                     per_liaison=staff_web(request).settings.stats_per_liaison)


def _number(params: Mapping[str, str], name: str, *, low: int, high: int, what: str) -> int | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise DashboardRefused(422, name, f"'{name}' is {what}; niet {value[:20]!r}.")
    return int(value)


@dataclasses.dataclass(frozen=True)
class DrillQuery:
    query: Query
    scope: Scope
    cijfer: str
    figure: str
    figure_name: str
    hour: int | None
    page: int
    liaison_id: int | None

    def params(self, **extra: str | int | None) -> str:
        base = {"cijfer": self.cijfer, "uur": self.hour, "medewerker": self.liaison_id}
        return self.query.with_params(**{**base, **extra})

    def link(self, **extra: str | int | None) -> str:
        return "/staff/dashboard/oproepen?" + self.params(**extra)


def _parse(request: Request, person: Who, deps: DrillDeps) -> DrillQuery:
    params = dict(request.query_params)
    scope = scope_of(person.account)
    with request.app.state.container.sessions() as session:
        directory = load_snapshot(session)
    query = parse(params, now=stats_deps(request).clock.now(), zone=deps.zone, scope=scope,
                  organisations=directory.organisations, locations=directory.locations, extra=DRILL_PARAMS)
    figures = drill_figures(deps.policy.answer_thresholds_seconds)
    cijfer = params.get("cijfer", "").strip() or "aangeboden"
    if cijfer not in figures:
        raise DashboardRefused(422, "cijfer", f"Onbekend cijfer {cijfer[:30]!r}; kies uit {', '.join(figures)}.")
    if params.get("medewerker", "").strip() and not deps.per_liaison:
        raise DashboardRefused(403, "medewerker", PER_LIAISON_OFF)
    hour = _number(params, "uur", low=0, high=23, what="een uur van 0 tot en met 23")
    page = _number(params, "pagina", low=1, high=100_000, what="een paginanummer vanaf 1") or 1
    liaison = _number(params, "medewerker", low=1, high=10**9, what="het nummer van een medewerker")
    figure, name = figures[cijfer]
    return DrillQuery(query, scope, cijfer, figure, name, hour, page, liaison)


@router.get("/dashboard/oproepen")
def calls_page(request: Request, person: Who = Depends(who)) -> Response:
    fmt = request.query_params.get("format", "html")
    deps = _drill_deps(request)
    try:
        dq = _parse(request, person, deps)
        drill = service.calls_behind(deps, first_day=dq.query.first_day, last_day=dq.query.last_day,
                                     filters=dq.query.filters(), figure=dq.figure, hour=dq.hour,
                                     liaison_id=dq.liaison_id)
        pages = max(1, -(-drill.count // PAGE_SIZE))
        if dq.page > pages:
            raise DashboardRefused(422, "pagina", f"Pagina {dq.page} bestaat niet; er zijn {pages} pagina's.")
    except DashboardRefused as exc:
        return refuse(request, person, exc, fmt)
    except CallRouterError as exc:
        return refuse(request, person, DashboardRefused(exc.status, exc.field or "cijfer", exc.message), fmt)
    if dq.query.format in ("csv", "json"):
        return export.drill_export(dq.query, drill, fmt=dq.query.format, cijfer=dq.cijfer, hour=dq.hour,
                                   liaison_id=dq.liaison_id, zone=deps.zone)
    first = (dq.page - 1) * PAGE_SIZE
    values: dict[str, Any] = {
        "dq": dq, "q": dq.query, "drill": drill, "page": dq.page, "pages": pages,
        "calls": drill.calls[first:first + PAGE_SIZE], "callbacks": drill.callbacks[first:first + PAGE_SIZE],
        "first": first, "periods": PERIODS, "line_kinds": LINE_KINDS_NL, "outcomes": OUTCOME_NAMES,
        "result_names": RESULT_NAMES_NL, "verdict_names": VERDICT_NAMES_NL,
        "callback_states": {str(k): v for k, v in STATE_NL.items()}, "pct": pct, "secs": secs,
        "zone": deps.zone, "per_liaison": deps.per_liaison,
        "liaison_name": drill.liaison_names.get(dq.liaison_id) if dq.liaison_id else None,
        "csv_link": dq.link(format="csv", pagina=None), "json_link": dq.link(format="json", pagina=None),
        "back": "/staff/dashboard?" + dq.query.with_params(),
    }
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, "drill_calls.html", values, who=person)


@router.get("/dashboard/oproepen/{ref}")
def call_page(ref: str, request: Request, person: Who = Depends(who)) -> Response:
    deps = _drill_deps(request)
    try:
        scope = scope_of(person.account)
    except DashboardRefused as exc:
        return refuse(request, person, exc, "html")
    try:
        detail = service.call_detail(deps, ref=ref, organisations=None if scope.all_organisations
                                     else scope.organisations)
    except NotFound:
        raise StaffPageError(404, "Niet gevonden", "Dit gesprek bestaat niet, of u hebt er geen toegang toe.") from None
    back = "/staff/dashboard"
    if "cijfer" in request.query_params:
        try:  # the list this call was opened from, when its query still holds
            dq = _parse(request, person, deps)
            back = dq.link(pagina=dq.page if dq.page > 1 else None)
        except DashboardRefused:
            pass
    recorded = detail.recorded
    values: dict[str, Any] = {
        "detail": detail, "call": detail.line, "events": detail.events, "event_names": EVENTS_NL,
        "outcomes": OUTCOME_NAMES, "line_kinds": LINE_KINDS_NL, "zone": deps.zone, "back": back, "secs": secs,
        "recorded_name": RESULT_NAMES_NL.get(recorded.result, recorded.result) if recorded else None,
        "per_liaison": deps.per_liaison,
    }
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, "drill_call.html", values, who=person)
