"""Server-side staff sessions in Redis.

Why Redis and not SQL: a session is read on every request (the console polls every 10 s), expires
by itself (idle and absolute limits map onto a key TTL), and losing them all only means logging in
again; SQL stays the record. The cookie holds a random id; Redis holds only its SHA-256, so a copy
of Redis gives no usable cookie. Idle time is measured from the last request that the person made
(polling does not count), absolute time from the login.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import redis as redis_lib

PREFIX = "callrouter:staff"
LOGIN_TTL_SECONDS = 180  # default of CALLROUTER_STAFF_LOGIN_TTL_SECONDS
PENDING_PER_SOURCE = 20  # default of CALLROUTER_STAFF_LOGIN_PENDING_PER_SOURCE


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def session_key(session_id: str) -> str:
    return f"{PREFIX}:session:{_digest(session_id)}"


def login_key(state: str) -> str:
    return f"{PREFIX}:login:{_digest(state)}"


def pending_key(source: str) -> str:
    """The logins under way from one source address: a sorted set of state digests by expiry."""
    return f"{PREFIX}:login-pending:{_digest(source)}"


class TooManyPendingLogins(Exception):
    """This source has the most logins under way that it may have; `retry_after` until the oldest expires."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many logins under way, retry after {retry_after} s")
        self.retry_after = retry_after


# Atomically: forget expired entries, refuse when the source is at its cap, else add this login.
# KEYS[1] pending set, KEYS[2] login key; ARGV: now, ttl, cap, state digest, pending login JSON.
_BEGIN_LOGIN = """
local now, ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= cap then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil(tonumber(oldest[2]) - now))
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl + 1)
redis.call('SET', KEYS[2], ARGV[5], 'EX', ttl)
return 0
"""


@dataclass(frozen=True)
class StaffSession:
    account_id: int
    provider: str
    csrf_token: str
    created_at: float
    last_seen_at: float
    id_token: str = ""
    flash: str = ""


@dataclass(frozen=True)
class PendingLogin:
    provider: str
    nonce: str
    code_verifier: str
    browser: str  # a random value also in a short-lived cookie: ties the callback to this browser


class SessionStore:
    def __init__(self, redis: redis_lib.Redis, *, idle_seconds: int, absolute_seconds: int,
                 clock: Callable[[], float] = time.time, login_ttl_seconds: int = LOGIN_TTL_SECONDS,
                 pending_per_source: int = PENDING_PER_SOURCE):
        self.redis = redis
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self.clock = clock
        self.login_ttl_seconds = login_ttl_seconds
        self.pending_per_source = pending_per_source
        self._begin_login = redis.register_script(_BEGIN_LOGIN)

    def expires_at(self, session: StaffSession) -> float:
        return min(session.last_seen_at + self.idle_seconds, session.created_at + self.absolute_seconds)

    def _write(self, session_id: str, session: StaffSession) -> None:
        ttl = max(1, int(self.expires_at(session) - self.clock()) + 1)
        self.redis.set(session_key(session_id), json.dumps(asdict(session)), ex=ttl)

    def create(self, *, account_id: int, provider: str, id_token: str) -> tuple[str, StaffSession]:
        """A new session with a new id and a new CSRF token (never reuse an id from before the login)."""
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        session = StaffSession(account_id, provider, secrets.token_urlsafe(32), now, now, id_token)
        self._write(session_id, session)
        return session_id, session

    def load(self, session_id: str | None, *, touch: bool) -> StaffSession | None:
        """The live session of this id, or None; `touch` counts the request as activity (not polling)."""
        if not session_id or len(session_id) > 100:
            return None
        raw = self.redis.get(session_key(session_id))
        if raw is None:
            return None
        session = StaffSession(**json.loads(raw))
        now = self.clock()
        if now >= self.expires_at(session):
            self.redis.delete(session_key(session_id))
            return None
        if touch:
            session = StaffSession(**{**asdict(session), "last_seen_at": now})
            self._write(session_id, session)
        return session

    def set_flash(self, session_id: str, session: StaffSession, message: str) -> None:
        self._write(session_id, StaffSession(**{**asdict(session), "flash": message}))

    def pop_flash(self, session_id: str, session: StaffSession) -> str:
        if session.flash:
            self._write(session_id, StaffSession(**{**asdict(session), "flash": ""}))
        return session.flash

    def destroy(self, session_id: str | None) -> None:
        if session_id:
            self.redis.delete(session_key(session_id))

    # -- logins under way: state -> nonce, PKCE verifier, provider; used once -----------------------

    def begin_login(self, *, state: str, pending: PendingLogin, source: str = "-") -> None:
        """Keep a login under way for `login_ttl_seconds`; TooManyPendingLogins when `source` (the address
        it came from) already has `pending_per_source` of them: unauthenticated state in Redis is bounded."""
        wait = int(self._begin_login(keys=[pending_key(source), login_key(state)],
                                     args=[self.clock(), self.login_ttl_seconds, self.pending_per_source,
                                           _digest(state), json.dumps(asdict(pending))]))
        if wait:
            raise TooManyPendingLogins(wait)

    def take_login(self, state: str, source: str = "-") -> PendingLogin | None:
        if not state or len(state) > 200:
            return None
        raw = self.redis.getdel(login_key(state))
        if raw:
            self.redis.zrem(pending_key(source), _digest(state))
        return PendingLogin(**json.loads(raw)) if raw else None
