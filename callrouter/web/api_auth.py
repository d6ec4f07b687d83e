"""Bearer tokens for the JSON API (machine clients and, until OpenID Connect login, staff tools).

CALLROUTER_API_TOKENS holds "token:role:organisation" entries; organisation "*" sees all.
Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLES = ("admin", "supervisor", "liaison")
bearer = HTTPBearer(auto_error=False, description="API token: Authorization: Bearer <token>")


@dataclass(frozen=True)
class ApiUser:
    role: str
    organisation: str  # "*" for all organisations


def parse_tokens(raw: str) -> list[tuple[str, ApiUser]]:
    entries = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        token, _, rest = item.partition(":")
        role, _, organisation = rest.partition(":")
        if not token or role not in ROLES:
            raise ValueError(f"CALLROUTER_API_TOKENS: entry must be token:role:organisation with role in {ROLES}")
        entries.append((token, ApiUser(role, organisation or "*")))
    return entries


def api_user(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    tokens: list[tuple[str, ApiUser]] = request.app.state.api_tokens
    found: ApiUser | None = None
    for token, user in tokens:
        if hmac.compare_digest(token.encode(), credentials.credentials.encode()):
            found = user
    if found is None:
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    return found
