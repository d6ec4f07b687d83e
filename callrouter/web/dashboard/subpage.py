"""What the dashboard's further pages share (/staff/dashboard/zaken, /menu, /wachttijd): the query read
with the role's scope (a bad one is refused by callrouter.web.dashboard.pages.refuse), the downloads and
the values every filter form needs.

Each page keeps only what is its own: which figures it reads and how it shows them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from starlette.responses import Response

from callrouter.adapters.sql.directory_repository import DirectorySnapshot, load_snapshot
from callrouter.web.dashboard.figures import pct
from callrouter.web.dashboard.pages import TEMPLATES
from callrouter.web.dashboard.query import LINE_KINDS_NL, PERIODS, Query, Scope, parse, scope_of
from callrouter.web.staff_auth.context import StaffWeb, Who, staff_web


@dataclass(frozen=True)
class Asked:
    """A valid query on one of the pages, with what was needed to check it."""

    web: StaffWeb
    zone: ZoneInfo
    scope: Scope
    directory: DirectorySnapshot
    query: Query


def ask(request: Request, person: Who) -> Asked:
    """The page's query, checked against the directory and the person's roles; DashboardRefused when not valid."""
    web = staff_web(request)
    zone = ZoneInfo(web.settings.timezone)
    scope = scope_of(person.account)
    with request.app.state.container.sessions() as session:
        directory = load_snapshot(session)
    query = parse(dict(request.query_params), now=web.console.voice.clock.now(), zone=zone, scope=scope,
                  organisations=directory.organisations, locations=directory.locations)
    return Asked(web=web, zone=zone, scope=scope, directory=directory, query=query)


def export_name(stem: str, query: Query, fmt: str) -> str:
    """callrouter-<stem>[-<organisation>]-<first day>-<last day>.<fmt>"""
    org = f"-{query.organisation}" if query.organisation else ""
    return f"callrouter-{stem}{org}-{query.first_day.isoformat()}-{query.last_day.isoformat()}.{fmt}"


def period(query: Query) -> dict[str, str]:
    """The "period" block of every JSON download."""
    return {"name": query.period, "first_day": query.first_day.isoformat(), "last_day": query.last_day.isoformat(),
            "zone": "Europe/Amsterdam"}


def json_download(body: dict[str, Any], *, stem: str, query: Query) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{export_name(stem, query, "json")}"'})


def csv_download(text: str, *, stem: str, query: Query) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{export_name(stem, query, "csv")}"'})


def render(request: Request, person: Who, asked: Asked, *, template: str, page: str,
           values: dict[str, Any]) -> Response:
    """The page, with what the shared filter form and download links need next to the page's own values."""
    query, scope, directory = asked.query, asked.scope, asked.directory
    common: dict[str, Any] = {
        "q": query, "scope": scope, "pct": pct, "periods": PERIODS, "line_kinds": LINE_KINDS_NL,
        "organisations": [o for o in directory.organisations.values()
                          if scope.all_organisations or o.code in scope.organisations],
        "locations": sorted(directory.locations.values(), key=lambda loc: loc.name),
        "page": page, "csv_link": f"{page}?" + query.export_query("csv"),
        "json_link": f"{page}?" + query.export_query("json"),
    }
    web = dataclasses.replace(asked.web, templates=TEMPLATES)
    return web.render(request, template, {**common, **values}, who=person)
