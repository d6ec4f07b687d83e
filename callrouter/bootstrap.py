"""The composition root: settings in, wired services out. Nothing is built at import time."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import redis as redis_lib
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters import redis_keys
from callrouter.adapters.dutch_holidays import DutchHolidays
from callrouter.adapters.flow_files import load_flows
from callrouter.adapters.health import (
    Probe,
    database_check,
    migrations_check,
    redis_sentinel_check,
    redis_url_check,
)
from callrouter.adapters.outbound_pacing import PacedTelephony, RedisPacer
from callrouter.adapters.pins import Argon2Pins
from callrouter.adapters.rate_limits import RedisRateLimits
from callrouter.adapters.redis_guard import RedisGuard
from callrouter.adapters.redis_live_counters import RedisLiveCounters
from callrouter.adapters.redis_replay import ReplayGuard
from callrouter.adapters.redis_retry import FailoverRetry
from callrouter.adapters.redis_router import RedisRouter
from callrouter.adapters.rq_jobs import RqJobs
from callrouter.adapters.sql.audit_repository import SqlAuditLog
from callrouter.adapters.sql.call_queries import SqlCallQueries
from callrouter.adapters.sql.call_repository import SqlCallStore, SqlPresenceStore
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.adapters.sql.demo_day_repository import SqlDemoDay
from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.adapters.sql.drilldown_repository import SqlDrilldown
from callrouter.adapters.sql.engine import make_engine, make_probe_engine, make_session_factory
from callrouter.adapters.sql.menu_usage_repository import SqlMenuUsage
from callrouter.adapters.sql.migrate import head_revisions
from callrouter.adapters.sql.outcome_repository import SqlOutcomes
from callrouter.adapters.sql.period_repository import SqlPeriods
from callrouter.adapters.sql.research_repository import SqlResearchSource
from callrouter.adapters.sql.retention_repository import SqlRetentionStore
from callrouter.adapters.sql.sealed import use_key as use_callback_number_key
from callrouter.adapters.sql.staff_repository import SqlStaffAccounts
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.adapters.sql.wait_honesty_repository import SqlWaitHonesty
from callrouter.adapters.twilio_rest import TwilioCalls, TwilioRecordings
from callrouter.adapters.twiml import TwimlRenderer
from callrouter.config import Settings
from callrouter.domain.cases import CasePolicy
from callrouter.domain.pin_limits import Backoff, PinLimits
from callrouter.domain.retention import RetentionPolicy
from callrouter.domain.statistics import StatsPolicy
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.routing import RouteAfterReply, dispatch
from callrouter.services.retention import RetentionDeps
from callrouter.services.statistics.research import ResearchDeps
from callrouter.services.statistics.wallboard import LiveBoard, LivePolicy
from callrouter.web.voice_paths import url_maker

log = logging.getLogger("callrouter")
DEMO_ANCHOR_TTL_SECONDS = 7 * 24 * 3600
DEMO_WORK_MARK_SECONDS = 5.0  # a mark a dead process left open stops the demo clock this long at most


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_moment(self, at: datetime) -> datetime:
        """When `at` (a moment of this clock) happens in real time: the same moment."""
        return at


Pauses = tuple[float, float | None]  # (real seconds a demo clock stood still, the Unix time it stopped or None)


class ScaledClock:
    """Demo only (`callrouter demo day`): virtual time that reads `start` at the real moment `anchor()`
    (a Unix time) and runs `scale` times as fast as real time; tz-aware UTC.

    Every process of one demo stack must agree on the anchor, so it is read once, lazily, from a
    callable (bootstrap: a Redis key shared by the web, the worker and the demo driver).
    """

    def __init__(self, *, start: datetime, scale: float, anchor: Callable[[], float],
                 real_time: Callable[[], float] = time.time, pauses: Callable[[], Pauses] | None = None):
        if start.tzinfo is None:
            raise ValueError("the demo clock's start needs a time zone")
        if scale <= 0:
            raise ValueError("the demo clock's scale must be positive")
        self.start = start.astimezone(UTC)
        self.scale = scale
        self._anchor_source = anchor
        self._anchor: float | None = None
        self._real_time = real_time
        # The demo day's clock stands still while the emulator waits for a webhook's answer (twilio_emulator/
        # clock.py): (real seconds it stood still in all, the Unix time it stopped or None while it runs).
        self._pauses = pauses
        self._last: datetime | None = None

    def anchor(self) -> float:
        if self._anchor is None:
            self._anchor = float(self._anchor_source())
        return self._anchor

    def now(self) -> datetime:
        moment = self._real_time()
        if self._pauses is None:
            return self.start + timedelta(seconds=(moment - self.anchor()) * self.scale)
        stood, since = self._pauses()
        still = stood + (max(0.0, moment - since) if since is not None else 0.0)
        found = self.start + timedelta(seconds=(moment - self.anchor() - still) * self.scale)
        if self._last is not None and found < self._last:  # a stop seen a moment late: never run backwards
            return self._last
        self._last = found
        return found

    def real_moment(self, at: datetime) -> datetime:
        """The real moment at which this clock reads `at` (for RQ's enqueue_at, which runs on real time); with
        pauses, as if the clock ran on from now without stopping (a job may then run a little early)."""
        still = 0.0
        if self._pauses is not None:
            stood, since = self._pauses()
            still = stood + (max(0.0, self._real_time() - since) if since is not None else 0.0)
        return datetime.fromtimestamp(self.anchor() + still + (at - self.start).total_seconds() / self.scale, UTC)


def shared_anchor(redis: redis_lib.Redis, *, start: datetime, scale: float) -> Callable[[], float]:
    """The real moment the demo clock started, kept in Redis: the first process to ask sets it to now."""
    key = redis_keys.demo_clock_anchor(start=start.astimezone(UTC).isoformat(), scale=scale)

    def read() -> float:
        redis.set(key, repr(time.time()), nx=True, ex=DEMO_ANCHOR_TTL_SECONDS)
        value = redis.get(key)
        return float(value) if value is not None else time.time()

    return read


def shared_pauses(redis: redis_lib.Redis, *, start: datetime, scale: float) -> Callable[[], Pauses]:
    """How long the demo clock stood still, as the demo day's emulator writes it to Redis (0 and running when
    nothing was written: a demo clock without the demo day's emulator)."""
    key = redis_keys.demo_clock_pauses(start=start.astimezone(UTC).isoformat(), scale=scale)

    def read() -> Pauses:
        stood, since = redis.hmget(key, ["stood", "since"])
        return float(stood or 0), (float(since) if since else None)

    return read


class DemoWorkMarks:
    """The WorkMarks port in Redis (redis_keys.demo_clock_work): a mark lapses after DEMO_WORK_MARK_SECONDS
    of real time even if its process died before it ended it, so a dead process stops the demo clock that long
    at most."""

    def __init__(self, redis: redis_lib.Redis, *, start: datetime, scale: float,
                 real_time: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._key = redis_keys.demo_clock_work(start=start.astimezone(UTC).isoformat(), scale=scale)
        self._real_time = real_time

    def begin(self) -> str:
        mark = secrets.token_hex(8)
        now = self._real_time()
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self._key, "-inf", now)  # marks of processes that died before they ended them
        pipe.zadd(self._key, {mark: now + DEMO_WORK_MARK_SECONDS})
        pipe.expire(self._key, DEMO_ANCHOR_TTL_SECONDS)
        pipe.execute()
        return mark

    def end(self, mark: str) -> None:
        self._redis.zrem(self._key, mark)


def demo_start(settings: Settings) -> datetime | None:
    """The demo clock's start (a naive setting is local time), or None: the real clock."""
    start = settings.demo_clock_start
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(settings.timezone))
    return start


