"""Live counters in Redis: lockouts against PIN guessing, hold announcements, webhook replays.

All of it may be lost with Redis without harm: a lockout or a replay window restarts, an
announcement comes once more.
"""

from __future__ import annotations

import hashlib
import time

from redis import Redis

from callrouter.adapters import redis_keys as keys


class RedisGuard:
    def __init__(self, redis: Redis, *, lockout_after: int, lockout_seconds: int, pin_lockout_after: int = 10,
                 announce_after_seconds: int = 30, announce_every_seconds: int = 90):
        self._redis = redis
        self._after = lockout_after
        self._seconds = lockout_seconds
        self._pin_after = pin_lockout_after
        self._first = announce_after_seconds
        self._every = announce_every_seconds

    def is_locked(self, *, caller: str, code: str | None = None) -> bool:
        names = [keys.failed_calls(caller)] + ([keys.failed_pins(code)] if code else [])
        calls, *pins = self._redis.mget(names)
        if calls is not None and int(calls) >= self._after:
            return True
        return bool(pins and pins[0] is not None and int(pins[0]) >= self._pin_after)

    def _count(self, key: str) -> None:
        with self._redis.pipeline() as pipe:  # MULTI: the counter and its expiry together
            pipe.incr(key)
            pipe.expire(key, self._seconds)
            pipe.execute()

    def record_failed_pin(self, *, code: str) -> None:
        self._count(keys.failed_pins(code))

    def record_failed_call(self, *, caller: str) -> None:
        self._count(keys.failed_calls(caller))

    def should_announce(self, *, call_sid: str, queue_seconds: float) -> bool:
        """The expected wait is said once the wait passes 30 s, then about every 90 s."""
        if queue_seconds < self._first:
            return False
        key = keys.announced(call_sid)
        last = self._redis.get(key)
        if last is not None and queue_seconds - float(last) < self._every:
            return False
        # SET with GET-compare would be stricter; a rare double announcement is harmless.
        self._redis.set(key, queue_seconds, ex=6 * 3600)
        return True


class ReplayGuard:
    """The same signed request delivered twice has one effect: the second gets the first's response."""

    def __init__(self, redis: Redis, *, window_seconds: int):
        self._redis = redis
        self._window = window_seconds

    @staticmethod
    def digest(*, url: str, body: bytes, signature: str) -> str:
        return hashlib.sha256(b"\0".join([url.encode(), body, signature.encode()])).hexdigest()

    def claim(self, digest: str) -> bool:
        """True for the first delivery; later ones must use `wait_for_response`."""
        return bool(self._redis.set(keys.webhook_replay(digest), b"", nx=True, ex=self._window))

    def store(self, digest: str, response: bytes) -> None:
        self._redis.set(keys.webhook_replay(digest), b"1" + response, ex=self._window)

    def release(self, digest: str) -> None:
        self._redis.delete(keys.webhook_replay(digest))

    def wait_for_response(self, digest: str, *, timeout: float = 10.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self._redis.get(keys.webhook_replay(digest))
            if value is None:
                return None
            # redis-py types GET as bytes | str; the client is made without decode_responses.
            assert isinstance(value, bytes), "ReplayGuard needs a Redis client that returns bytes"
            if value.startswith(b"1"):
                return value[1:]
            time.sleep(0.05)
        return None
