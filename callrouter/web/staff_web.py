"""Wires the staff side into the app: login and sessions, the liaison console, static files, headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from callrouter.bootstrap import Container
from callrouter.config import Settings
from callrouter.services.staff.console import ConsoleDeps
from callrouter.web.audit import AuditTrail, account_in
from callrouter.web.console.audit_routes import router as audit_router
from callrouter.web.console.callback_routes import router as callback_router
from callrouter.web.console.routes import router as console_router
from callrouter.web.dashboard.routes import install_dashboard
from callrouter.web.dashboard.routes import router as dashboard_router
from callrouter.web.security import security_event, too_many
from callrouter.web.staff_auth.context import (
    TEMPLATES_DIR,
    NotLoggedIn,
    RateLimited,
    StaffPageError,
    StaffWeb,
    staff_web,
)
from callrouter.web.staff_auth.headers import StaffSecurityHeaders, content_security_policy
from callrouter.web.staff_auth.providers import build_providers
from callrouter.web.staff_auth.routes import router as auth_router
from callrouter.web.staff_auth.sessions import SessionStore

STATIC_DIR = Path(__file__).resolve().parent / "console" / "static"


def install_staff_web(app: FastAPI, container: Container, settings: Settings) -> StaffWeb:
    providers = build_providers(settings.oidc_providers.get_secret_value(), environment=settings.environment)
    web = StaffWeb(
        settings=settings, providers=providers,
        sessions=SessionStore(container.redis, idle_seconds=settings.staff_session_idle_seconds,
                              absolute_seconds=settings.staff_session_absolute_seconds,
                              login_ttl_seconds=settings.staff_login_ttl_seconds,
                              pending_per_source=settings.staff_login_pending_per_source),
        accounts=container.parts.staff_accounts,
        # container.voice as create_app received it (tests swap its clock and telephony before)
        console=ConsoleDeps(voice=container.voice, calls=container.parts.call_queries,
                            outcomes=container.parts.outcomes,
                            outcome_edit_seconds=settings.staff_outcome_edit_seconds,
                            record_within_days=settings.retention_conversation_note_days,
                            voice_messages=container.parts.voice_messages),
        templates=Jinja2Templates(directory=str(TEMPLATES_DIR)),
    )
    app.state.staff = web
    app.include_router(auth_router)
    app.include_router(console_router)
    app.include_router(callback_router)
    app.include_router(dashboard_router)
    app.include_router(audit_router)
    install_dashboard(app, settings)  # targets from settings, drill-down pages
    app.mount("/staff/static", StaticFiles(directory=str(STATIC_DIR)), name="staff-static")
    app.add_middleware(StaffSecurityHeaders, csp=content_security_policy([p.issuer for p in providers.values()]))
    app.add_middleware(AuditTrail, log=container.parts.audit)  # who opened which call page, drill-down, export

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, _exc: NotLoggedIn) -> Response:
        if request.url.path.endswith("/live") or request.method != "GET":
            if request.method != "GET":
                security_event(request, "http_401", reason="no session")
            return JSONResponse({"error": "not_logged_in"}, status_code=401)
        return RedirectResponse("/staff/inloggen?verlopen=1" if request.cookies.get(web.session_cookie)
                                else "/staff/inloggen", status_code=303)

    @app.exception_handler(RateLimited)
    async def _rate_limited(_request: Request, exc: RateLimited) -> Response:
        return too_many(exc.verdict, json=exc.json)

    @app.exception_handler(StaffPageError)
    async def _page_error(request: Request, exc: StaffPageError) -> Response:
        if exc.status == 404:  # another organisation's call, callback or liaison answers as if absent
            security_event(request, "not_found_or_other_organisation", account=account_in(request.scope) or "-")
        elif exc.status in (401, 403) and exc.title != "Verzoek geweigerd":  # CSRF and Origin are logged already
            security_event(request, f"http_{exc.status}", account=account_in(request.scope) or "-")
        return staff_web(request).render(request, "error.html", {"title": exc.title, "message": exc.message},
                                         status=exc.status)

    return web