def clock_for(settings: Settings, redis: redis_lib.Redis) -> SystemClock | ScaledClock:
    """The real clock, or with CALLROUTER_DEMO_CLOCK_START the demo clock (a naive start is local time)."""
    start = demo_start(settings)
    if start is None:
        return SystemClock()
    log.info("demo.clock start=%s scale=%s", start.isoformat(), settings.demo_time_scale)
    return ScaledClock(start=start, scale=settings.demo_time_scale,
                       anchor=shared_anchor(redis, start=start, scale=settings.demo_time_scale),
                       pauses=shared_pauses(redis, start=start, scale=settings.demo_time_scale))


# -- Redis: the one place a client is made, for every process (web, worker, cron, commands) -----------

REDIS_SOCKET_TIMEOUT_SECONDS = 5.0


def failover_retry() -> Retry:
    """For the service's own clients: a command that finds no primary (the sentinels are promoting a replica,
    which takes a few seconds; "no master found", a refused connection) or a primary that refuses writes for
    want of replicas (NOREPLICAS: adapters/redis_retry.py) tries again for about 4 s in all, well inside
    Twilio's 15 s, instead of failing at once and sending the caller the apology."""
    return FailoverRetry(ExponentialBackoff(cap=0.5, base=0.05), 10)


def _redis_tls(settings: Settings) -> dict[str, object]:
    return {"ssl_ca_certs": settings.redis_tls_ca_file} if settings.redis_tls and settings.redis_tls_ca_file else {}


