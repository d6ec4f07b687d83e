"""Bearer tokens for the JSON API (machine clients and, until OpenID Connect login, staff tools).

CALLROUTER_API_TOKENS holds comma-separated entries `token:role:organisation[:liaison]`:
- organisation "*" sees all organisations;
- a `researcher` token (organisation "*") downloads the research export only (GET /api/research/calls);
- a `liaison` token names the liaison (directory code, e.g. uwv-jan) it belongs to, and moves only that
  liaison's presence;
- the token is stored hashed as `sha256:<64 hex digits>` (the SHA-256 of the token), e.g.
  `sha256:9f86...:liaison:UWV:uwv-jan`; make one with
  `python -c "import hashlib,secrets; t=secrets.token_urlsafe(32); print(t, hashlib.sha256(t.encode()).hexdigest())"`.
  Plain tokens work outside production only.
Tokens are compared (as digests) in constant time. Wrong tokens count against a rate limit per source
address; over it every token from that source gets 429 until the window passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from callrouter.config import InsecureSettings
from callrouter.web.security import API_TOKEN_FAILURE, limits_of, security_event, source_of

ROLES = ("admin", "supervisor", "liaison", "researcher")
bearer = HTTPBearer(auto_error=False, description="API token: Authorization: Bearer <token>")
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ApiUser:
    role: str
    organisation: str  # "*" for all organisations
    liaison: str | None = None  # a liaison token: the liaison's directory code


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(raw: str, *, environment: str = "development") -> list[tuple[str, ApiUser]]:
    """(SHA-256 hex digest of the token, who it is); production refuses tokens that are not hashed."""
    entries = []
    usage = ("CALLROUTER_API_TOKENS: entry must be [sha256:]token:role:organisation[:liaison] "
             f"with role in {ROLES}; a liaison token names its liaison; a researcher token is for all "
             "organisations (*)")
    for item in filter(None, (part.strip() for part in raw.split(","))):
        hashed = item.startswith("sha256:")
        fields = item.split(":")[1:] if hashed else item.split(":")
        if len(fields) < 2 or len(fields) > 4:
            raise ValueError(usage)
        token, role, organisation, liaison = (*fields, "", "")[:4]
        if not token or role not in ROLES or (role == "liaison" and (not liaison or organisation in ("", "*"))):
            raise ValueError(usage)
        if role == "researcher" and (organisation not in ("", "*") or liaison):
            raise ValueError(usage)
        if hashed and not _HEX.match(token):
            raise ValueError("CALLROUTER_API_TOKENS: sha256: must be followed by 64 lower-case hex digits")
        if not hashed and environment == "production":
            raise InsecureSettings("refusing plain API tokens in production: store them as sha256:<hex> "
                                   "(README, JSON API)")
        entries.append((token if hashed else token_digest(token),
                        ApiUser(role, organisation or "*", liaison or None)))
    return entries


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def api_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiUser:
    limits, source = limits_of(request), source_of(request)
    blocked = await run_in_threadpool(limits.check, API_TOKEN_FAILURE, source)
    if not blocked.allowed:
        security_event(request, "rate_limited", limit=API_TOKEN_FAILURE)
        raise HTTPException(429, "too many wrong or missing tokens from this address",
                            headers={"Retry-After": str(blocked.retry_after)})
    found: ApiUser | None = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        sent = token_digest(credentials.credentials).encode()
        tokens: list[tuple[str, ApiUser]] = request.app.state.api_tokens
        for digest, user in tokens:
            if hmac.compare_digest(digest.encode(), sent):
                found = user
    if found is not None:
        return found
    missing = credentials is None or credentials.scheme.lower() != "bearer"
    security_event(request, "http_401", reason="missing token" if missing else "wrong token")
    verdict = await run_in_threadpool(limits.hit, API_TOKEN_FAILURE, source)
    if not verdict.allowed:
        security_event(request, "rate_limited", limit=API_TOKEN_FAILURE)
        raise HTTPException(429, "too many wrong or missing tokens from this address",
                            headers={"Retry-After": str(verdict.retry_after)})
    raise _unauthorised("missing bearer token (Authorization: Bearer <token>)" if missing else "invalid bearer token")


async def operational_user(request: Request, user: ApiUser = Depends(api_user)) -> ApiUser:
    """The token of a queue, presence or callback route: any role but researcher (403, logged)."""
    if user.role == "researcher":
        security_event(request, "http_403", role=user.role, token_organisation=user.organisation)
        raise HTTPException(403, "a researcher token downloads the research export only (GET /api/research/calls)")
    return user


async def researcher_user(request: Request, user: ApiUser = Depends(api_user)) -> ApiUser:
    """The token of the research export: the researcher role only (403, logged)."""
    if user.role != "researcher":
        security_event(request, "http_403", role=user.role, token_organisation=user.organisation)
        raise HTTPException(403, "the research export needs a researcher token")
    return user
