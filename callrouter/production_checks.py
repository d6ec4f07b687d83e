"""What production refuses to start with, and what it only warns about (CALLROUTER_ENVIRONMENT=production).

`Settings` calls `refusals` when it is built in production and raises InsecureSettings naming every
setting at fault; `warnings` is logged at start-up (callrouter.web.app). Secrets are never printed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

MIN_SECRET_LENGTH = 32
SAFE_SSLMODES = frozenset({"require", "verify-ca", "verify-full"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class Settings(Protocol):
    """What these checks read of callrouter.config.Settings (which calls them: no import back)."""

    @property
    def environment(self) -> str: ...
    @property
    def twilio_auth_token(self) -> SecretStr: ...
    @property
    def pseudonym_key(self) -> SecretStr: ...
    @property
    def callback_number_key(self) -> SecretStr: ...
    @property
    def metrics_token(self) -> SecretStr: ...
    @property
    def api_tokens(self) -> SecretStr: ...
    @property
    def oidc_providers(self) -> SecretStr: ...
    @property
    def public_url(self) -> str: ...
    @property
    def redis_url(self) -> str: ...
    @property
    def database_url(self) -> str: ...
    @property
    def metrics_allow_networks(self) -> str: ...
    @property
    def log_level(self) -> str: ...
    @property
    def allow_plain_redis(self) -> bool: ...
    @property
    def allow_plain_database(self) -> bool: ...
    @property
    def security_contact(self) -> str: ...
    @property
    def security_expires(self) -> datetime | None: ...
    @property
    def is_sqlite(self) -> bool: ...
    @property
    def serves_api_docs(self) -> bool: ...


def _secrets(settings: Settings) -> list[tuple[str, str, bool]]:
    """(setting, value, whether the length rule applies) for every secret the service holds."""
    found = [
        ("CALLROUTER_TWILIO_AUTH_TOKEN", settings.twilio_auth_token.get_secret_value(), True),
        ("CALLROUTER_PSEUDONYM_KEY", settings.pseudonym_key.get_secret_value(), True),
        ("CALLROUTER_CALLBACK_NUMBER_KEY", settings.callback_number_key.get_secret_value(), True),
    ]
    metrics_token = settings.metrics_token.get_secret_value()
    if metrics_token:
        found.append(("CALLROUTER_METRICS_TOKEN", metrics_token, True))
    for entry in settings.api_tokens.get_secret_value().split(","):
        entry = entry.strip()
        if entry.startswith("sha256:"):  # a stored hash (web/api_auth.py): checked for reuse, not for length
            digest = entry.split(":", 2)[1].strip()
            if digest:
                found.append(("CALLROUTER_API_TOKENS", digest, False))
            continue
        token = entry.split(":", 1)[0].strip()
        if token:
            found.append(("CALLROUTER_API_TOKENS", token, True))
    try:  # the providers' own secrets: chosen by the provider, so only checked for reuse
        providers = json.loads(settings.oidc_providers.get_secret_value() or "[]")
    except ValueError:
        providers = []
    for provider in providers if isinstance(providers, list) else []:
        secret = provider.get("client_secret") if isinstance(provider, dict) else None
        if isinstance(secret, str) and secret:
            found.append(("CALLROUTER_OIDC_PROVIDERS", secret, False))
    return found


def _secret_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    secrets = _secrets(settings)
    short = sorted({name for name, value, sized in secrets if sized and len(value) < MIN_SECRET_LENGTH})
    problems += [f"{name} is shorter than {MIN_SECRET_LENGTH} characters" for name in short]
    seen: dict[str, str] = {}
    reused: set[tuple[str, str]] = set()
    for name, value, _sized in secrets:
        if value in seen:
            reused.add((seen[value], name))
        else:
            seen[value] = name
    for first, second in sorted(reused):
        same = f"{first} holds the same secret twice" if first == second else f"{first} and {second} hold the same secret"
        problems.append(f"{same} (each secret must be used once)")
    return problems


def _is_local_host(host: str | None) -> bool:
    """No host (a Unix socket), a socket path, or a loopback name or address: traffic never leaves the machine."""
    if not host or host.startswith("/"):
        return True
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _plain_redis(settings: Settings) -> bool:
    parts = urlsplit(settings.redis_url)
    return parts.scheme == "redis" and not _is_local_host(parts.hostname)


def _plain_database(settings: Settings) -> bool:
    parts = urlsplit(settings.database_url)
    if not parts.scheme.startswith("postgres"):
        return False
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or [""])[0]
    if _is_local_host(host):
        return False
    return (query.get("sslmode") or [""])[0] not in SAFE_SSLMODES


def _open_metrics(settings: Settings) -> list[str]:
    """Networks beyond private and loopback addresses ("everyone", e.g. 0.0.0.0/0) allowed without a token."""
    if settings.metrics_token.get_secret_value():
        return []
    wide = []
    for entry in settings.metrics_allow_networks.split(","):
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            continue  # a bad entry stops start-up in callrouter.web.metrics, with its own message
        if not (network.is_private or network.is_loopback):
            wide.append(str(network))
    return wide


def _debug_logging(level: str) -> bool:
    value = level.strip().upper()
    number = int(value) if value.isdigit() else logging.getLevelName(value)
    return isinstance(number, int) and number <= logging.DEBUG


def refusals(settings: Settings) -> list[str]:
    """Every reason production must not start with these settings, each naming the setting."""
    problems = _secret_problems(settings)
    if urlsplit(settings.public_url).scheme != "https":
        problems.append("CALLROUTER_PUBLIC_URL must be an https:// URL (Secure cookies, HSTS, webhook signatures)")
    wide = _open_metrics(settings)
    if wide:
        problems.append(f"CALLROUTER_METRICS_ALLOW_NETWORKS opens /metrics to {', '.join(wide)} without "
                        "CALLROUTER_METRICS_TOKEN: set a token or allow only private networks")
    if _debug_logging(settings.log_level):
        problems.append("CALLROUTER_LOG_LEVEL must not be DEBUG in production (use INFO or higher)")
    if _plain_redis(settings) and not settings.allow_plain_redis:
        problems.append("CALLROUTER_REDIS_URL is plain redis:// to another host: use rediss:// (TLS), "
                        "or set CALLROUTER_ALLOW_PLAIN_REDIS=true on a network you trust")
    if _plain_database(settings) and not settings.allow_plain_database:
        problems.append("CALLROUTER_DATABASE_URL reaches PostgreSQL on another host without "
                        "sslmode=require|verify-ca|verify-full: add ?sslmode=verify-full, "
                        "or set CALLROUTER_ALLOW_PLAIN_DATABASE=true on a network you trust")
    return problems


def warnings(settings: Settings, *, now: datetime | None = None) -> list[str]:
    """What start-up logs as a warning in production (nothing outside production)."""
    if settings.environment != "production":
        return []
    found = []
    if _plain_redis(settings):
        found.append("CALLROUTER_REDIS_URL: plain redis:// to another host (allowed by CALLROUTER_ALLOW_PLAIN_REDIS)")
    if _plain_database(settings):
        found.append("CALLROUTER_DATABASE_URL: PostgreSQL without TLS (allowed by CALLROUTER_ALLOW_PLAIN_DATABASE)")
    if settings.is_sqlite:
        found.append("CALLROUTER_DATABASE_URL: SQLite in production (one machine only; PostgreSQL is meant)")
    if settings.serves_api_docs:
        found.append("CALLROUTER_API_DOCS: /docs, /redoc and /openapi.json are served in production")
    if not settings.security_contact:
        found.append("CALLROUTER_SECURITY_CONTACT is not set: no /.well-known/security.txt")
    elif settings.security_expires is not None and settings.security_expires <= (now or datetime.now(UTC)):
        found.append("CALLROUTER_SECURITY_EXPIRES has passed: /.well-known/security.txt is stale")
    return found
