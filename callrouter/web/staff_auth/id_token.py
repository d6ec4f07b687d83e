"""Validation of an ID token (OpenID Connect Core 3.1.3.7): signature by the provider's JWKS, then claims."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from callrouter.web.staff_auth.providers import OidcProvider

# Asymmetric algorithms only: never "none", never HMAC with a client secret as key.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_SECONDS = 60
MAX_AGE_SECONDS = 600  # an ID token issued longer ago than this is not accepted for a login


class IdTokenInvalid(Exception):
    """The ID token is refused; `reason` is safe to log (no token, no claims)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    name: str | None


def _algorithm(token: str, provider: OidcProvider) -> str:
    try:
        header = extract_compact(token.encode()).protected
    except (JoseError, ValueError):
        raise IdTokenInvalid("malformed") from None
    alg = header.get("alg")
    offered = provider.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
    if alg not in ALLOWED_ALGORITHMS or alg not in offered:
        raise IdTokenInvalid("algorithm")
    return str(alg)


def _decode(token: str, provider: OidcProvider, alg: str) -> dict[str, Any]:
    """Claims of a token whose signature checks out; a failure re-reads the keys once (key rotation)."""
    for refresh in (False, True):
        try:
            return dict(jwt.decode(token, provider.keys(refresh=refresh), algorithms=[alg]).claims)
        except (JoseError, ValueError):
            continue
    raise IdTokenInvalid("signature")


def validate_id_token(token: str, *, provider: OidcProvider, nonce: str,
                      now: Callable[[], float] = time.time) -> Identity:
    """The caller's identity, or IdTokenInvalid naming the first check that failed."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise IdTokenInvalid("missing")
    claims = _decode(token, provider, _algorithm(token, provider))
    moment = now()
    if claims.get("iss") != provider.issuer:
        raise IdTokenInvalid("issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    client_id = provider.settings.client_id
    if client_id not in audiences:
        raise IdTokenInvalid("audience")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenInvalid("authorized party")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp + LEEWAY_SECONDS < moment:
        raise IdTokenInvalid("expired")
    if not isinstance(iat, int | float) or iat - LEEWAY_SECONDS > moment or iat + MAX_AGE_SECONDS < moment:
        raise IdTokenInvalid("issued at")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf - LEEWAY_SECONDS > moment:
        raise IdTokenInvalid("not yet valid")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
        raise IdTokenInvalid("nonce")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise IdTokenInvalid("subject")
    name = claims.get("name")
    return Identity(provider.issuer, subject, name if isinstance(name, str) else None)
