"""/staff/dashboard/menu: how often callers choose, press 0 or *, press nothing or a wrong key, per voice menu.

The same period, filters and roles as the dashboard (callrouter.web.dashboard.query): a team lead sees only
the calls that ended up at their organisation (for the organisation menu: not the callers who hung up in it
or chose another organisation). A bad query is refused with 400/422 naming the parameter, before anything is
read. The figures are decided by callrouter.domain.menu_usage; the events come from the SQL adapter.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.domain.ivr import Flow
from callrouter.domain.menu_usage import (
    DEFINITIONS,
    MIN_ANSWERS,
    ORGANISATION_STEP,
    SIGNALS,
    Answer,
    FlowRules,
    MenuRow,
    MenuUsage,
    tally,
)
from callrouter.web.dashboard import charts, subpage
from callrouter.web.dashboard.figures import pct
from callrouter.web.dashboard.pages import parts, refuse
from callrouter.web.dashboard.query import LINE_KINDS_NL, DashboardRefused, Query
from callrouter.web.staff_auth.context import Who, who

router = APIRouter(prefix="/staff", include_in_schema=False)
NBSP = "\u00a0"
PAGE = "/staff/dashboard/menu"
STEM = "menugebruik"  # of the download file names
ANSWERS_NL = {Answer.CHOICE: "Keuze", Answer.PERSON: "0 (medewerker)", Answer.REPEAT: "* (herhalen)",
              Answer.NO_INPUT: "Geen toets (time-out)", Answer.INVALID: "Verkeerde toets"}
SIGNALS_SHORT_NL = {Answer.PERSON: "vaak 0", Answer.REPEAT: "vaak herhalen", Answer.NO_INPUT: "vaak geen toets",
                    Answer.INVALID: "vaak een verkeerde toets"}
CSV_COLUMNS = ["first_day", "last_day", "line_kind", "step", "organisation", "menu", "answers",
               *(a.value for a in Answer), *(f"{a.value}_share" for a in Answer), "next_page", "citizen_number",
               "signals"]


def definitions() -> dict[str, dict[str, str]]:
    return {name: {"nl": nl, "en": en} for name, (nl, en) in DEFINITIONS.items()}


def flow_name(line_kind: str) -> str:
    return LINE_KINDS_NL.get(line_kind, line_kind)


def rules_of(flows: dict[str, Flow]) -> dict[str, FlowRules]:
    """The tries and whether a caller chooses the organisation, per line kind, from the flow files."""
    return {kind: FlowRules(max_tries=flow.max_tries, organisation_menu=ORGANISATION_STEP in flow.steps)
            for kind, flow in flows.items()}


def _row(row: MenuRow) -> dict[str, Any]:
    return {"step": row.step, "organisation": row.organisation or None, "name": row.name_nl, "name_en": row.name_en,
            "complete": row.complete, "answers": row.answers, **{a.value: row.count(a) for a in Answer},
            "next_page": row.next_page, "citizen_number": row.citizen_number,
            "shares": {a.value: row.share(a) for a in Answer}, "signals": [s.answer.value for s in row.signals()]}


def as_json(query: Query, usage: MenuUsage) -> Response:
    body: dict[str, Any] = {
        "period": subpage.period(query),
        "filters": query.filters(),
        "flows": [{"line_kind": flow.line_kind, "name": flow_name(flow.line_kind),
                   "menus": [_row(row) for row in flow.menus], "total": _row(flow.total)} for flow in usage.flows],
        "total": _row(usage.total),
        "signals": {"min_answers": MIN_ANSWERS, **{a.value: threshold for a, (threshold, _, _) in SIGNALS.items()}},
        "definitions": definitions(),
    }
    return subpage.json_download(body, stem=STEM, query=query)


def as_csv(query: Query, usage: MenuUsage) -> Response:
    """One row per menu, then a row per flow (step `total`) and one for all flows (line_kind empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    span = [query.first_day.isoformat(), query.last_day.isoformat()]

    def share(value: float | None) -> str:
        return "" if value is None else repr(value)

    def line(line_kind: str, row: MenuRow, name: str) -> list[object]:
        answers = "" if row.answers is None else row.answers
        return [*span, line_kind, row.step, row.organisation, name, answers, *(row.count(a) for a in Answer),
                *(share(row.share(a)) for a in Answer), row.next_page, row.citizen_number,
                " ".join(s.answer.value for s in row.signals())]

    for flow in usage.flows:
        for row in flow.menus:
            writer.writerow(line(flow.line_kind, row, row.name_nl))
        writer.writerow(line(flow.line_kind, flow.total, f"Totaal {flow_name(flow.line_kind)}"))
    writer.writerow(line("", usage.total, "Totaal"))
    return subpage.csv_download(out.getvalue(), stem=STEM, query=query)


LABEL_WIDTH, BAR_ROOM = 250, charts.WIDTH - 250 - 70


def without_choice_chart(rows: list[MenuRow]) -> charts.Chart:
    """Horizontal bars, one per menu with answers: the share of answers that were no choice (0, *, none, wrong),
    on a scale of 0 to 100 %, the share written next to each bar."""
    shown = [row for row in rows if row.answers]
    chart = charts.Chart(height=charts.TOP + 26 * len(shown) + 8)
    for index, row in enumerate(shown):
        share = 1 - (row.share(Answer.CHOICE) or 0)
        y = charts.TOP + 26 * index
        label = f"{share * 100:.1f} %".replace(".", ",")
        chart.bars.append(charts.Bar(LABEL_WIDTH, y, round(BAR_ROOM * share, 1), 18, charts.OFFERED,
                                     f"{row.name_nl}: {label}"))
        chart.y_ticks.append(charts.Tick(y + 13, row.name_nl))
    return chart


def signal_words(row: MenuRow) -> str:
    """The 'let op' cell: what stands out, in words (never colour alone)."""
    if not row.complete:
        return "–"
    if not row.judged:
        return f"Te weinig beurten (minder dan {MIN_ANSWERS})"
    found = row.signals()
    if not found:
        return "Niets opvallends"
    words = ", ".join(SIGNALS_SHORT_NL[s.answer] for s in found)
    return "Let op: " + words


def _cell(row: MenuRow, answer: Answer) -> str:
    """'3 (30,0 %)'; the share kept on one line (no-break spaces), so a narrow column breaks before it."""
    share = row.share(answer)
    return f"{row.count(answer)} ({pct(share).replace(' ', NBSP)})" if share is not None else str(row.count(answer))


@router.get("/dashboard/menu")
def menu_usage_page(request: Request, person: Who = Depends(who)) -> Response:
    try:
        asked = subpage.ask(request, person)
    except DashboardRefused as exc:
        return refuse(request, person, exc, request.query_params.get("format", "html"))
    query, web, directory = asked.query, asked.web, asked.directory
    events = parts(request).menu_usage.events(
        first_day=query.first_day, last_day=query.last_day, filters=query.filters())
    usage = tally(events, rules=rules_of(web.console.voice.flows))
    if query.format == "json":
        return as_json(query, usage)
    if query.format == "csv":
        return as_csv(query, usage)
    flows = [{"flow": flow, "name": flow_name(flow.line_kind),
              "complete": [row for row in flow.menus if row.complete],
              "wrong_keys_only": [row for row in flow.menus if not row.complete],
              "chart": without_choice_chart([row for row in flow.menus if row.complete])} for flow in usage.flows]
    standing_out = [(flow_name(flow.line_kind), row, row.signals()) for flow in usage.flows for row in flow.menus
                    if row.signals()]
    return subpage.render(request, person, asked, template="menu_usage.html", page=PAGE, values={
        "usage": usage, "flows": flows, "standing_out": standing_out,
        "answers": list(Answer), "answer_names": ANSWERS_NL, "cell": _cell, "signal_words": signal_words,
        "threshold": lambda value: f"{value * 100:g} %", "min_answers": MIN_ANSWERS,
        "definitions": {k: v["nl"] for k, v in definitions().items()},
        "organisation_name": (directory.organisations[query.organisation].name
                              if query.organisation in directory.organisations else query.organisation),
        "label_width": LABEL_WIDTH,
    })
