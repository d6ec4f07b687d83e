"""Live counters in Redis: limits on PIN guessing, hold announcements.

All of it may be lost with Redis without harm to the calls: PIN buckets restart (a lost Redis gives a
guesser fresh buckets: docs/security.md), an announcement comes once more. The webhook replay guard is in
adapters/redis_replay.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from redis import Redis

from callrouter.adapters import redis_keys as keys
from callrouter.domain.pin_limits import Backoff, PinLimits


@dataclass(frozen=True)
class PinLock:
    """A PIN bucket as kept in Redis: kind (number, code, own), name (pseudonym or code), wrong PINs in a row,
    and until when it is closed (Unix time; in the past: open, but still remembered)."""

    kind: str
    name: str
    wrong: int
    until: float

    def closed(self, now: datetime) -> bool:
        return self.until > now.timestamp()


class RedisGuard:
    def __init__(self, redis: Redis, *, limits: PinLimits | None = None, announce_after_seconds: int = 30,
                 announce_every_seconds: int = 90):
        self._redis = redis
        self._limits = limits or PinLimits()
        self._first = announce_after_seconds
        self._every = announce_every_seconds
        folder = resources.files("callrouter.adapters") / "lua"
        self._wrong = redis.register_script((folder / "pin_wrong.lua").read_text())

    @property
    def limits(self) -> PinLimits:
        return self._limits

    # -- PIN guessing ------------------------------------------------------------------------------

    def _closed_until(self, names: list[str]) -> list[float]:
        with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(name, "until")
            found = pipe.execute()
        return [float(value) if value is not None else 0.0 for value in found]

    def is_locked(self, *, caller: str, now: datetime) -> bool:
        (until,) = self._closed_until([keys.pin_bucket("number", caller)])
        return until > now.timestamp()

    def pin_closed(self, *, caller: str, code: str, own_number: bool, now: datetime) -> bool:
        moment = now.timestamp()
        bucket = keys.pin_bucket("own" if own_number else "code", code)
        if any(until > moment for until in self._closed_until([keys.pin_bucket("number", caller), bucket])):
            return True
        return not own_number and self.wrong_this_hour(now) >= self._limits.global_per_hour

    def _count(self, kind: str, name: str, backoff: Backoff, now: datetime) -> None:
        self._wrong(keys=[keys.pin_bucket(kind, name)],
                    args=[f"{now.timestamp():.3f}", backoff.free, backoff.base_seconds, backoff.cap_seconds,
                          backoff.memory_seconds])

    def record_wrong_pin(self, *, caller: str, code: str | None, own_number: bool, now: datetime) -> None:
        self._count("number", caller, self._limits.number, now)
        if code is None:
            return
        if own_number:
            self._count("own", code, self._limits.own, now)
        else:
            self._count("code", code, self._limits.code, now)
        hour_key = keys.pin_wrong_in_hour(int(now.timestamp() // 3600))
        with self._redis.pipeline() as pipe:  # MULTI: the counter and its expiry together
            pipe.incr(hour_key)
            pipe.expire(hour_key, 2 * 3600)
            pipe.execute()

    def record_right_pin(self, *, caller: str, code: str, own_number: bool) -> None:
        """The caller's number and, from an own number, the code's own bucket start afresh; the code's bucket
        for other numbers does not (someone else's guessing on it goes on counting)."""
        names = [keys.pin_bucket("number", caller)] + ([keys.pin_bucket("own", code)] if own_number else [])
        self._redis.delete(*names)

    def wrong_this_hour(self, now: datetime) -> int:
        value = self._redis.get(keys.pin_wrong_in_hour(int(now.timestamp() // 3600)))
        return int(value) if value is not None else 0

    def unlock(self, *, code: str | None = None, caller: str | None = None) -> int:
        """Forget the buckets of a code (both kinds) and/or a caller number; returns how many were there."""
        names = ([keys.pin_bucket("code", code), keys.pin_bucket("own", code)] if code else []) + (
            [keys.pin_bucket("number", caller)] if caller else [])
        return int(self._redis.delete(*names)) if names else 0

    def locks(self) -> list[PinLock]:
        """Every remembered PIN bucket, closed or not, sorted by kind and name."""
        found: list[PinLock] = []
        prefix = keys.pin_bucket_pattern()[:-1]
        for raw in self._redis.scan_iter(match=keys.pin_bucket_pattern(), count=500):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            kind, _, who = name[len(prefix):].partition(":")
            wrong, until = self._redis.hmget(name, ["n", "until"])
            if wrong is None:
                continue
            found.append(PinLock(kind, who, int(wrong), float(until or 0)))
        return sorted(found, key=lambda lock: (lock.kind, lock.name))

    # -- hold announcements ------------------------------------------------------------------------

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

