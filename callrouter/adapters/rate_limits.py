"""Rate limits counted in Redis with the `limits` library (moving windows), so they hold across processes.

Each limit has a name (login_start, api_token_failure, unsigned_webhook, export) and a setting such as
"10/minute"; a hit names who is counted (a source address, an account). Keys live under
callrouter:limits: and expire by themselves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis as redis_lib
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

KEY_PREFIX = "callrouter:limits"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until a request would be allowed again (0 when allowed)


class RedisRateLimits:
    def __init__(self, redis: redis_lib.Redis, *, redis_url: str, limits: dict[str, str]):
        storage = RedisStorage(redis_url, connection_pool=redis.connection_pool, key_prefix=KEY_PREFIX)
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, list[RateLimitItem]] = {name: parse_many(text) for name, text in limits.items()}

    def _retry_after(self, items: list[RateLimitItem], name: str, who: str) -> int:
        now = time.time()
        stats = [self._limiter.get_window_stats(item, name, who) for item in items]
        waits = [s.reset_time - now for s in stats if s.remaining <= 0]
        return max(1, math.ceil(max(waits, default=1.0)))

    def hit(self, name: str, who: str) -> Verdict:
        """Count one request of `who`; refused when it goes over any of the limit's windows."""
        items = self._items[name]
        allowed = all([self._limiter.hit(item, name, who) for item in items])
        return Verdict(True, 0) if allowed else Verdict(False, self._retry_after(items, name, who))

    def check(self, name: str, who: str) -> Verdict:
        """Whether `who` is still within the limit, without counting a request."""
        items = self._items[name]
        if all(self._limiter.test(item, name, who) for item in items):
            return Verdict(True, 0)
        return Verdict(False, self._retry_after(items, name, who))

    def clear(self, name: str, who: str) -> None:
        for item in self._items[name]:
            self._limiter.clear(item, name, who)
