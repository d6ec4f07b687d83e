"""Production refuses weak settings, each refusal naming the setting (callrouter/production_checks.py)."""

from __future__ import annotations

import pytest

from callrouter.config import InsecureSettings, Settings
from callrouter.production_checks import warnings

GOOD = {"environment": "production", "twilio_auth_token": "t" * 32, "pseudonym_key": "p" * 32,
        "api_tokens": "a" * 40 + ":admin:*," + "b" * 40 + ":liaison:UWV", "callback_number_key": "c" * 32,
        "public_url": "https://bel.example.nl"}


def refused(**changes: object) -> str:
    with pytest.raises(InsecureSettings) as raised:
        Settings(**{**GOOD, **changes})
    return str(raised.value)


def test_good_settings_start() -> None:
    assert Settings(**GOOD).environment == "production"


@pytest.mark.parametrize(("changes", "named"), [
    ({"twilio_auth_token": "x"}, "CALLROUTER_TWILIO_AUTH_TOKEN is shorter than 32"),
    ({"pseudonym_key": "k" * 31}, "CALLROUTER_PSEUDONYM_KEY is shorter than 32"),
    ({"callback_number_key": "short"}, "CALLROUTER_CALLBACK_NUMBER_KEY is shorter than 32"),
    ({"api_tokens": "tiny:admin:*"}, "CALLROUTER_API_TOKENS is shorter than 32"),
    ({"metrics_token": "m" * 10}, "CALLROUTER_METRICS_TOKEN is shorter than 32"),
    ({"pseudonym_key": "t" * 32}, "CALLROUTER_TWILIO_AUTH_TOKEN and CALLROUTER_PSEUDONYM_KEY hold the same secret"),
    ({"callback_number_key": "p" * 32}, "CALLROUTER_PSEUDONYM_KEY and CALLROUTER_CALLBACK_NUMBER_KEY hold the same"),
    ({"api_tokens": "a" * 40 + ":admin:*," + "a" * 40 + ":liaison:UWV"}, "CALLROUTER_API_TOKENS holds the same secret"),
    ({"metrics_token": "a" * 40}, "CALLROUTER_METRICS_TOKEN and CALLROUTER_API_TOKENS hold the same secret"),
    ({"oidc_providers": '[{"label": "X", "issuer": "https://idp.example.nl", "client_id": "c", '
                        '"client_secret": "' + "p" * 32 + '"}]'}, "and CALLROUTER_OIDC_PROVIDERS hold the same"),
    ({"public_url": "http://bel.example.nl"}, "CALLROUTER_PUBLIC_URL must be an https:// URL"),
    ({"metrics_allow_networks": "0.0.0.0/0"}, "CALLROUTER_METRICS_ALLOW_NETWORKS opens /metrics to 0.0.0.0/0"),
    ({"metrics_allow_networks": "127.0.0.0/8,::/0"}, "opens /metrics to ::/0"),
    ({"log_level": "DEBUG"}, "CALLROUTER_LOG_LEVEL must not be DEBUG"),
    ({"log_level": "debug"}, "CALLROUTER_LOG_LEVEL"),
    ({"log_level": "5"}, "CALLROUTER_LOG_LEVEL"),
    ({"redis_url": "redis://redis.internal:6379/0"}, "CALLROUTER_REDIS_URL is plain redis://"),
    ({"database_url": "postgresql+psycopg://cr:pw@db.internal/callrouter"}, "CALLROUTER_DATABASE_URL reaches PostgreSQL"),
    ({"database_url": "postgresql+psycopg://cr:pw@db.internal/callrouter?sslmode=prefer"}, "without sslmode="),
])
def test_production_refuses_and_names_the_setting(changes: dict[str, object], named: str) -> None:
    message = refused(**changes)
    assert named in message
    for value in changes.values():  # the secrets themselves are never in the message
        if isinstance(value, str) and len(value) >= 32 and "//" not in value:
            assert value not in message


def test_every_problem_is_named_at_once() -> None:
    message = refused(pseudonym_key="short", public_url="http://x.nl", log_level="DEBUG")
    assert "CALLROUTER_PSEUDONYM_KEY" in message and "CALLROUTER_PUBLIC_URL" in message
    assert "CALLROUTER_LOG_LEVEL" in message


def test_default_callback_number_key_is_refused_with_the_other_defaults() -> None:
    message = refused(callback_number_key="")
    assert "default secrets: CALLROUTER_CALLBACK_NUMBER_KEY" in message
    with pytest.raises(InsecureSettings, match="CALLROUTER_CALLBACK_NUMBER_KEY"):
        Settings(**{k: v for k, v in GOOD.items() if k != "callback_number_key"})


@pytest.mark.parametrize("changes", [
    {"metrics_allow_networks": "0.0.0.0/0", "metrics_token": "m" * 32},  # open to all, but with a token
    {"metrics_allow_networks": "127.0.0.0/8,10.20.0.5/32,fd00::/8"},  # private only, no token
    {"redis_url": "rediss://redis.internal:6380/0"},
    {"redis_url": "redis://127.0.0.1:6379/0"}, {"redis_url": "redis://localhost/0"}, {"redis_url": "unix:///run/redis.sock"},
    {"database_url": "postgresql+psycopg://cr:pw@db.internal/callrouter?sslmode=verify-full"},
    {"database_url": "postgresql+psycopg://cr:pw@127.0.0.1:5432/callrouter"},
    {"database_url": "postgresql+psycopg://cr@/callrouter?host=/run/postgresql"},
    {"log_level": "WARNING"},
])
def test_production_accepts(changes: dict[str, object]) -> None:
    assert Settings(**{**GOOD, **changes}).environment == "production"


def test_plain_connections_when_explicitly_allowed_are_warned_about() -> None:
    settings = Settings(**GOOD, redis_url="redis://redis.internal/0", allow_plain_redis=True,
                        database_url="postgresql+psycopg://cr:pw@db.internal/callrouter", allow_plain_database=True)
    found = warnings(settings)
    assert any(w.startswith("CALLROUTER_REDIS_URL") for w in found)
    assert any(w.startswith("CALLROUTER_DATABASE_URL") for w in found)
    assert any(w.startswith("CALLROUTER_SECURITY_CONTACT") for w in found)


def test_other_environments_accept_development_settings() -> None:
    settings = Settings(environment="test", log_level="DEBUG", metrics_allow_networks="0.0.0.0/0")
    assert warnings(settings) == [] and settings.serves_api_docs
    assert not Settings(**GOOD).serves_api_docs
