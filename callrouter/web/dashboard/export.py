"""CSV and JSON exports of a dashboard view and of a drill-down: the same period, filters and numbers as the page.

Figures carry their names from callrouter.domain.statistics_definitions; shares are fractions (0-1),
times in seconds, an empty figure (nothing to divide by) is empty in CSV and null in JSON.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from callrouter.domain.statistics import StatsPolicy
from callrouter.domain.statistics_definitions import definition
from callrouter.domain.statistics_drilldown import CALLBACK_FIGURES, CallbackLine, CallLine
from callrouter.domain.statistics_totals import Totals
from callrouter.services.statistics.drilldown import Drill
from callrouter.web.dashboard.figures import Dashboard, DashboardTargets, evaluation
from callrouter.web.dashboard.query import Query

FILTER_COLUMNS = ("organisation", "topic", "location", "line_kind")


def figures(totals: Totals, policy: StatsPolicy) -> dict[str, float | int | None]:
    """Totals.figures() with every configured threshold present (0 answered within it on an empty day)."""
    filled = Totals()
    filled.merge(totals)
    for threshold in policy.answer_thresholds_seconds:
        filled.within.setdefault(threshold, 0)
    return filled.figures()


def _name(query: Query, fmt: str) -> str:
    org = f"-{query.organisation}" if query.organisation else ""
    return f"callrouter-overzicht{org}-{query.first_day.isoformat()}-{query.last_day.isoformat()}.{fmt}"


def _cell(value: object) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def as_csv(query: Query, data: Dashboard, policy: StatsPolicy) -> Response:
    """One row per local day of the period (empty days included), after a header row."""
    names = list(figures(Totals(), policy))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["day", *FILTER_COLUMNS, *names])
    filters = query.filters()
    for day, totals in data.days:
        values = figures(totals, policy)
        writer.writerow([day.isoformat(), *(filters[c] or "" for c in FILTER_COLUMNS),
                         *(_cell(values.get(n)) for n in names)])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_name(query, "csv")}"'})


def as_json(query: Query, data: Dashboard, policy: StatsPolicy, *, targets: DashboardTargets,
            threshold: int) -> Response:
    names = list(figures(Totals(), policy))
    body: dict[str, Any] = {
        "period": {"name": query.period, "first_day": query.first_day.isoformat(),
                   "last_day": query.last_day.isoformat(), "zone": "Europe/Amsterdam"},
        "filters": query.filters(),
        "service_level_threshold_seconds": threshold,
        "targets": {name: {"good": band.good, "attention": band.attention, "higher_is_better": band.higher_is_better}
                    for name, band in vars(targets).items()},
        "totals": figures(data.totals, policy),
        "days": [{"day": day.isoformat(), **figures(t, policy)} for day, t in data.days],
        "hours": [{"hour": hour, **figures(t, policy)} for hour, t in data.hours],
        "organisation_topic": [{"organisation": org, "topic": topic, **figures(t, policy)}
                               for org, topic, t in data.heat],
        "organisations": [{"organisation": row.key, **figures(row.totals, policy), "results_recorded_state": row.state}
                          for row in evaluation(data, targets=targets)["organisation"]],
        "locations": [{"location": loc, **figures(t, policy)} for loc, t in data.locations],
        "definitions": {},
    }
    for name in names:
        found = definition(name, short_abandon_seconds=policy.short_abandon_seconds)
        if found:
            body["definitions"][name] = {"nl": found.nl, "en": found.en, "formula": found.formula}
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{_name(query, "json")}"'})


# -- the drill-down ------------------------------------------------------------------------------

CALL_COLUMNS = ("received_at", "location", "organisation", "topic", "line_kind", "caller_masked", "wait_seconds",
                "talk_seconds", "outcome", "callback_conversation", "result", "verdict_asked", "verdict", "call_id")
CALLBACK_COLUMNS = ("requested_at", "location", "organisation", "topic", "line_kind", "number_masked",
                    "callback_state", "callback_id")


def _call_row(line: CallLine, zone: ZoneInfo, *, per_liaison: bool, names: dict[int, str]) -> dict[str, Any]:
    dims = line.dimensions
    row: dict[str, Any] = {
        "received_at": line.received_at.astimezone(zone).isoformat(), "location": dims.location,
        "organisation": dims.organisation, "topic": dims.topic, "line_kind": dims.line_kind,
        "caller_masked": line.caller_masked, "wait_seconds": line.facts.wait_seconds,
        "talk_seconds": line.facts.talk_seconds, "outcome": line.outcome,
        "callback_conversation": line.facts.evaluation.callback_conversation, "result": line.facts.evaluation.result,
        "verdict_asked": line.facts.evaluation.verdict_asked,
        "verdict": line.facts.evaluation.verdict.value if line.facts.evaluation.verdict else None, "call_id": line.id}
    if per_liaison:
        row["liaison_id"] = line.liaison_id
        row["liaison"] = names.get(line.liaison_id) if line.liaison_id is not None else None
    return row


def _callback_row(line: CallbackLine, zone: ZoneInfo) -> dict[str, Any]:
    dims = line.dimensions
    return {"requested_at": line.requested_at.astimezone(zone).isoformat(), "location": dims.location,
            "organisation": dims.organisation, "topic": dims.topic, "line_kind": dims.line_kind,
            "number_masked": line.number_masked, "callback_state": line.state, "callback_id": line.callback_id}


def drill_export(query: Query, drill: Drill, *, fmt: str, cijfer: str, hour: int | None, liaison_id: int | None,
                 zone: ZoneInfo) -> Response:
    """Every call (or callback) behind the figure, not only one page; numbers masked."""
    per_liaison = drill.liaisons is not None
    if drill.figure in CALLBACK_FIGURES.values():
        columns, rows = CALLBACK_COLUMNS, [_callback_row(c, zone) for c in drill.callbacks]
    else:
        columns = (*CALL_COLUMNS, *(("liaison_id", "liaison") if per_liaison else ()))
        rows = [_call_row(c, zone, per_liaison=per_liaison, names=drill.liaison_names) for c in drill.calls]
    org = f"-{query.organisation}" if query.organisation else ""
    name = f"callrouter-gesprekken-{cijfer}{org}-{query.first_day.isoformat()}-{query.last_day.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    body: dict[str, Any] = {
        "period": {"name": query.period, "first_day": query.first_day.isoformat(),
                   "last_day": query.last_day.isoformat(), "zone": "Europe/Amsterdam"},
        "filters": query.filters(), "figure": drill.figure, "cijfer": cijfer, "hour": hour, "count": drill.count,
        "rows": rows,
    }
    if per_liaison:
        body["liaison_id"] = liaison_id
        body["liaisons"] = [{"liaison_id": f.liaison_id, "liaison": f.name, "answered": f.totals.answered,
                             "average_talk_time_seconds": f.totals.average_talk_time_seconds,
                             "average_speed_of_answer_seconds": f.totals.average_speed_of_answer_seconds}
                            for f in drill.liaisons or []]
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json", headers=headers)
