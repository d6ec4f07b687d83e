"""One validated settings object; read once at start-up and passed in, never read ad hoc."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
DEV_SECRET = "dev-secret-not-secret"
DEV_API_TOKEN = "dev-api-token-not-secret"
DEV_OIDC_SECRET = "dev-oidc-secret-not-secret"
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

    # Callbacks
    callback_max_attempts: int = Field(3, ge=1, le=10)
    callback_retry_delay_seconds: int = Field(300, ge=1)
    callback_expiry_hours: int = Field(48, ge=1)
    callback_offer_after_seconds: int = Field(120, ge=0)
    callback_postpone_seconds: int = Field(900, ge=60)
    # Off unless set: a callback for a professional call abandoned after waiting this long.
    auto_callback_after_abandon_seconds: int | None = Field(None, ge=1)

    # Statistics (docs/statistics.md): a hang-up in the queue within this time is a short abandon,
    # left out of the service level; "answered within T" is counted for each T.
    stats_short_abandon_seconds: int = Field(5, ge=0)
    stats_answer_thresholds_seconds: list[int] = Field(default_factory=lambda: [20, 60, 120])
    # Figures per individual liaison are employee monitoring under the AVG: off unless switched on
    # (with the works council's consent and a DPIA); the drill-down then shows liaison names too.
    stats_per_liaison: bool = False
    # Multi-organisation cases: calls of one caseworker without a case reference within this many
    # minutes of each other form one case (with a reference: the same reference forms the case).
    case_window_minutes: int = Field(30, ge=1, le=1440)
    # Supervisor wallboard: the live figures refresh this often (UX: every 5-15 s).
    wallboard_refresh_seconds: int = Field(10, ge=5, le=15)
    # Dashboard targets, JSON {"figure": [good, attention]} overriding the defaults in
    # callrouter/web/dashboard/figures.py (DashboardTargets); e.g. {"service_level": [0.85, 0.75]}.
    dashboard_targets: str = "{}"

    # Demo day only (refused in production): the service's clock starts at this moment and runs
    # demo_time_scale times as fast as real time, so `callrouter demo day` can play a day in a minute.
    demo_clock_start: datetime | None = None
    demo_time_scale: float = Field(1.0, gt=0, le=10000)

    # Waiting announcements (UX defaults)
    announce_wait_after_seconds: int = 30
    announce_every_seconds: int = 90
    hold_music_url: str = ""

    # Retention (docs/privacy.md): days each category of personal data is kept; a job enforces it.
    retention_callback_number_days: int = Field(7, ge=1)
    retention_voice_message_days: int = Field(7, ge=1)
    retention_conversation_note_days: int = Field(90, ge=1)
    retention_call_record_days: int = Field(400, ge=1)

    # Webhook replay window: the same signed request within it has one effect.
    replay_window_seconds: int = 3600
    # Request bodies are refused (413) past these sizes before they are read in full: Twilio's webhooks
    # are a few KiB; staff forms and API bodies are small too.
    webhook_max_body_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # GET /metrics (docs/operations.md): only from these networks (comma-separated CIDRs), and with
    # "Authorization: Bearer <token>" when the token is set; secret. Production refuses /metrics without one.
    metrics_allow_networks: str = "127.0.0.0/8,::1/128"
    metrics_token: SecretStr = SecretStr("")

    # Staff login (OpenID Connect) and sessions. Providers: a JSON list of
    # {"key", "label", "issuer", "client_id", "client_secret"}; secret. Empty: nobody can log in.
    oidc_providers: SecretStr = SecretStr("[]")
    staff_session_idle_seconds: int = Field(1800, ge=60)
    staff_session_absolute_seconds: int = Field(36000, ge=300)
    staff_session_warn_seconds: int = Field(120, ge=10)  # the page warns this long before the session ends
    staff_outcome_edit_seconds: int = Field(28800, ge=0)  # a recorded outcome can be changed this long
    staff_poll_seconds: int = Field(10, ge=2, le=300)  # the console refreshes its live parts this often

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        defaults = {
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token.get_secret_value() in ("", DEV_AUTH_TOKEN),
            "PSEUDONYM_KEY": self.pseudonym_key.get_secret_value() in ("", DEV_SECRET),
            "API_TOKENS": DEV_API_TOKEN in self.api_tokens.get_secret_value(),
            "OIDC_PROVIDERS": DEV_OIDC_SECRET in self.oidc_providers.get_secret_value(),
        }
        bad = [name for name, is_default in defaults.items() if is_default]
        if self.demo_clock_start is not None or self.demo_time_scale != 1.0:
            raise InsecureSettings("refusing to start in production with a demo clock (CALLROUTER_DEMO_CLOCK_START, "
                                   "CALLROUTER_DEMO_TIME_SCALE)")
        if bad:
            names = ", ".join(f"CALLROUTER_{name}" for name in bad)
            raise InsecureSettings(f"refusing to start in production with default secrets: {names}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