def redis_sentinel(settings: Settings, *, socket_timeout: float = REDIS_SOCKET_TIMEOUT_SECONDS,
                   retry: Retry | None = None) -> Sentinel | None:
    """The sentinels of CALLROUTER_REDIS_SENTINELS (None when unset); clients come from master_for()."""
    if not settings.redis_sentinels:
        return None
    tls: dict[str, object] = {"ssl": True, **_redis_tls(settings)} if settings.redis_tls else {}
    timeouts: dict[str, object] = {"socket_timeout": socket_timeout,
                                   "socket_connect_timeout": min(socket_timeout, 2.0)}
    if retry is not None:
        timeouts["retry"] = retry
    sentinel_kwargs = {**timeouts, **tls, "password": settings.redis_sentinel_password.get_secret_value() or None}
    return Sentinel(settings.sentinel_addresses, sentinel_kwargs=sentinel_kwargs,  # type: ignore[no-untyped-call]
                    **timeouts, **tls, db=settings.redis_db,
                    password=settings.redis_password.get_secret_value() or None)


def redis_client(settings: Settings, *, url: str | None = None, service: str | None = None,
                 sentinel: Sentinel | None = None, socket_timeout: float = REDIS_SOCKET_TIMEOUT_SECONDS,
                 retry: Retry | None = None) -> redis_lib.Redis:
    """A client of the Redis primary: with CALLROUTER_REDIS_SENTINELS (and no `url`) the primary of `service`
    (default CALLROUTER_REDIS_SENTINEL_SERVICE) as the sentinels name it, found again after a failover;
    otherwise `url` (default CALLROUTER_REDIS_URL). Password and TLS from the settings either way."""
    timeouts: dict[str, object] = {"socket_timeout": socket_timeout,
                                   "socket_connect_timeout": min(socket_timeout, 2.0)}
    if retry is not None:
        timeouts["retry"] = retry
    if url is None and settings.redis_sentinels:
        sentinel = sentinel or redis_sentinel(settings, socket_timeout=socket_timeout, retry=retry)
        assert sentinel is not None
        master = sentinel.master_for(service or settings.redis_sentinel_service,  # type: ignore[no-untyped-call]
                                     health_check_interval=30, **timeouts)
        return cast(redis_lib.Redis, master)
    url = url or settings.redis_url
    if settings.redis_tls and url.startswith("redis://"):
        url = "rediss://" + url.removeprefix("redis://")
    extra: dict[str, object] = {**timeouts, **(_redis_tls(settings) if url.startswith("rediss://") else {})}
    if settings.redis_password.get_secret_value():
        extra["password"] = settings.redis_password.get_secret_value()  # a password in the URL wins
    return redis_lib.Redis.from_url(url, health_check_interval=30, **extra)


