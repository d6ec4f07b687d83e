"""What the staff pages share: settings, providers, sessions, accounts, templates; and who is asking."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from callrouter.adapters.rate_limits import Verdict
from callrouter.config import Settings
from callrouter.domain.staff import ROLE_NAMES_NL, Account
from callrouter.ports.staff import StaffAccounts
from callrouter.services.staff.console import ConsoleDeps
from callrouter.web.audit import is_export, note_account
from callrouter.web.security import EXPORT, limits_of, security_event
from callrouter.web.staff_auth.providers import OidcProvider
from callrouter.web.staff_auth.sessions import SessionStore, StaffSession

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "console" / "templates"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotLoggedIn(Exception):
    """No live session: pages redirect to the login page, the live fragment answers 401."""


class StaffPageError(Exception):
    """A refusal rendered as a page (404 for other organisations' data, 403 for a bad CSRF token)."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class RateLimited(Exception):
    """Over a rate limit: 429 with Retry-After (staff_web.py renders it)."""

    def __init__(self, verdict: Verdict, *, json: bool = False):
        super().__init__(f"rate limited, retry after {verdict.retry_after} s")
        self.verdict, self.json = verdict, json


@dataclass
class StaffWeb:
    settings: Settings
    providers: dict[str, OidcProvider]
    sessions: SessionStore
    accounts: StaffAccounts
    console: ConsoleDeps
    templates: Jinja2Templates

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.startswith("https://")

    @property
    def session_cookie(self) -> str:
        # __Host-: only over https, for this host and path / only (no subdomain can set or read it)
        return "__Host-callrouter-staff" if self.secure_cookies else "callrouter-staff"

    @property
    def login_cookie(self) -> str:
        return "__Host-callrouter-login" if self.secure_cookies else "callrouter-login"

    def set_cookie(self, response: Response, name: str, value: str, *, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                            secure=self.secure_cookies)

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=self.secure_cookies)

    def url(self, path: str) -> str:
        return self.settings.public_url.rstrip("/") + path

    def render(self, request: Request, template: str, context: dict[str, Any], *, status: int = 200,
               who: Who | None = None) -> Response:
        values = {"who": who, "role_names": ROLE_NAMES_NL, "poll_seconds": self.settings.staff_poll_seconds,
                  "warn_seconds": self.settings.staff_session_warn_seconds, "tz": ZoneInfo(self.settings.timezone),
                  **context}
        if who is not None:
            values["csrf_token"] = who.session.csrf_token
            values["expires_at"] = int(self.sessions.expires_at(who.session))
        return self.templates.TemplateResponse(request, template, values, status_code=status)


@dataclass(frozen=True)
class Who:
    session_id: str
    session: StaffSession
    account: Account


def staff_web(request: Request) -> StaffWeb:
    web: StaffWeb = request.app.state.staff  # set by the app factory; Starlette's State is untyped
    return web


def who_is_asking(request: Request, *, touch: bool = True) -> Who:
    web = staff_web(request)
    session_id = request.cookies.get(web.session_cookie)
    session = web.sessions.load(session_id, touch=touch)
    account = web.accounts.get(session.account_id) if session else None
    if session is None or account is None or session_id is None:
        raise NotLoggedIn()
    return Who(session_id, session, account)


def who(request: Request) -> Who:
    """Dependency: the logged-in person (this request counts as activity); noted for the audit log, and an
    export counts against the person's export limit."""
    person = who_is_asking(request, touch=True)
    note_account(request, person.account.id)
    if is_export(request):
        verdict = limits_of(request).hit(EXPORT, f"account:{person.account.id}")
        if not verdict.allowed:
            security_event(request, "rate_limited", limit=EXPORT, account=person.account.id)
            raise RateLimited(verdict, json=request.query_params.get("format") == "json")
    return person


def who_polling(request: Request) -> Who:
    """Dependency for the polled fragment: logged in, but polling keeps no session alive."""
    return who_is_asking(request, touch=False)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = parts.hostname.lower() + (f":{port}" if port is not None and port != default else "")
    return f"{parts.scheme.lower()}://{netloc}"


def check_origin(request: Request) -> None:
    """A staff POST comes from our own pages: its Origin is the public URL's origin, or, when the browser
    sends no usable Origin (absent, or "null": our pages say Referrer-Policy: no-referrer, which makes
    browsers send "Origin: null" on POSTs), its Sec-Fetch-Site is same-origin, else its Referer is ours.
    A request with none of these (not a browser) is left to the CSRF token alone."""
    own = _origin_of(staff_web(request).settings.public_url)
    origin = (request.headers.get("origin") or "").strip()
    fetch_site = (request.headers.get("sec-fetch-site") or "").strip().lower()
    referer = (request.headers.get("referer") or "").strip()
    if origin and origin != "null":
        ok, header, sent = _origin_of(origin) == own, "origin", origin
    elif fetch_site:
        ok, header, sent = fetch_site == "same-origin", "sec-fetch-site", fetch_site
    elif referer:
        ok, header, sent = _origin_of(referer) == own, "referer", _origin_of(referer) or "?"
    elif origin == "null":
        ok, header, sent = False, "origin", origin
    else:
        return
    if not ok:
        security_event(request, "origin_refused", header=header, sent=sent[:100])
        raise StaffPageError(403, "Verzoek geweigerd",
                             "Dit formulier komt niet van deze website. Laad de pagina opnieuw.")


async def check_csrf(request: Request, person: Who) -> None:
    """Every state-changing request comes from our own origin and carries the session's CSRF token (form
    field or header)."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), person.session.csrf_token.encode()):
        security_event(request, "csrf_refused", account=person.account.id, sent="yes" if sent else "no")
        raise StaffPageError(403, "Verzoek geweigerd",
                             "Dit formulier is verlopen of niet van deze pagina afkomstig. Laad de pagina opnieuw.")
