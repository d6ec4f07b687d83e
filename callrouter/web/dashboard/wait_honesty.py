"""/staff/dashboard/wachttijd: are the waits said in the queue honest? As a page, CSV or JSON.

The same period, filters and roles as the dashboard (callrouter.web.dashboard.query): a team lead sees
only their organisation; a liaison is refused. A bad query is refused with 400/422 naming the parameter,
before anything is read. The verdicts are decided in callrouter.domain.wait_honesty.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.domain.wait_honesty import (
    DEFINITIONS,
    HONEST_TARGET,
    Figures,
    HonestyReport,
    TargetState,
    honesty_report,
)
from callrouter.web.dashboard import subpage
from callrouter.web.dashboard.figures import pct, secs
from callrouter.web.dashboard.pages import parts, refuse
from callrouter.web.dashboard.query import DashboardRefused, Query
from callrouter.web.staff_auth.context import Who, who

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE = "/staff/dashboard/wachttijd"
STEM = "wachttijd"  # of the download file names
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


def as_json(query: Query, report: HonestyReport) -> Response:
    body: dict[str, Any] = {
        "period": subpage.period(query),
        "filters": query.filters(),
        "target": {"share_honest": report.target},
        "totals": _numbers(report.total, report.target),
        "by_organisation": [{"organisation": org, **_numbers(figures, report.target)}
                            for org, figures in report.by_organisation],
        "definitions": definitions(report.target),
    }
    return subpage.json_download(body, stem=STEM, query=query)


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
    return subpage.csv_download(out.getvalue(), stem=STEM, query=query)


@router.get("/dashboard/wachttijd")
def wait_honesty_page(request: Request, person: Who = Depends(who)) -> Response:
    try:
        asked = subpage.ask(request, person)
    except DashboardRefused as exc:
        return refuse(request, person, exc, request.query_params.get("format", "html"))
    query = asked.query
    calls = parts(request).wait_honesty.announced_calls(
        first_day=query.first_day, last_day=query.last_day, filters=query.filters())
    report = honesty_report(calls, target=TARGET)
    if query.format == "json":
        return as_json(query, report)
    if query.format == "csv":
        return as_csv(query, report)
    names = {org.code: org.name for org in asked.directory.organisations.values()}
    return subpage.render(request, person, asked, template="wait_honesty.html", page=PAGE, values={
        "report": report, "total": report.total, "secs": secs,
        "state": report.state, "state_nl": STATE_NL, "state_class": STATE_CLASS, "target": report.target,
        "rows": [(org, names.get(org, org), figures, figures.state(report.target))
                 for org, figures in report.by_organisation],
        "definitions": {k: v["nl"] for k, v in definitions(report.target).items()},
    })