def rq_redis_client(settings: Settings, *, socket_timeout: float = REDIS_SOCKET_TIMEOUT_SECONDS,
                    retry: Retry | None = None) -> redis_lib.Redis:
    """The Redis of RQ's jobs: CALLROUTER_RQ_REDIS_URL or _RQ_REDIS_SENTINEL_SERVICE when set, else the live one."""
    if settings.rq_redis_url:
        return redis_client(settings, url=settings.rq_redis_url, socket_timeout=socket_timeout, retry=retry)
    return redis_client(settings, service=settings.rq_redis_sentinel_service or None, socket_timeout=socket_timeout,
                        retry=retry)


def _redis_probe(settings: Settings, *, rq: bool) -> Probe:
    timeout = min(0.3, settings.readiness_timeout_seconds / 2)
    no_retry = Retry(NoBackoff(), 0)
    if rq and settings.rq_redis_url:
        client = redis_client(settings, url=settings.rq_redis_url, socket_timeout=timeout, retry=no_retry)
        return Probe(redis_url_check(client, setting="CALLROUTER_RQ_REDIS_URL"), "CALLROUTER_RQ_REDIS_URL")
    sentinel = redis_sentinel(settings, socket_timeout=timeout, retry=no_retry)
    if sentinel is None:
        client = redis_client(settings, socket_timeout=timeout, retry=no_retry)
        return Probe(redis_url_check(client, setting="CALLROUTER_REDIS_URL"), "CALLROUTER_REDIS_URL")
    service = (settings.rq_redis_sentinel_service if rq else "") or settings.redis_sentinel_service
    service_setting = "CALLROUTER_RQ_REDIS_SENTINEL_SERVICE" if rq else "CALLROUTER_REDIS_SENTINEL_SERVICE"
    client = redis_client(settings, service=service, sentinel=sentinel, socket_timeout=timeout, retry=no_retry)
    return Probe(redis_sentinel_check(sentinel, client, service=service, sentinels_setting="CALLROUTER_REDIS_SENTINELS",
                                      service_setting=service_setting), "CALLROUTER_REDIS_SENTINELS")


def readiness_probes(settings: Settings) -> dict[str, Probe]:
    """What GET /readyz checks, by name: the Redis primary (and RQ's, when apart), the database, its migrations.
    Each on clients of its own with short timeouts and no retries, so a check fails fast and names its setting."""
    probes = {"redis": _redis_probe(settings, rq=False)}
    if settings.rq_redis_url or settings.rq_redis_sentinel_service:
        probes["rq_redis"] = _redis_probe(settings, rq=True)
    engine = make_probe_engine(settings.database_url, timeout_seconds=settings.readiness_timeout_seconds)
    probes["database"] = Probe(database_check(engine, setting="CALLROUTER_DATABASE_URL"), "CALLROUTER_DATABASE_URL")
    probes["migrations"] = Probe(migrations_check(engine, head_revisions, setting="CALLROUTER_DATABASE_URL"), None)
    return probes


# -- the staff side, the figures and retention: each part built once, here --------------------------

def stats_policy(settings: Settings) -> StatsPolicy:
    return StatsPolicy(short_abandon_seconds=settings.stats_short_abandon_seconds,
                       answer_thresholds_seconds=tuple(settings.stats_answer_thresholds_seconds))


def research_deps(settings: Settings, parts: Parts) -> ResearchDeps:
    """What the research export needs (the staff page, the JSON API and the weekly job)."""
    return ResearchDeps(source=parts.research, pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
                        kept_days=settings.retention_call_record_days, zone=ZoneInfo(settings.timezone))


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(callback_number_days=settings.retention_callback_number_days,
                           voice_message_days=settings.retention_voice_message_days,
                           conversation_note_days=settings.retention_conversation_note_days,
                           call_record_days=settings.retention_call_record_days,
                           audit_log_days=settings.retention_audit_log_days)


def build_retention(settings: Settings, sessions: sessionmaker[Session]) -> RetentionDeps:
    """What the retention job needs (the hourly cron job and `callrouter retention run`); real time."""
    recordings = TwilioRecordings(account_sid=settings.twilio_account_sid,
                                  auth_token=settings.twilio_auth_token.get_secret_value(),
                                  api_base_url=settings.twilio_api_base_url)
    return RetentionDeps(store=SqlRetentionStore(sessions), recordings=recordings, clock=SystemClock(),
                         policy=retention_policy(settings))


