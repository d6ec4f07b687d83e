"""The FastAPI application: voice webhooks, the JSON API, health. Built by create_app() from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from callrouter import pause_points
from callrouter.bootstrap import Container, build
from callrouter.config import Settings
from callrouter.logging_setup import configure_logging
from callrouter.production_checks import warnings as production_warnings
from callrouter.services.errors import CallRouterError
from callrouter.web.api_auth import parse_tokens
from callrouter.web.api_routes import router as api_router
from callrouter.web.body_limit import BodyLimit
from callrouter.web.dashboard.cases import router as cases_router
from callrouter.web.dashboard.menu_usage import router as menu_usage_router
from callrouter.web.dashboard.periods import router as periods_router
from callrouter.web.dashboard.wait_honesty import router as wait_honesty_router
from callrouter.web.hardening import app_options, install_hardening
from callrouter.web.health import install_health
from callrouter.web.metrics import install_metrics
from callrouter.web.research import api_router as research_api_router
from callrouter.web.research import staff_router as research_staff_router
from callrouter.web.security import UnsignedWebhookLimit
from callrouter.web.staff_web import install_staff_web
from callrouter.web.twilio_webhook import WebhookEdge
from callrouter.web.voice_routes import voice_router
from callrouter.web.wallboard.routes import router as wallboard_router

log = logging.getLogger("callrouter")


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    for warning in production_warnings(settings):
        log.warning("settings.%s", warning)
    container = container or build(settings)
    pause_points.install(container)  # test-only; a no-op unless a fault test sets FAULT_TEST_PAUSE_BEFORE

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Said once at start-up (in the log, naming the setting) when a dependency is missing; /readyz
        # keeps answering 503 until it is there.
        await run_in_threadpool(readiness.check)
        yield
        readiness.close()
        container.close()

    app = FastAPI(title="callrouter", version="0.1.0", lifespan=lifespan, **app_options(settings),
                  description="Queue and call routing for the professional lines of government service counters.")
    app.state.container = container
    readiness = install_health(app, container)  # /healthz, /readyz
    app.state.api_tokens = parse_tokens(settings.api_tokens.get_secret_value(), environment=settings.environment)
    token = settings.twilio_auth_token.get_secret_value()
    edge = WebhookEdge(
        deps=container.voice, after=container.after, renderer=container.renderer,
        validator=RequestValidator(token) if token else None, replay=container.replay, public_url=settings.public_url,
    )
    app.include_router(voice_router(edge))
    install_metrics(app, container, settings, edge)
    app.add_middleware(UnsignedWebhookLimit, limits=container.rate_limits)  # 429 per source after refused signatures
    app.include_router(api_router)
    app.include_router(research_api_router)  # GET /api/research/calls
    install_staff_web(app, container, settings)
    app.include_router(cases_router)  # /staff/dashboard/zaken
    app.include_router(menu_usage_router)  # /staff/dashboard/menu
    app.include_router(wait_honesty_router)  # /staff/dashboard/wachttijd
    app.include_router(periods_router)  # /staff/dashboard/perioden, /vergelijken
    app.include_router(wallboard_router)
    app.include_router(research_staff_router)  # /staff/onderzoek
    install_hardening(app, settings)  # /docs and /redoc (vendored assets) or none, security.txt, HSTS

    @app.exception_handler(CallRouterError)
    async def _typed_error(_request: Request, exc: CallRouterError) -> JSONResponse:
        body: dict[str, object] = {"error": exc.code, "detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    # Outermost: no body past its limit is read by anything inside.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, webhook_max_bytes=settings.webhook_max_body_bytes)
    return app
