"""What every dashboard page shares: its templates, the statistics it reads, and refusing a bad query.

Its own module so that the pages (routes, drilldown, cases, menu_usage, wait_honesty, subpage) import it
and not each other.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from callrouter.bootstrap import Parts
from callrouter.services.statistics.statistics import StatsDeps
from callrouter.web.dashboard.query import DashboardRefused
from callrouter.web.security import security_event
from callrouter.web.staff_auth.context import TEMPLATES_DIR, Who, staff_web

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=[str(HERE / "templates"), str(TEMPLATES_DIR)])
TITLES = {400: "Ongeldige vraag", 403: "Geen toegang", 422: "Ongeldige vraag"}


def parts(request: Request) -> Parts:
    """The repositories and policies the app was built with (callrouter.bootstrap)."""
    parts: Parts = request.app.state.container.parts
    return parts


def stats_deps(request: Request) -> StatsDeps:
    web, built = staff_web(request), parts(request)
    return StatsDeps(store=built.stats_store, clock=web.console.voice.clock, policy=built.stats_policy,
                     zone=ZoneInfo(web.settings.timezone))


def refuse(request: Request, person: Who, exc: DashboardRefused, fmt: str) -> Response:
    if exc.status in (401, 403):  # a role that may not see this, or another organisation's figures
        security_event(request, f"http_{exc.status}", account=person.account.id, field=exc.field)
    if fmt in ("csv", "json"):
        return JSONResponse({"error": "refused", "field": exc.field, "message": exc.message}, status_code=exc.status)
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    message = f"{exc.message} (parameter: {exc.field})"
    return web.render(request, "error.html", {"title": TITLES.get(exc.status, "Fout"), "message": message},
                      status=exc.status, who=person)
