"""/staff/dashboard/perioden (named periods; an administrator adds them) and /staff/dashboard/vergelijken (two
periods, or two counters over one period, figure by figure with the difference; page, CSV or JSON).

Who sees the comparison: as the dashboard (supervisors and admins all organisations, a team lead their own)
and researchers. Every problem is refused naming the field, and nothing changes; figures come from the
rollups only (callrouter.services.statistics.periods).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.responses import RedirectResponse, Response

from callrouter.adapters.sql.directory_repository import DirectorySnapshot, load_snapshot
from callrouter.domain.periods import PeriodInvalid, Side
from callrouter.domain.staff import Role
from callrouter.domain.statistics_definitions import definition
from callrouter.services.statistics import periods
from callrouter.services.statistics.statistics import StatsQueryInvalid
from callrouter.web.dashboard.figures import OUTCOMES_NL, pct
from callrouter.web.dashboard.pages import TEMPLATES, parts, stats_deps
from callrouter.web.dashboard.query import LINE_KINDS_NL, DashboardRefused, Scope, scope_of
from callrouter.web.security import security_event
from callrouter.web.staff_auth.context import Who, check_csrf, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)
LIST_PAGE, COMPARE_PAGE = "/staff/dashboard/perioden", "/staff/dashboard/vergelijken"
PARAMS = ("links", "rechts", "loket_links", "loket_rechts", "organisatie", "soort", "format")
SHARE_LABELS = {"answered_share": "Deel opgenomen van aangeboden", "abandoned_share": "Deel opgehangen van aangeboden",
                "callbacks_share": "Deel terugbelverzoeken van aangeboden"}
LABELS = {
    "received": "Binnengekomen", "offered": "Aangeboden", "answered": "Opgenomen", "abandoned": "Opgehangen in de wachtrij",
    "short_abandoned": "Kort opgehangen", "average_speed_of_answer_seconds": "Gemiddelde wachttijd tot opnemen (s)",
    "longest_wait_seconds": "Langste wachttijd (s)", "average_talk_time_seconds": "Gemiddelde gespreksduur (s)",
    "callbacks_requested": "Terugbelverzoeken", "callbacks_completed": "Teruggebeld", "callbacks_failed":
    "Terugbellen mislukt", "in_progress": "Nog bezig", **SHARE_LABELS,
}


def _scope(person: Who) -> Scope:
    if any(g.role == Role.RESEARCHER for g in person.account.grants):
        return Scope(all_organisations=True)
    return scope_of(person.account)


def _is_admin(person: Who) -> bool:
    return any(g.role == Role.ADMIN for g in person.account.grants)


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    for prefix, text in (("answered_within_", "Opgenomen binnen {} s"), ("service_level_", "Servicelevel binnen {} s")):
        if key.startswith(prefix):
            return text.format(key[len(prefix):-1])
    if key.startswith("outcome_"):
        outcome = key.removeprefix("outcome_")
        names = {o.value: name for o, name in OUTCOMES_NL.items()}
        return "Uitkomst: " + names.get(outcome, outcome.replace("_", " ")).lower()
    return key


def shown(key: str, value: float | int | None, *, relative: bool = False) -> str:
    if value is None:
        return "–"
    if relative or key.endswith("_share") or key.startswith("service_level_"):
        return pct(float(value))
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def _render(request: Request, person: Who, template: str, values: dict[str, Any], *, status: int = 200) -> Response:
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, template, values, status=status, who=person)


def _refused(request: Request, person: Who, status: int, field: str, message: str, fmt: str) -> Response:
    if status == 403:
        security_event(request, "http_403", account=person.account.id, field=field)
    if fmt in ("csv", "json"):
        return JSONResponse({"error": "refused", "field": field, "message": message}, status_code=status)
    return _render(request, person, "error.html", {"title": "Geen toegang" if status == 403 else "Ongeldige vraag",
                                                   "message": f"{message} (veld: {field})"}, status=status)


def _list_values(request: Request, person: Who, **extra: Any) -> dict[str, Any]:
    with request.app.state.container.sessions() as session:
        directory = load_snapshot(session)
    scope = _scope(person)
    return {"periods": parts(request).periods.all(), "admin": _is_admin(person), "scope": scope,
            "locations": sorted(directory.locations.values(), key=lambda loc: loc.name),
            "organisations": [o for o in directory.organisations.values()
                              if scope.all_organisations or o.code in scope.organisations],
            "line_kinds": LINE_KINDS_NL, "form": {"naam": "", "van": "", "tot": ""}, "error": None,
            "error_field": None, **extra}


@router.get("/dashboard/perioden")
def periods_page(request: Request, person: Who = Depends(who)) -> Response:
    try:
        _scope(person)
    except DashboardRefused as exc:
        return _refused(request, person, exc.status, exc.field, exc.message, "html")
    added = request.query_params.get("toegevoegd", "")
    return _render(request, person, "periods.html", _list_values(request, person, added=added[:80]))


def _date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodInvalid(field, f"De datum bij '{field}' is geen geldige datum (jjjj-mm-dd).") from None


@router.post("/dashboard/perioden")
async def add_period(request: Request, person: Who = Depends(who)) -> Response:
    await check_csrf(request, person)
    if not _is_admin(person):
        return _refused(request, person, 403, "rol", "Alleen functioneel beheer kan perioden benoemen.", "html")
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("naam", "van", "tot")}
    try:
        added = periods.add_period(parts(request).periods, name=values["naam"], first_day=_date("van", values["van"]),
                                   last_day=_date("tot", values["tot"]), at=datetime.now(UTC),
                                   by=f"staff:{person.account.id}")
    except PeriodInvalid as exc:
        return _render(request, person, "periods.html", _list_values(
            request, person, form=values, error=f"{exc.message} (veld: {exc.field})", error_field=exc.field),
            status=422)
    from urllib.parse import urlencode

    return RedirectResponse(f"{LIST_PAGE}?{urlencode({'toegevoegd': added.name})}", status_code=303)


def _side(store: periods.PeriodStore, name: str, field: str, location: str | None,
          directory: DirectorySnapshot, location_field: str) -> Side:
    period = periods.find(store, name, field=field)
    if location is not None and location not in directory.locations:
        raise PeriodInvalid(location_field, f"Onbekend loket '{location[:20]}'.")
    return Side(period, location)


@router.get("/dashboard/vergelijken")
def compare_page(request: Request, person: Who = Depends(who)) -> Response:
    params = {name: request.query_params.get(name, "").strip() for name in PARAMS}
    fmt = params["format"] or "html"
    unknown = sorted(set(request.query_params) - set(PARAMS))
    try:
        scope = _scope(person)
        if unknown:
            raise PeriodInvalid(unknown[0], f"Onbekende parameter '{unknown[0][:30]}'.")
        if fmt not in ("html", "csv", "json"):
            raise PeriodInvalid("format", "Kies html, csv of json.")
        with request.app.state.container.sessions() as session:
            directory = load_snapshot(session)
        org = params["organisatie"] or None
        if org is not None and org not in directory.organisations:
            raise PeriodInvalid("organisatie", f"Onbekende organisatie '{org[:20]}'.")
        if not scope.all_organisations:
            if org is not None and org not in scope.organisations:
                raise DashboardRefused(403, "organisatie", "U ziet alleen de cijfers van uw eigen organisatie.")
            org = org or scope.organisations[0]
        kind = params["soort"] or None
        if kind is not None and kind not in LINE_KINDS_NL:
            raise PeriodInvalid("soort", f"Onbekende soort lijn '{kind[:20]}'.")
        store = parts(request).periods
        left = _side(store, params["links"], "links", params["loket_links"] or None, directory, "loket_links")
        right = _side(store, params["rechts"] or params["links"], "rechts",
                      params["loket_rechts"] or None, directory, "loket_rechts")
        result = periods.compare(stats_deps(request), left=left, right=right, organisation=org, line_kind=kind)
    except DashboardRefused as exc:
        return _refused(request, person, exc.status, exc.field, exc.message, fmt)
    except PeriodInvalid as exc:
        return _refused(request, person, 422, exc.field, exc.message, fmt)
    except StatsQueryInvalid as exc:
        return _refused(request, person, 422, exc.field or "periode", exc.message, fmt)
    name = f"callrouter-vergelijking-{left.period.first_day}-{right.period.first_day}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(as_csv(result, organisation=org), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "json":
        return JSONResponse(as_json(result, organisation=org, zone=ZoneInfo(staff_web(request).settings.timezone)),
                            headers=headers)
    from urllib.parse import urlencode

    query = {k: v for k, v in params.items() if v and k != "format"}
    if not scope.all_organisations:
        query["organisatie"] = org or ""
    values = _list_values(request, person, result=result, chosen=params, organisation=org, label=label, shown=shown,
                          csv_link=f"{COMPARE_PAGE}?{urlencode({**query, 'format': 'csv'})}",
                          json_link=f"{COMPARE_PAGE}?{urlencode({**query, 'format': 'json'})}")
    return _render(request, person, "compare.html", values)


def _side_json(side: Side) -> dict[str, Any]:
    return {"name": side.period.name, "first_day": side.period.first_day.isoformat(),
            "last_day": side.period.last_day.isoformat(), "counter": side.location}


def as_csv(result: periods.Comparison, *, organisation: str | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["figure", "left", "right", "difference", "relative_difference", "left_period", "left_first_day",
                     "left_last_day", "left_counter", "right_period", "right_first_day", "right_last_day",
                     "right_counter", "organisation"])
    sides = []
    for side in (result.left, result.right):
        sides += [side.period.name, side.period.first_day.isoformat(), side.period.last_day.isoformat(),
                  side.location or ""]

    def cell(value: object) -> str:
        return "" if value is None else repr(value) if isinstance(value, float) else str(value)

    for row in result.rows:
        writer.writerow([row.key, cell(row.left), cell(row.right), cell(row.difference), cell(row.relative), *sides,
                         organisation or ""])
    return out.getvalue()


def as_json(result: periods.Comparison, *, organisation: str | None, zone: ZoneInfo) -> dict[str, Any]:
    definitions = {}
    for row in result.rows:
        found = definition(row.key)
        if found:
            definitions[row.key] = {"nl": found.nl, "en": found.en, "formula": found.formula}
    return {"left": _side_json(result.left), "right": _side_json(result.right), "organisation": organisation,
            "zone": str(zone), "periods_overlap": result.periods_overlap, "source": "15-minute rollups",
            "figures": [{"figure": r.key, "left": r.left, "right": r.right, "difference": r.difference,
                         "relative_difference": r.relative} for r in result.rows],
            "definitions": definitions}
