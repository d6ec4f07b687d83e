"""The composition root: settings in, wired services out. Nothing is built at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import redis as redis_lib
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.dutch_holidays import DutchHolidays
from callrouter.adapters.flow_files import load_flows
from callrouter.adapters.pins import Argon2Pins
from callrouter.adapters.redis_guard import RedisGuard
from callrouter.adapters.redis_router import RedisRouter
from callrouter.adapters.rq_jobs import RqJobs
from callrouter.adapters.sql.call_repository import SqlCallStore, SqlPresenceStore
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.twilio_rest import TwilioCalls
from callrouter.config import Settings
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.voice import VoiceDeps

log = logging.getLogger("callrouter")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis_lib.Redis
    router: RedisRouter
    directory: SqlDirectory
    voice: VoiceDeps

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()


def build(settings: Settings) -> Container:
    flows = load_flows(settings.ivr_flows_dir)  # a broken flow file stops start-up here
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    redis = redis_lib.Redis.from_url(settings.redis_url, socket_timeout=5, health_check_interval=30)
    router = RedisRouter(redis, widen_after_ms=int(settings.widen_after_seconds * 1000),
                         citizen_promote_after_ms=int(settings.citizen_promote_after_seconds * 1000))
    directory = SqlDirectory(sessions, ttl_seconds=settings.directory_cache_seconds)
    guard = RedisGuard(redis, lockout_after=settings.lockout_after_failed_calls, lockout_seconds=settings.lockout_seconds,
                       announce_after_seconds=settings.announce_wait_after_seconds,
                       announce_every_seconds=settings.announce_every_seconds)
    telephony = TwilioCalls(account_sid=settings.twilio_account_sid,
                            auth_token=settings.twilio_auth_token.get_secret_value(),
                            api_base_url=settings.twilio_api_base_url, public_url=settings.public_url)
    voice = VoiceDeps(
        flows=flows, directory=directory, calls=SqlCallStore(sessions), router=router,
        presence=SqlPresenceStore(sessions), telephony=telephony, guard=guard, pins=Argon2Pins(),
        clock=SystemClock(), pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        holidays=DutchHolidays(), general_public_phone=settings.general_public_phone,
        dial_timeout_seconds=settings.dial_timeout_seconds, widen_after_seconds=settings.widen_after_seconds,
        announce_every_seconds=settings.announce_every_seconds, hold_music_url=settings.hold_music_url,
        wrap_up_seconds=settings.wrap_up_seconds,
        callbacks=SqlCallbackStore(sessions), jobs=RqJobs(redis),
        callback_policy=CallbackPolicy(
            max_attempts=settings.callback_max_attempts, retry_delay_seconds=settings.callback_retry_delay_seconds,
            expiry_hours=settings.callback_expiry_hours, offer_after_seconds=settings.callback_offer_after_seconds,
            postpone_seconds=settings.callback_postpone_seconds,
            auto_after_abandon_seconds=settings.auto_callback_after_abandon_seconds),
    )
    return Container(settings, engine, sessions, redis, router, directory, voice)
