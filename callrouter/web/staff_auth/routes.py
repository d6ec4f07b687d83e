"""Login (OpenID Connect code flow with PKCE), logout, session extension, the staff home page."""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlencode

from authlib.integrations.base_client.errors import OAuthError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from callrouter.web.security import LOGIN_START, limits_of, security_event, source_of, too_many
from callrouter.web.staff_auth.context import NotLoggedIn, Who, check_csrf, staff_web, who, who_is_asking
from callrouter.web.staff_auth.id_token import IdTokenInvalid, validate_id_token
from callrouter.web.staff_auth.providers import ProviderUnavailable
from callrouter.web.staff_auth.sessions import PendingLogin, TooManyPendingLogins

log = logging.getLogger("callrouter.staff")
router = APIRouter(prefix="/staff", include_in_schema=False)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/inloggen")
def login_page(request: Request, uitgelogd: int = 0, verlopen: int = 0) -> Response:
    web = staff_web(request)
    try:
        who_is_asking(request, touch=False)
        return _see_other("/staff/")
    except NotLoggedIn:
        pass
    providers = [(key, p.settings.label) for key, p in web.providers.items()]
    return web.render(request, "login.html", {"providers": providers, "logged_out": bool(uitgelogd),
                                              "expired": bool(verlopen)})


@router.get("/inloggen/{key}")
def login_start(key: str, request: Request) -> Response:
    web = staff_web(request)
    provider = web.providers.get(key)
    if provider is None:
        return web.render(request, "error.html", {"title": "Onbekende inlogdienst",
                                                  "message": "Deze inlogdienst kennen we niet."}, status=404)
    source = source_of(request)
    verdict = limits_of(request).hit(LOGIN_START, source)
    if not verdict.allowed:
        security_event(request, "rate_limited", limit=LOGIN_START)
        return too_many(verdict)
    state, nonce, verifier, browser = (secrets.token_urlsafe(32) for _ in range(4))
    try:
        url = provider.authorization_url(redirect_uri=web.url(f"/staff/auth/callback/{key}"), state=state,
                                         nonce=nonce, code_verifier=verifier)
    except ProviderUnavailable as exc:
        log.warning("staff.provider_unavailable provider=%s reason=%s", key, exc)
        return web.render(request, "error.html", {"title": "Inloggen lukt nu niet",
                                                  "message": "De inlogdienst antwoordt niet. Probeer het later opnieuw."},
                          status=503)
    try:
        web.sessions.begin_login(state=state, pending=PendingLogin(key, nonce, verifier, browser), source=source)
    except TooManyPendingLogins as exc:
        security_event(request, "rate_limited", limit="pending_logins")
        return Response("Too many logins under way\n", status_code=429, media_type="text/plain",
                        headers={"Retry-After": str(exc.retry_after)})
    response = _see_other(url)
    web.set_cookie(response, web.login_cookie, browser, max_age=web.sessions.login_ttl_seconds)
    return response


def _refused(request: Request, reason: str, key: str, *, forget_login: bool = True) -> Response:
    log.warning("staff.login_refused provider=%s reason=%s", key, reason)
    web = staff_web(request)
    response = web.render(request, "error.html", {
        "title": "Inloggen mislukt",
        "message": "Het inloggen is niet gelukt of duurde te lang. Probeer het opnieuw.",
        "retry": True}, status=400)
    if forget_login:  # not for an unknown state: a forged callback must not break a login under way
        web.clear_cookie(response, web.login_cookie)
    return response


@router.get("/auth/callback/{key}")
def login_callback(key: str, request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    web = staff_web(request)
    pending = web.sessions.take_login(state, source=source_of(request))  # once only, whatever happens next
    browser = request.cookies.get(web.login_cookie, "")
    if pending is None:
        return _refused(request, "unknown state", key, forget_login=False)
    if pending.provider != key or not browser or not hmac.compare_digest(pending.browser.encode(), browser.encode()):
        return _refused(request, "state of another provider or browser", key)
    if error or not code:
        return _refused(request, f"provider error {error[:40]!r}" if error else "no code", key)
    provider = web.providers[key]
    try:
        token = provider.exchange_code(redirect_uri=web.url(f"/staff/auth/callback/{key}"), code=code,
                                       code_verifier=pending.code_verifier)
        identity = validate_id_token(str(token.get("id_token", "")), provider=provider, nonce=pending.nonce)
    except OAuthError as exc:
        return _refused(request, f"token endpoint {exc.error}", key)
    except IdTokenInvalid as exc:
        return _refused(request, f"id token {exc.reason}", key)
    except ProviderUnavailable as exc:
        return _refused(request, f"provider unavailable {exc}", key)
    account = web.accounts.record_login(issuer=identity.issuer, subject=identity.subject, display_name=identity.name,
                                        at=web.console.voice.clock.now())
    web.sessions.destroy(request.cookies.get(web.session_cookie))  # a new id at every login (no fixation)
    session_id, _session = web.sessions.create(account_id=account.id, provider=key,
                                               id_token=str(token.get("id_token", "")))
    log.info("staff.login account=%s provider=%s roles=%s", account.id, key, len(account.grants))
    response = _see_other("/staff/")
    web.set_cookie(response, web.session_cookie, session_id, max_age=web.settings.staff_session_absolute_seconds)
    web.clear_cookie(response, web.login_cookie)
    return response


@router.post("/uitloggen")
async def logout(request: Request, person: Who = Depends(who)) -> Response:
    await check_csrf(request, person)
    web = staff_web(request)
    web.sessions.destroy(person.session_id)
    log.info("staff.logout account=%s", person.account.id)
    target = "/staff/inloggen?uitgelogd=1"
    provider = web.providers.get(person.session.provider)
    end_session = await run_in_threadpool(provider.end_session_url) if provider else None
    if provider and end_session:
        query = {"post_logout_redirect_uri": web.url(target), "client_id": provider.settings.client_id}
        if person.session.id_token:
            query["id_token_hint"] = person.session.id_token
        target = end_session + ("&" if "?" in end_session else "?") + urlencode(query)
    response = _see_other(target)
    web.clear_cookie(response, web.session_cookie)
    return response


@router.post("/sessie/verlengen")
async def extend_session(request: Request, person: Who = Depends(who)) -> Response:
    """The expiry warning's button: the request itself counts as activity (see `who`)."""
    await check_csrf(request, person)
    web = staff_web(request)
    return JSONResponse({"expires_at": int(web.sessions.expires_at(person.session))})


@router.get("/")
def home(request: Request, person: Who = Depends(who)) -> Response:
    web = staff_web(request)
    if person.account.liaison_grant() is not None:
        return _see_other("/staff/console")
    template = "home.html" if person.account.has_access else "no_access.html"
    return web.render(request, template, {"account": person.account}, who=person)
