"""The configured OpenID providers: settings, discovery metadata and JWKS (cached), the code exchange."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc.jwk import KeySet, KeySetSerialization
from pydantic import BaseModel, Field, TypeAdapter, field_validator

from callrouter.config import InsecureSettings

METADATA_TTL_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 10.0
_KEY = re.compile(r"^[a-z0-9-]{1,32}$")


class ProviderUnavailable(RuntimeError):
    """The provider's discovery document or keys could not be read, or are not what was configured."""


class ProviderSettings(BaseModel):
    key: str = ""  # in the callback URL; defaults to the label, lowercased
    label: str = Field(min_length=1, max_length=80)
    issuer: str = Field(min_length=8)
    client_id: str = Field(min_length=1)
    client_secret: str = ""
    scope: str = "openid profile"

    @field_validator("issuer")
    @classmethod
    def _plain_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("issuer must be an http(s) URL without query or fragment")
        return value  # compared exactly with the `iss` of tokens and discovery

    def slug(self) -> str:
        key = self.key or re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")[:32]
        if not _KEY.match(key):
            raise ValueError(f"provider key {key!r}: use a-z, 0-9 and -")
        return key


def parse_providers(raw: str, *, environment: str) -> list[ProviderSettings]:
    """CALLROUTER_OIDC_PROVIDERS as a list; production refuses plain-http issuers."""
    providers = TypeAdapter(list[ProviderSettings]).validate_json(raw or "[]")
    keys = [p.slug() for p in providers]
    if len(set(keys)) != len(keys):
        raise ValueError("CALLROUTER_OIDC_PROVIDERS: two providers with the same key")
    if environment == "production":
        insecure = [p.label for p in providers if not p.issuer.startswith("https://") or not p.client_secret]
        if insecure:
            raise InsecureSettings(f"refusing OpenID providers without https or client secret: {', '.join(insecure)}")
    return providers


@dataclass
class OidcProvider:
    settings: ProviderSettings
    key: str
    _metadata: dict[str, Any] | None = None
    _keys: KeySet | None = None
    _fetched: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"{self.key}: {type(exc).__name__}") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{self.key}: not a JSON object")
        return body

    def metadata(self, *, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if refresh or self._metadata is None or time.monotonic() - self._fetched > METADATA_TTL_SECONDS:
                meta = self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                if meta.get("issuer") != self.issuer:  # OpenID Connect Discovery 4.3
                    raise ProviderUnavailable(f"{self.key}: discovery names another issuer")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(meta.get(name), str):
                        raise ProviderUnavailable(f"{self.key}: discovery lacks {name}")
                self._metadata, self._keys, self._fetched = meta, None, time.monotonic()
            return self._metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        meta = self.metadata()
        with self._lock:
            if refresh or self._keys is None:
                try:
                    # Any JSON object: import_key_set raises on one that is not a key set (caught below).
                    jwks = cast(KeySetSerialization, self._get(meta["jwks_uri"]))
                    self._keys = KeySet.import_key_set(jwks)
                except ProviderUnavailable:
                    raise
                except Exception as exc:  # noqa: BLE001 - a malformed key set
                    raise ProviderUnavailable(f"{self.key}: bad JWKS ({type(exc).__name__})") from None
            return self._keys

    def client(self, redirect_uri: str) -> OAuth2Session:
        meta = self.metadata()
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return OAuth2Session(self.settings.client_id, self.settings.client_secret or None,
                             scope=self.settings.scope, redirect_uri=redirect_uri, code_challenge_method="S256",
                             token_endpoint_auth_method=method if self.settings.client_secret else "none")

    def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        with self.client(redirect_uri) as client:
            url, _ = client.create_authorization_url(self.metadata()["authorization_endpoint"], state=state,
                                                     nonce=nonce, code_verifier=code_verifier)
        return str(url)

    def exchange_code(self, *, redirect_uri: str, code: str, code_verifier: str) -> dict[str, Any]:
        """The token response for an authorization code; raises on any refusal by the provider."""
        with self.client(redirect_uri) as client:
            token = client.fetch_token(self.metadata()["token_endpoint"], grant_type="authorization_code", code=code,
                                       code_verifier=code_verifier, timeout=HTTP_TIMEOUT_SECONDS)
        return dict(token)

    def end_session_url(self) -> str | None:
        try:
            value = self.metadata().get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        return value if isinstance(value, str) else None


def build_providers(raw: str, *, environment: str) -> dict[str, OidcProvider]:
    return {p.slug(): OidcProvider(p, p.slug()) for p in parse_providers(raw, environment=environment)}
