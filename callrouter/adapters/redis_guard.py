"""Live counters in Redis: lockouts against PIN guessing, hold announcements.

All of it may be lost with Redis without harm: a lockout restarts, an announcement comes
once more. The webhook replay guard is in adapters/redis_replay.py.
"""

from __future__ import annotations

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