@dataclass
class Parts:
    """What the staff pages, the dashboards, the metrics, the jobs and the commands read, beside the voice."""

    stats_policy: StatsPolicy
    stats_store: SqlStatsStore
    drilldown: SqlDrilldown
    menu_usage: SqlMenuUsage
    wait_honesty: SqlWaitHonesty
    case_store: SqlCaseStore  # attaches calls to cases (the voice) and reads them (the cases page)
    callbacks: SqlCallbackStore  # the call flow's callbacks, and the metrics' count per state
    staff_accounts: SqlStaffAccounts
    call_queries: SqlCallQueries
    outcomes: SqlOutcomes
    retention: RetentionDeps
    audit: SqlAuditLog  # who opened which call page, drill-down or export (written by the staff pages)
    research: SqlResearchSource  # the research export's pseudonymised rows per call
    periods: SqlPeriods  # named evaluation periods (compared side by side on the dashboard)
    voice_messages: TwilioRecordings  # callbacks' voice messages, fetched for the console


def build_parts(settings: Settings, sessions: sessionmaker[Session]) -> Parts:
    # The key that seals callback numbers in SQL (callbacks.phone_number): one per process, from the settings.
    use_callback_number_key(settings.callback_number_key.get_secret_value())
    zone = ZoneInfo(settings.timezone)
    return Parts(
        stats_policy=stats_policy(settings), stats_store=SqlStatsStore(sessions), drilldown=SqlDrilldown(sessions),
        menu_usage=SqlMenuUsage(sessions, zone=zone), wait_honesty=SqlWaitHonesty(sessions, zone=zone),
        case_store=SqlCaseStore(sessions, zone=zone,
                                policy=CasePolicy(window=timedelta(minutes=settings.case_window_minutes))),
        callbacks=SqlCallbackStore(sessions), staff_accounts=SqlStaffAccounts(sessions),
        call_queries=SqlCallQueries(sessions), outcomes=SqlOutcomes(sessions),
        retention=build_retention(settings, sessions), audit=SqlAuditLog(sessions),
        research=SqlResearchSource(sessions), periods=SqlPeriods(sessions),
        voice_messages=TwilioRecordings(account_sid=settings.twilio_account_sid,
                                        auth_token=settings.twilio_auth_token.get_secret_value(),
                                        api_base_url=settings.twilio_api_base_url),
    )


