"""One validated settings object; read once at start-up and passed in, never read ad hoc."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callrouter.production_checks import refusals

DEV_AUTH_TOKEN = "dev-auth-token-not-secret"
DEV_SECRET = "dev-secret-not-secret"
DEV_API_TOKEN = "dev-api-token-not-secret"
DEV_OIDC_SECRET = "dev-oidc-secret-not-secret"
DEV_CALLBACK_NUMBER_KEY = "dev-callback-number-key-not-secret"
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
    # Seals callback phone numbers in SQL (AES-GCM, docs/privacy.md); a key of its own, not the
    # pseudonym key. Changing it makes the numbers of open callbacks unreadable: keep it.
    callback_number_key: SecretStr = SecretStr(DEV_CALLBACK_NUMBER_KEY)

    ivr_flows_dir: Path = REPO_ROOT / "ivr_flows"
    directory_cache_seconds: float = Field(5.0, ge=0)
    # Said when no organisation's own number fits (Informatie Rijksoverheid).
    general_public_phone: str = "1400"
    log_level: str = "INFO"
    timezone: str = "Europe/Amsterdam"

    # Identification
    pin_max_tries: int = Field(3, ge=1, le=5)
    # Limits on PIN guessing (docs/security.md has the arithmetic), counted per wrong PIN: each bucket lets
    # PIN_FREE_FAILURES - 1 wrong PINs through freely, then waits base * 2**k seconds (up to its cap) after each;
    # a PIN typed during a wait is refused unchecked and uncounted. A bucket is forgotten a day after its
    # last wait ends.
    pin_free_failures: int = Field(3, ge=1, le=10)
    pin_backoff_base_seconds: int = Field(60, ge=1)
    # per caller number (every failed try)
    pin_number_backoff_max_seconds: int = Field(86400, ge=60)
    # per code typed from other numbers: the longest one wrong PIN of someone else can hold the owner off
    pin_code_backoff_max_seconds: int = Field(900, ge=60, le=3600)
    # per code typed from its caseworker's own registered numbers (kept apart from the others)
    pin_own_backoff_max_seconds: int = Field(86400, ge=60)
    # wrong PINs per clock hour across all codes; then only a code's own numbers may type its PIN
    pin_global_max_per_hour: int = Field(600, ge=1)

    # Routing
    widen_after_seconds: float = Field(60.0, ge=0)
    citizen_promote_after_seconds: float = Field(600.0, ge=0)
    dial_timeout_seconds: int = Field(20, ge=5, le=600)
    # How long after the ring time the reconciler waits for news of an offer, callback attempt or consult leg
    # before it takes it for lost (its process died) and puts the call or callback back in line.
    reconcile_margin_seconds: int = Field(30, ge=5, le=600)
    wrap_up_seconds: int = Field(0, ge=0)
    # The bridge between caller and liaison (docs/transfer.md): "conference" (a room named for the call,
    # which transfers and three-way calls need; the default) or "dial" (the two-party <Dial> of before).
    bridge: Literal["dial", "conference"] = "conference"
    # How long a consult waits for a free liaison of the other organisation before the first liaison is told
    # that nobody is free (the reconciler, every 10 s, ends it: at most this plus 10 s).
    consult_wait_seconds: int = Field(120, ge=10, le=1800)
    # Outbound call creations per second across every process (Twilio's account default is 1 CPS).
    outbound_calls_per_second: float = Field(1.0, gt=0, le=100)

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

    # The research export (docs/research-export.md): when set, the cron worker writes the previous ISO week's
    # rows per call as a CSV file into this folder (once per week; empty: no weekly file).
    research_export_dir: str = ""

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

    # Production hardening (callrouter/production_checks.py): plain connections are refused unless allowed
    # here (then a warning is logged at start-up): Redis without TLS (redis:// rather than rediss://) and
    # PostgreSQL without sslmode=require/verify-ca/verify-full, each to a host other than this one.
    allow_plain_redis: bool = False
    allow_plain_database: bool = False
    # /docs, /redoc and /openapi.json: served in development and test; in production only when this is true.
    api_docs: bool | None = None
    # /.well-known/security.txt (RFC 9116): served when the contact is set (a mailto:, tel: or https: URI;
    # several separated by commas); the expiry is then required (ISO 8601 with a time zone).
    security_contact: str = ""
    security_expires: datetime | None = None
    security_policy_url: str = ""
    security_preferred_languages: str = "nl, en"
    # HSTS max-age on an https public URL (0: no Strict-Transport-Security header).
    hsts_max_age_seconds: int = Field(31536000, ge=0)

    @model_validator(mode="after")
    def _security_txt_needs_an_expiry(self) -> Settings:
        if self.security_expires is not None and self.security_expires.tzinfo is None:
            self.security_expires = self.security_expires.replace(tzinfo=UTC)
        if self.security_contact and self.security_expires is None:
            raise ValueError("CALLROUTER_SECURITY_EXPIRES is required with CALLROUTER_SECURITY_CONTACT "
                             "(RFC 9116: security.txt must say when it expires)")
        return self
    # -- Hardening: rate limits, pending logins, audit log (docs/operations.md, docs/privacy.md) -------
    # Limits are "<count>/<period>" strings of the `limits` library ("10/minute", "100/hour"), counted in
    # Redis so they hold across processes. Login starts, wrong API tokens and unsigned webhooks count per
    # source address; exports per staff account.
    rate_limit_login_starts: str = "20/minute"
    rate_limit_api_token_failures: str = "10/minute"
    rate_limit_unsigned_webhooks: str = "30/minute"
    rate_limit_exports: str = "30/minute"
    # Logins under way (state, nonce, PKCE verifier in Redis before the provider answers): at most this
    # many per source address, each kept this long.
    staff_login_pending_per_source: int = Field(20, ge=1, le=1000)
    staff_login_ttl_seconds: int = Field(180, ge=30, le=600)
    # Who opened which call page, drill-down or export: kept this many days, then purged by the retention job.
    retention_audit_log_days: int = Field(730, ge=1)

    @field_validator("rate_limit_login_starts", "rate_limit_api_token_failures", "rate_limit_unsigned_webhooks",
                     "rate_limit_exports")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (write e.g. 10/minute)") from None
        return value
    # -- end of the hardening block ---------------------------------------------------------------
    # --- Beyond one machine: Redis through Sentinel, a separate RQ Redis, readiness (docs/operations.md) ---
    # Sentinels "host:port,host:port,..."; when set, every Redis client (web, router, sessions, rate
    # limits, RQ) asks them for the primary of redis_sentinel_service and CALLROUTER_REDIS_URL is not used.
    redis_sentinels: str = ""
    redis_sentinel_service: str = "callrouter"
    redis_sentinel_password: SecretStr = SecretStr("")  # the sentinels' own requirepass, if any; secret
    redis_password: SecretStr = SecretStr("")  # the Redis servers' requirepass (also through Sentinel); secret
    redis_tls: bool = False  # TLS to Redis and to the sentinels (rediss:// for a plain URL)
    redis_tls_ca_file: str = ""  # CA bundle for the servers' certificates; empty: the system's
    redis_db: int = Field(0, ge=0, le=15)  # the database number through Sentinel (a plain URL carries its own)
    # RQ's jobs in a Redis of their own: a plain URL, or a second service of the same sentinels; empty: the above.
    rq_redis_url: str = ""
    rq_redis_sentinel_service: str = ""
    # /readyz answers within this time, whatever a dependency does (each check has a shorter socket timeout).
    readiness_timeout_seconds: float = Field(0.8, gt=0, le=5)

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, raw: str) -> str:
        for entry in (part.strip() for part in raw.split(",") if part.strip()):
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"CALLROUTER_REDIS_SENTINELS: {entry!r} is not host:port")
        return raw

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        found = []
        for entry in (part.strip() for part in self.redis_sentinels.split(",") if part.strip()):
            host, _sep, port = entry.rpartition(":")
            found.append((host.strip("[]"), int(port)))
        return found

    @model_validator(mode="after")
    def _one_rq_redis(self) -> Settings:
        if self.rq_redis_url and self.rq_redis_sentinel_service:
            raise ValueError("CALLROUTER_RQ_REDIS_URL and CALLROUTER_RQ_REDIS_SENTINEL_SERVICE: set one, not both")
        if self.rq_redis_sentinel_service and not self.redis_sentinels:
            raise ValueError("CALLROUTER_RQ_REDIS_SENTINEL_SERVICE needs CALLROUTER_REDIS_SENTINELS")
        return self
    # --- end of: Beyond one machine ---

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
        if self.callback_number_key.get_secret_value() in ("", DEV_CALLBACK_NUMBER_KEY):
            bad.append("CALLBACK_NUMBER_KEY")
        if bad:
            names = ", ".join(f"CALLROUTER_{name}" for name in bad)
            raise InsecureSettings(f"refusing to start in production with default secrets: {names}")
        problems = refusals(self)
        if problems:
            raise InsecureSettings("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
