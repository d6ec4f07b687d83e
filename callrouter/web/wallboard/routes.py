"""/staff/wallboard: today's live figures per queue (HTML, works without JavaScript) and /staff/wallboard/live
(JSON for wallboard.js, which polls it every settings.wallboard_refresh_seconds).

Roles as on the dashboard: supervisors and admins see every organisation, a team lead only their
own (another is 403), anyone else 403. An unknown parameter is 400, an unknown value 422, each
naming the parameter. Figures come from the Redis counters (services/wallboard.py), never from SQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from callrouter.adapters.sql.directory_repository import load_snapshot
from callrouter.domain.directory import Organisation
from callrouter.services.calls.deps import CallDeps
from callrouter.services.statistics.wallboard import LiveFilters, read_wallboard
from callrouter.web.dashboard.figures import DashboardTargets
from callrouter.web.dashboard.query import LINE_KINDS_NL, DashboardRefused, Scope, scope_of
from callrouter.web.staff_auth.context import TEMPLATES_DIR, Who, staff_web, who, who_polling
from callrouter.web.wallboard.view import PRESENCE_NL, ROW_HEADERS, Names, page_values

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=[str(HERE / "templates"), str(TEMPLATES_DIR)])
router = APIRouter(prefix="/staff", include_in_schema=False)
FILTERS = ("organisatie", "onderwerp", "loket", "soort")
TITLES = {400: "Ongeldige vraag", 403: "Geen toegang", 422: "Ongeldige vraag", 503: "Niet beschikbaar"}
STATIC = {"wallboard.js": "text/javascript", "wallboard.css": "text/css"}


@dataclasses.dataclass(frozen=True)
class WallQuery:
    filters: LiveFilters
    organisations: tuple[str, ...]  # what the person may see and asked for
    visible: tuple[str, ...]  # what the person may see
    fixed_organisation: bool
    raw: dict[str, str]


def parse(params: Mapping[str, str], *, scope: Scope, organisations: Mapping[str, Organisation],
          location_known: Callable[[str], bool]) -> WallQuery:
    """Check the filters (the dashboard's Dutch names); DashboardRefused naming the parameter."""
    unknown = sorted(set(params) - set(FILTERS))
    if unknown:
        raise DashboardRefused(400, unknown[0], f"Onbekende parameter {unknown[0][:30]!r}; toegestaan: "
                                                f"{', '.join(FILTERS)}.")
    values = {name: params.get(name, "").strip() for name in FILTERS}
    org = values["organisatie"] or None
    if org is not None and org not in organisations:
        raise DashboardRefused(422, "organisatie", f"Onbekende organisatie {org[:20]!r}.")
    visible = tuple(sorted(organisations)) if scope.all_organisations else scope.organisations
    if org is not None and org not in visible:
        raise DashboardRefused(403, "organisatie", "U bent teamleider van een andere organisatie; u ziet alleen de "
                                                   "cijfers van uw eigen organisatie.")
    fixed = not scope.all_organisations and len(scope.organisations) == 1
    if fixed:
        org = scope.organisations[0]
    topic = values["onderwerp"] or None
    if topic is not None:
        known = {t.code for o in organisations.values() if org in (None, o.code) for t in o.topics} | {"*"}
        if topic not in known:
            raise DashboardRefused(422, "onderwerp", f"Onbekend onderwerp {topic[:20]!r}{f' bij {org}' if org else ''}.")
    location = values["loket"] or None
    if location is not None and not location_known(location):
        raise DashboardRefused(422, "loket", f"Onbekend loket {location[:20]!r}.")
    kind = values["soort"] or None
    if kind is not None and kind not in LINE_KINDS_NL:
        raise DashboardRefused(422, "soort", f"Onbekende soort lijn {kind[:20]!r}; kies uit {', '.join(LINE_KINDS_NL)}.")
    raw = {name: value for name, value in values.items() if value}
    if org:
        raw["organisatie"] = org
    shown = tuple(o for o in visible if org in (None, o))
    return WallQuery(LiveFilters(org, topic, location, kind), shown, visible, fixed, raw)


def _voice(request: Request) -> CallDeps:
    return staff_web(request).console.voice


def _query(request: Request, person: Who) -> WallQuery:
    directory = _voice(request).directory
    scope = scope_of(person.account)
    organisations = {o.code: o for o in directory.all_organisations()}
    return parse(dict(request.query_params), scope=scope, organisations=organisations,
                 location_known=lambda code: directory.location(code) is not None)


def _values(request: Request, query: WallQuery) -> dict[str, Any]:
    voice = _voice(request)
    board = voice.live
    if board is None:
        raise DashboardRefused(503, "wallboard", "De live cijfers worden in deze omgeving niet bijgehouden.")
    settings = staff_web(request).settings
    now = voice.clock.now().astimezone(board.policy.zone)
    wall = read_wallboard(board, voice.directory, now=now, organisations=query.organisations, filters=query.filters)
    targets: DashboardTargets = getattr(request.app.state, "dashboard_targets", None) or DashboardTargets()
    values = page_values(wall, Names(voice.directory), targets=targets, threshold=board.policy.answer_within_seconds,
                         short_abandon=board.policy.short_abandon_seconds)
    values["refresh_seconds"] = settings.wallboard_refresh_seconds
    values["filters"] = {"organisation": query.filters.organisation, "topic": query.filters.topic,
                         "location": query.filters.location, "line_kind": query.filters.line_kind}
    return values


def _refused(request: Request, person: Who, exc: DashboardRefused, *, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"error": "refused", "field": exc.field, "message": exc.message}, status_code=exc.status)
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, "error.html", {"title": TITLES.get(exc.status, "Fout"),
                                              "message": f"{exc.message} (parameter: {exc.field})"},
                      status=exc.status, who=person)


@router.get("/wallboard/static/{name}")
def wallboard_static(name: str) -> Response:
    if name not in STATIC:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name])


@router.get("/wallboard")
def wallboard_page(request: Request, person: Who = Depends(who)) -> Response:
    try:
        query = _query(request, person)
        values = _values(request, query)
    except DashboardRefused as exc:
        return _refused(request, person, exc, as_json=False)
    with request.app.state.container.sessions() as session:
        directory = load_snapshot(session)  # the filter form's lists (the figures read Redis only)
    values.update({
        "q": query, "row_headers": ROW_HEADERS, "presence_names": PRESENCE_NL, "line_kinds": LINE_KINDS_NL,
        "organisations": [directory.organisations[c] for c in query.visible if c in directory.organisations],
        "locations": sorted(directory.locations.values(), key=lambda loc: loc.name),
        "live_url": "/staff/wallboard/live" + (f"?{urlencode(query.raw)}" if query.raw else ""),
        "page_url": "/staff/wallboard" + (f"?{urlencode(query.raw)}" if query.raw else ""),
        "all_organisations": scope_of(person.account).all_organisations,
    })
    web = dataclasses.replace(staff_web(request), templates=TEMPLATES)
    return web.render(request, "wallboard.html", values, who=person)


@router.get("/wallboard/live")
def wallboard_live(request: Request, person: Who = Depends(who_polling)) -> Response:
    """The figures as JSON for the poller (polling keeps no session alive)."""
    try:
        values = _values(request, _query(request, person))
    except DashboardRefused as exc:
        return _refused(request, person, exc, as_json=True)
    return JSONResponse(values, headers={"Cache-Control": "no-store"})
