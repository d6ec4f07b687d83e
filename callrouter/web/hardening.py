"""The production edge of the app: API docs from vendored assets (or none), HSTS, security.txt.

- `/docs`, `/redoc`, `/openapi.json`: served in development and test; off in production unless
  CALLROUTER_API_DOCS=true. Their scripts and styles are the copies in the staff static folder
  (`vendor/swagger-ui`, `vendor/redoc`), never a CDN; the pages get a CSP that allows this host only.
- `Strict-Transport-Security` on every response when the public URL is https.
- `/.well-known/security.txt` (RFC 9116) from CALLROUTER_SECURITY_*; 404 when no contact is set.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callrouter.config import Settings

OPENAPI_URL = "/openapi.json"
VENDOR = "/staff/static/vendor"
SECURITY_TXT_PATH = "/.well-known/security.txt"
# Swagger UI's start-up is one inline script (FastAPI's page); Redoc styles inline and runs a worker from a blob.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def app_options(settings: Settings) -> dict[str, Any]:
    """FastAPI's own docs routes are off (they load from a CDN); the schema only where docs are served."""
    return {"docs_url": None, "redoc_url": None, "openapi_url": OPENAPI_URL if settings.serves_api_docs else None}


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = DOCS_CSP
    page.headers["x-frame-options"] = "DENY"
    page.headers["referrer-policy"] = "no-referrer"
    return page


def security_txt(settings: Settings) -> str | None:
    """The security.txt body (RFC 9116), or None when no contact is set."""
    if not settings.security_contact or settings.security_expires is None:
        return None
    lines = [f"Contact: {contact.strip()}" for contact in settings.security_contact.split(",") if contact.strip()]
    lines.append("Expires: " + settings.security_expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if settings.security_policy_url:
        lines.append(f"Policy: {settings.security_policy_url}")
    if settings.security_preferred_languages:
        lines.append(f"Preferred-Languages: {settings.security_preferred_languages}")
    if urlsplit(settings.public_url).scheme == "https":
        lines.append(f"Canonical: {settings.public_url.rstrip('/')}{SECURITY_TXT_PATH}")
    return "\n".join(lines) + "\n"


class StrictTransportSecurity:
    """Adds Strict-Transport-Security to every HTTP response (installed only for an https public URL)."""

    def __init__(self, app: ASGIApp, *, max_age: int):
        self.app = app
        self.header = (b"strict-transport-security", f"max-age={max_age}; includeSubDomains".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == self.header[0] for name, _ in headers):
                    headers.append(self.header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_header)


def install_hardening(app: FastAPI, settings: Settings) -> None:
    if settings.serves_api_docs:
        title = f"{app.title}: API"

        @app.get("/docs", include_in_schema=False)
        def swagger_ui() -> HTMLResponse:
            return _with_csp(get_swagger_ui_html(
                openapi_url=OPENAPI_URL, title=title, oauth2_redirect_url=None,
                swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
                swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
                swagger_ui_parameters={"validatorUrl": None}))  # no badge from validator.swagger.io

        @app.get("/redoc", include_in_schema=False)
        def redoc() -> HTMLResponse:
            return _with_csp(get_redoc_html(
                openapi_url=OPENAPI_URL, title=title, redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
                redoc_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png", with_google_fonts=False))

    body = security_txt(settings)

    @app.get(SECURITY_TXT_PATH, include_in_schema=False)
    def security() -> Response:
        if body is None:
            return PlainTextResponse("no security contact configured\n", status_code=404)
        return PlainTextResponse(body, headers={"cache-control": "max-age=86400"})

    if urlsplit(settings.public_url).scheme == "https" and settings.hsts_max_age_seconds > 0:
        app.add_middleware(StrictTransportSecurity, max_age=settings.hsts_max_age_seconds)
