"""/staff/dashboard/wachttijd: are the waits said in the queue honest? As a page, CSV or JSON.

The same period, filters and roles as the dashboard (callrouter.web.dashboard.query): a team lead sees
only their organisation; a liaison is refused. A bad query is refused with 400/422 naming the parameter,
before anything is read. The verdicts are decided in callrouter.domain.wait_honesty.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.adapters.sql.directory_repository import load_snapshot
from callrouter.adapters.sql.wait_honesty_repository import SqlWaitHonesty
from callrouter.domain.wait_honesty import (
    DEFINITIONS,
    HONEST_TARGET,
    Figures,
    HonestyReport,
    TargetState,
    honesty_report,
)
from callrouter.web.dashboard.figures import pct, secs
from callrouter.web.dashboard.query import LINE_KINDS_NL, PERIODS, DashboardRefused, Query, parse, scope_of
from callrouter.web.dashboard.routes import TEMPLATES, _refuse
from callrouter.web.staff_auth.context import Who, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE = "/staff/dashboard/wachttijd"
TARGET = HONEST_TARGET
STATE_NL = {TargetState.MET: "Doel gehaald", TargetState.MISSED: "Doel niet gehaald",
            TargetState.NO_DATA: "Geen gegevens"}
STATE_CLASS = {TargetState.MET: "goed", TargetState.MISSED: "slecht", TargetState.NO_DATA: "geen"}
CSV_COLUMNS = ["first_day", "last_day", "section", "organisation", "calls", "announcements", "unknown", "judged",
               "honest", "too_short", "not_judged", "left_early", "still_waiting", "share_honest", "off_median_s",
               "off_p90_s", "target", "state"]


def definitions(target: float) -> dict[str, dict[str, str]]:
    return {name: {"nl": nl.format(target=pct(target)), "en": en.format(target=f"{target:g}")}
            for name, (nl, en) in DEFINITIONS.items()}


def _numbers(figures: Figures, target: float) -> dict[str, Any]:
    return {"calls": figures.calls, "announcements": figures.announcements, "unknown": figures.unknown,
            "judged": figures.judged, "honest": figures.honest, "too_short": figures.too_short,
            "not_judged": figures.not_judged, "left_early": figures.left_early, "still_waiting": figures.still_open,
            "share_honest": figures.share_honest, "off_median_s": figures.off_median_s,
            "off_p90_s": figures.off_p90_s, "state": figures.state(target).value}


def _filename(query: Query, fmt: str) -> str:
    org = f"-{query.organisation}" if query.organisation else ""
    return f"callrouter-wachttijd{org}-{query.first_day.isoformat()}-{query.last_day.isoformat()}.{fmt}"


def as_json(query: Query, report: HonestyReport) -> Response:
    body: dict[str, Any] = {
        "period": {"name": query.period, "first_day": query.first_day.isoformat(),
                   "last_day": query.last_day.isoformat(), "zone": "Europe/Amsterdam"},
        "filters": query.filters(),
        "target": {"share_honest": report.target},
        "totals": _numbers(report.total, report.target),
        "by_organisation": [{"organisation": org, **_numbers(figures, report.target)}
                            for org, figures in report.by_organisation],
        "definitions": definitions(report.target),
    }
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(query, "json")}"'})


def as_csv(query: Query, report: HonestyReport) -> Response:
    """One row for the total and one per organisation; shares are fractions (0-1), times in seconds."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(section: str, organisation: str, figures: Figures) -> list[object]:
        values = {**_numbers(figures, report.target), "first_day": query.first_day.isoformat(),
                  "last_day": query.last_day.isoformat(), "section": section, "organisation": organisation,
                  "target": repr(report.target)}
        return ["" if values[c] is None else (repr(values[c]) if isinstance(values[c], float) else values[c])
                for c in CSV_COLUMNS]

    writer.writerow(row("total", "", report.total))
    for org, figures in report.by_organisation:
        writer.writerow(row("organisation", org, figures))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(query, "csv")}"'})


@router.get("/dashboard/wachttijd")
def wait_honesty_page(request: Request, person: Who = Depends(who)) -> Response:
    params = dict(request.query_params)
    fmt = params.get("format", "html")
    web = staff_web(request)
    zone = ZoneInfo(web.settings.timezone)
    container = request.app.state.container
    try:
        scope = scope_of(person.account)
        with container.sessions() as session:
            directory = load_snapshot(session)
        query = parse(params, now=web.console.voice.clock.now(), zone=zone, scope=scope,
                      organisations=directory.organisations, locations=directory.locations)
    except DashboardRefused as exc:
        return _refuse(request, person, exc, fmt)
    calls = SqlWaitHonesty(container.sessions, zone=zone).announced_calls(
        first_day=query.first_day, last_day=query.last_day, filters=query.filters())
    report = honesty_report(calls, target=TARGET)
    if query.format == "json":
        return as_json(query, report)
    if query.format == "csv":
        return as_csv(query, report)
    names = {org.code: org.name for org in directory.organisations.values()}
    values: dict[str, Any] = {
        "q": query, "scope": scope, "report": report, "total": report.total, "pct": pct, "secs": secs,
        "state": report.state, "state_nl": STATE_NL, "state_class": STATE_CLASS, "target": report.target,
        "rows": [(org, names.get(org, org), figures, figures.state(report.target))
                 for org, figures in report.by_organisation],
        "periods": PERIODS, "line_kinds": LINE_KINDS_NL,
        "definitions": {k: v["nl"] for k, v in definitions(report.target).items()},
        "organisations": [o for o in directory.organisations.values()
                          if scope.all_organisations or o.code in scope.organisations],
        "locations": sorted(directory.locations.values(), key=lambda loc: loc.name),
        "page": PAGE, "csv_link": f"{PAGE}?" + query.export_query("csv"),
        "json_link": f"{PAGE}?" + query.export_query("json"),
    }
    return dataclasses.replace(web, templates=TEMPLATES).render(request, "wait_honesty.html", values, who=person)