@dataclass
class Record:
    """The SQL record alone, for the commands that need neither Redis nor the voice flows; a context manager."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    directory: SqlDirectory  # not cached: a command reads it once
    parts: Parts
    demo_day: SqlDemoDay

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_record(settings: Settings) -> Record:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    return Record(settings, engine, sessions, directory=SqlDirectory(sessions, ttl_seconds=0),
                  parts=build_parts(settings, sessions), demo_day=SqlDemoDay(sessions))


def rate_limits(settings: Settings, redis: redis_lib.Redis) -> RedisRateLimits:
    return RedisRateLimits(redis, redis_url=settings.redis_url, limits={
        "login_start": settings.rate_limit_login_starts,
        "api_token_failure": settings.rate_limit_api_token_failures,
        "unsigned_webhook": settings.rate_limit_unsigned_webhooks,
        "export": settings.rate_limit_exports,
    })


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis_lib.Redis
    router: RedisRouter
    directory: SqlDirectory
    voice: CallDeps
    parts: Parts
    after: RouteAfterReply
    renderer: TwimlRenderer
    replay: ReplayGuard
    guard: RedisGuard
    rate_limits: RedisRateLimits
    rq_redis: redis_lib.Redis | None = None  # RQ's jobs; None: the same Redis as `redis`
    probes: dict[str, Probe] | None = None  # GET /readyz; None: built on first use

    @property
    def jobs_redis(self) -> redis_lib.Redis:
        return self.rq_redis if self.rq_redis is not None else self.redis

    def readiness(self) -> dict[str, Probe]:
        if self.probes is None:
            self.probes = readiness_probes(self.settings)
        return self.probes

    def close(self) -> None:
        self.redis.close()
        if self.rq_redis is not None:
            self.rq_redis.close()
        self.engine.dispose()


def pin_limits(settings: Settings) -> PinLimits:
    def backoff(cap: int) -> Backoff:
        return Backoff(free=settings.pin_free_failures, base_seconds=settings.pin_backoff_base_seconds,
                       cap_seconds=cap)

    return PinLimits(number=backoff(settings.pin_number_backoff_max_seconds),
                     code=backoff(settings.pin_code_backoff_max_seconds),
                     own=backoff(settings.pin_own_backoff_max_seconds),
                     global_per_hour=settings.pin_global_max_per_hour)


def build(settings: Settings) -> Container:
    flows = load_flows(settings.ivr_flows_dir)  # a broken flow file stops start-up here
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    parts = build_parts(settings, sessions)
    redis = redis_client(settings, retry=failover_retry())
    separate_rq = bool(settings.rq_redis_url or settings.rq_redis_sentinel_service)
    rq_redis = rq_redis_client(settings, retry=failover_retry()) if separate_rq else redis
    clock = clock_for(settings, redis)
    router = RedisRouter(redis, widen_after_ms=int(settings.widen_after_seconds * 1000),
                         citizen_promote_after_ms=int(settings.citizen_promote_after_seconds * 1000))
    directory = SqlDirectory(sessions, ttl_seconds=settings.directory_cache_seconds)
    guard = RedisGuard(redis, limits=pin_limits(settings), announce_after_seconds=settings.announce_wait_after_seconds,
                       announce_every_seconds=settings.announce_every_seconds)
    telephony = PacedTelephony(
        TwilioCalls(account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token.get_secret_value(),
                    api_base_url=settings.twilio_api_base_url, url_of=url_maker(settings.public_url),
                    redirect_url_of=url_maker(settings.public_url, fresh_turn=True)),
        RedisPacer(redis, calls_per_second=settings.outbound_calls_per_second, time_scale=settings.demo_time_scale))
    start = demo_start(settings)
    after = RouteAfterReply(marks=None if start is None else DemoWorkMarks(redis, start=start,
                                                                           scale=settings.demo_time_scale))
    voice = CallDeps(
        flows=flows, directory=directory, calls=SqlCallStore(sessions), router=router,
        presence=SqlPresenceStore(sessions), telephony=telephony, guard=guard, pins=Argon2Pins(),
        clock=clock, pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        holidays=DutchHolidays(), general_public_phone=settings.general_public_phone,
        dial_timeout_seconds=settings.dial_timeout_seconds,
        reconcile_margin_seconds=settings.reconcile_margin_seconds, hold_music_url=settings.hold_music_url,
        wrap_up_seconds=settings.wrap_up_seconds, consult_wait_seconds=settings.consult_wait_seconds,
        bridge=settings.bridge, after=after,
        callbacks=parts.callbacks, jobs=RqJobs(rq_redis, real_moment=clock.real_moment),
        callback_policy=CallbackPolicy(
            max_attempts=settings.callback_max_attempts, retry_delay_seconds=settings.callback_retry_delay_seconds,
            expiry_hours=settings.callback_expiry_hours, offer_after_seconds=settings.callback_offer_after_seconds,
            postpone_seconds=settings.callback_postpone_seconds,
            auto_after_abandon_seconds=settings.auto_callback_after_abandon_seconds),
        live=LiveBoard(RedisLiveCounters(redis), record=parts.stats_store, policy=LivePolicy(
            zone=ZoneInfo(settings.timezone), stats=parts.stats_policy)),
        cases=parts.case_store,
    )
    container = Container(settings, engine, sessions, redis, router, directory, voice, parts, after,
                          renderer=TwimlRenderer(settings.public_url, url_of=url_maker(settings.public_url)),
                          replay=ReplayGuard(redis, window_seconds=settings.replay_window_seconds), guard=guard,
                          rate_limits=rate_limits(settings, redis), rq_redis=rq_redis if separate_rq else None)
    # Outside a webhook, routing happens at once, with the deps the container holds then (tests swap them).
    after.bind(lambda org: dispatch(container.voice, org=org))
    return container
