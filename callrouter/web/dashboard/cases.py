"""/staff/dashboard/zaken: cases that needed several organisations, as a page, CSV or JSON.

The same period, filters and roles as the dashboard (callrouter.web.dashboard.query): a team lead sees
only the cases that touched their organisation, and only that organisation's calls in the outcome mix.
A bad query is refused with 400/422 naming the parameter, before anything is read.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.domain.cases import DEFINITIONS, IN_PROGRESS, NO_OUTCOME, CaseReport
from callrouter.domain.evaluation import VERDICT_NAMES_NL
from callrouter.domain.staff import RESULT_NAMES_NL, ConversationResult
from callrouter.domain.statistics import StatOutcome
from callrouter.services.statistics import cases
from callrouter.web.dashboard import charts, subpage
from callrouter.web.dashboard.figures import OUTCOMES_NL
from callrouter.web.dashboard.pages import parts, refuse
from callrouter.web.dashboard.query import DashboardRefused, Query
from callrouter.web.staff_auth.context import Who, who

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE = "/staff/dashboard/zaken"
STEM = "zaken"  # of the download file names
KIND_NL = {"blind": "Blind doorverbonden", "consult": "Na overleg", "three_way": "Met z'n drieën"}


def outcome_name(key: str) -> str:
    if key in ConversationResult.__members__.values():
        return RESULT_NAMES_NL[ConversationResult(key)]
    if key in StatOutcome.__members__.values():
        return OUTCOMES_NL[StatOutcome(key)]
    return {NO_OUTCOME: "Opgenomen, geen uitkomst genoteerd", IN_PROGRESS: "Nog bezig"}.get(key, key)


def definitions(window: int) -> dict[str, dict[str, str]]:
    return {name: {"nl": nl.format(window=window), "en": en.format(window=window)}
            for name, (nl, en) in DEFINITIONS.items()}


def as_json(query: Query, report: CaseReport, *, window: int) -> Response:
    body: dict[str, Any] = {
        "period": subpage.period(query),
        "filters": query.filters(),
        "case_window_minutes": window,
        "totals": {"cases": report.cases, "multi_organisation": report.multi, "share": report.share,
                   "with_referral": report.with_referral},
        "combinations": [{"organisations": c.organisations, "cases": c.cases, "referred_to": dict(c.referred)}
                         for c in report.combinations],
        "by_topic": [{"topic": r.key, "cases": r.cases, "multi_organisation": r.multi, "share": r.share}
                     for r in report.by_topic],
        "by_location": [{"location": r.key, "cases": r.cases, "multi_organisation": r.multi, "share": r.share}
                        for r in report.by_location],
        "outcomes": [{"outcome": key, "calls": count} for key, count in report.outcomes],
        "referred_to": [{"organisation": key, "calls": count} for key, count in report.referred_to],
        "verdicts": [{"cases": v.key, "asked": v.asked, "answered": v.answered, "yes": v.yes, "partly": v.partly,
                      "no": v.no, "yes_share": v.share("yes"), "partly_share": v.share("partly"),
                      "no_share": v.share("no")} for v in report.verdicts],
        "collaboration": {"transfers": report.transfers, "with_transfer": report.with_transfer,
                          "pairs": [{"organisations": row.pair, "transfers": row.transfers, "kinds": dict(row.kinds),
                                     "results": dict(row.results), "verdicts": dict(row.verdicts)}
                                    for row in report.collaborations]},
        "definitions": definitions(window),
    }
    return subpage.json_download(body, stem=STEM, query=query)


def as_csv(query: Query, report: CaseReport) -> Response:
    """One table: section (total, combination, topic, location, outcome, referral), key and the numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["first_day", "last_day", "section", "key", "cases", "multi_organisation", "share", "referred_to"])
    span = [query.first_day.isoformat(), query.last_day.isoformat()]

    def share(value: float | None) -> str:
        return "" if value is None else repr(value)

    writer.writerow([*span, "total", "", report.cases, report.multi, share(report.share), ""])
    for combo in report.combinations:
        referred = "; ".join(f"{org} {count}" for org, count in combo.referred)
        writer.writerow([*span, "combination", combo.organisations, combo.cases, combo.cases, "", referred])
    for section, rows in (("topic", report.by_topic), ("location", report.by_location)):
        for row in rows:
            writer.writerow([*span, section, row.key, row.cases, row.multi, share(row.share), ""])
    for key, count in report.outcomes:
        writer.writerow([*span, "outcome", key, count, "", "", ""])
    for key, count in report.referred_to:
        writer.writerow([*span, "referral", key, count, "", "", ""])
    for verdict in report.verdicts:  # key "multi|yes": calls of multi-organisation cases answered yes, ...
        writer.writerow([*span, "verdict", f"{verdict.key}|asked", verdict.asked, "", "", ""])
        for answer in ("yes", "partly", "no"):
            writer.writerow([*span, "verdict", f"{verdict.key}|{answer}", getattr(verdict, answer), "",
                             share(verdict.share(answer)), ""])
    # transfers between organisations: key "UWV → TSL", and "UWV → TSL|consult", "UWV → TSL|resolved", ...
    for pair_row in report.collaborations:
        writer.writerow([*span, "transfer", pair_row.pair, pair_row.transfers, "", "", ""])
        for section, counts in (("transfer_kind", pair_row.kinds), ("transfer_result", pair_row.results),
                                ("transfer_verdict", pair_row.verdicts)):
            for key, count in counts:
                writer.writerow([*span, section, f"{pair_row.pair}|{key}", count, "", "", ""])
    return subpage.csv_download(out.getvalue(), stem=STEM, query=query)


@router.get("/dashboard/zaken")
def cases_page(request: Request, person: Who = Depends(who)) -> Response:
    try:
        asked = subpage.ask(request, person)
    except DashboardRefused as exc:
        return refuse(request, person, exc, request.query_params.get("format", "html"))
    query, window = asked.query, asked.web.settings.case_window_minutes
    filters = cases.CaseFilters(first_day=query.first_day, last_day=query.last_day, organisation=query.organisation,
                                topic=query.topic, location=query.location, line_kind=query.line_kind)
    report = cases.report(parts(request).case_store, filters=filters)
    if query.format == "json":
        return as_json(query, report, window=window)
    if query.format == "csv":
        return as_csv(query, report)
    chart = charts.outcome_bars([(c.organisations, c.organisations, c.cases) for c in report.combinations])
    return subpage.render(request, person, asked, template="cases.html", page=PAGE, values={
        "report": report, "chart": chart, "definitions": {k: v["nl"] for k, v in definitions(window).items()},
        "outcomes": [(outcome_name(key), count) for key, count in report.outcomes],
        "outcome_total": sum(count for _, count in report.outcomes),
        "collaborations": [(row.pair, row.transfers, [(KIND_NL.get(k, k), n) for k, n in row.kinds],
                            [(outcome_name(k), n) for k, n in row.results],
                            [(VERDICT_NAMES_NL.get(k, k), n) for k, n in row.verdicts])
                           for row in report.collaborations],
    })
