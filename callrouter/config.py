"""One validated settings object; read once at start-up and passed in, never read ad hoc."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
DEV_SECRET = "dev-secret-not-secret"
DEV_API_TOKEN = "dev-api-token-not-secret"
REPO_ROOT = Path(__file__).resolve().parent.parent


class InsecureSettings(RuntimeError):
    """Start-up refused: a default secret outside development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLROUTER_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'callrouter.sqlite3'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    public_url: str = "http://127.0.0.1:8000"

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: SecretStr = SecretStr(DEV_AUTH_TOKEN)
    twilio_api_base_url: str = "https://api.twilio.com"

    # Keys apart from the data: pseudonyms in statistics and logs, hashed PINs are argon2.
    pseudonym_key: SecretStr = SecretStr(DEV_SECRET)
    # Bearer tokens for the JSON API, "token:role:organisation" entries separated by commas;
    # replaced by OpenID Connect sessions for people (see README).
    api_tokens: SecretStr = SecretStr(f"{DEV_API_TOKEN}:admin:*")

    ivr_flows_dir: Path = REPO_ROOT / "ivr_flows"
    directory_cache_seconds: float = Field(5.0, ge=0)
    # Said when no organisation's own number fits (Informatie Rijksoverheid).
    general_public_phone: str = "1400"
    log_level: str = "INFO"
    timezone: str = "Europe/Amsterdam"

    # Identification
    pin_max_tries: int = Field(3, ge=1, le=5)
    lockout_after_failed_calls: int = Field(3, ge=1)
    lockout_seconds: int = Field(900, ge=1)

    # Routing
    widen_after_seconds: float = Field(60.0, ge=0)
    citizen_promote_after_seconds: float = Field(600.0, ge=0)
    dial_timeout_seconds: int = Field(20, ge=5, le=600)
    wrap_up_seconds: int = Field(0, ge=0)

    # Waiting announcements (UX defaults)
    announce_wait_after_seconds: int = 30
    announce_every_seconds: int = 90
    hold_music_url: str = ""

    # Webhook replay window: the same signed request within it has one effect.
    replay_window_seconds: int = 3600

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        defaults = {
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token.get_secret_value() in ("", DEV_AUTH_TOKEN),
            "PSEUDONYM_KEY": self.pseudonym_key.get_secret_value() in ("", DEV_SECRET),
            "API_TOKENS": DEV_API_TOKEN in self.api_tokens.get_secret_value(),
        }
        bad = [name for name, is_default in defaults.items() if is_default]
        if bad:
            names = ", ".join(f"CALLROUTER_{name}" for name in bad)
            raise InsecureSettings(f"refusing to start in production with default secrets: {names}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
