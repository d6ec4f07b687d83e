"""CSV and JSON exports of a dashboard view: the same period, filters and numbers as the page.

Figures carry their names from callrouter.domain.statistics_definitions; shares are fractions (0-1),
times in seconds, an empty figure (nothing to divide by) is empty in CSV and null in JSON.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.responses import Response

from callrouter.domain.statistics import StatsPolicy
from callrouter.domain.statistics_definitions import definition
from callrouter.domain.statistics_totals import Totals
from callrouter.web.dashboard.figures import Dashboard, DashboardTargets
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
        "definitions": {},
    }
    for name in names:
        found = definition(name, short_abandon_seconds=policy.short_abandon_seconds)
        if found:
            body["definitions"][name] = {"nl": found.nl, "en": found.en, "formula": found.formula}
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{_name(query, "json")}"'})
