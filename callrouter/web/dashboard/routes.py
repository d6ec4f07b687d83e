"""/staff/dashboard: history figures for a period and filters, as a page with charts and tables, CSV or JSON.

Supervisors and admins see every organisation; a team lead only their own (another is 403); anyone
else gets 403. A bad query is refused with 400/422 naming the parameter, before anything is read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from callrouter.adapters.sql.directory_repository import load_snapshot
from callrouter.config import Settings
from callrouter.services.statistics.statistics import StatsQueryInvalid
from callrouter.web.dashboard import charts, export
from callrouter.web.dashboard.drilldown import router as drilldown_router
from callrouter.web.dashboard.figures import (
    STATES_NL,
    DashboardTargets,
    collect,
    evaluation,
    headline,
    outcome_drill,
    outcome_mix,
    pct,
    secs,
    targets_from_setting,
)
from callrouter.web.dashboard.pages import HERE, TEMPLATES, refuse, stats_deps
from callrouter.web.dashboard.query import LINE_KINDS_NL, PERIODS, DashboardRefused, parse, scope_of
from callrouter.web.staff_auth.context import Who, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """At start-up: the targets from CALLROUTER_DASHBOARD_TARGETS (TargetsInvalid naming it stops the app),
    and the drill-down pages."""
    app.state.dashboard_targets = targets_from_setting(settings.dashboard_targets)
    app.include_router(drilldown_router)


@router.get("/dashboard/static/dashboard.css")
def dashboard_css() -> Response:
    return FileResponse(HERE / "static" / "dashboard.css", media_type="text/css")


@router.get("/dashboard")
def dashboard(request: Request, person: Who = Depends(who)) -> Response:
    params = dict(request.query_params)
    fmt = params.get("format", "html")
    deps = stats_deps(request)
    try:
        scope = scope_of(person.account)
        with request.app.state.container.sessions() as session:
            directory = load_snapshot(session)
        query = parse(params, now=deps.clock.now(), zone=deps.zone, scope=scope,
                      organisations=directory.organisations, locations=directory.locations)
        data = collect(deps, query)
    except DashboardRefused as exc:
        return refuse(request, person, exc, fmt)
    except StatsQueryInvalid as exc:
        return refuse(request, person, DashboardRefused(422, exc.field or "filter", exc.message), fmt)
    targets: DashboardTargets = getattr(request.app.state, "dashboard_targets", None) or DashboardTargets()
    threshold = deps.policy.answer_thresholds_seconds[0]
    if query.format == "json":
        return export.as_json(query, data, deps.policy, targets=targets, threshold=threshold)
    if query.format == "csv":
        return export.as_csv(query, data, deps.policy)
    figures = headline(data.totals, targets=targets, threshold=threshold, short_abandon=deps.policy.short_abandon_seconds)
    hour_chart, hour_rows = charts.hourly(data.hours)
    levels = [(day, totals.service_level(threshold)) for day, totals in data.days]
    mix = outcome_mix(data.totals)
    values: dict[str, Any] = {
        "q": query, "scope": scope, "figures": figures, "states": STATES_NL, "threshold": threshold,
        "hour_chart": hour_chart, "hour_rows": hour_rows, "levels": levels, "days": data.days,
        "trend_chart": charts.trend(levels, target=targets.service_level.good), "target": targets.service_level,
        "mix": mix, "pct": pct, "mix_chart": charts.outcome_bars(mix), "mix_total": sum(c for _, _, c in mix),
        "heat": heat_table(data.heat), "periods": PERIODS, "line_kinds": LINE_KINDS_NL,
        "organisations": [o for o in directory.organisations.values()
                          if scope.all_organisations or o.code in scope.organisations],
        "locations": sorted(directory.locations.values(), key=lambda loc: loc.name),
        "colours": {"offered": charts.OFFERED, "answered": charts.ANSWERED, "axis": charts.AXIS,
                    "target": charts.TARGET},
        "csv_link": "/staff/dashboard?" + query.export_query("csv"),
        "json_link": "/staff/dashboard?" + query.export_query("json"),
        "drill": lambda **extra: "/staff/dashboard/oproepen?" + query.with_params(**extra),
        "outcome_drill": outcome_drill,
        "evaluation": evaluation(data, targets=targets), "results_target": targets.results_recorded_share,
        "location_names": {code: loc.name for code, loc in directory.locations.items()},
        "secs": secs, "transfer_totals": data.totals,
    }
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, "dashboard.html", values, who=person)


def heat_table(heat: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """Organisation x topic, offered calls, as a table: rows, columns and a shade class 0-4 per cell."""
    organisations = sorted({org for org, _, _ in heat})
    topics = sorted({topic for _, topic, _ in heat})
    cells = {(org, topic): totals.offered for org, topic, totals in heat}
    top = max(cells.values(), default=0)

    def shade(value: int) -> int:
        return 0 if not value or not top else min(4, 1 + (4 * value - 1) // top)

    rows = [(org, [(cells.get((org, t)), shade(cells.get((org, t)) or 0)) for t in topics]) for org in organisations]
    return {"topics": topics, "rows": rows}

