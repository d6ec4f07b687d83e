"""The webhook replay guard in Redis: one signed Twilio request has one effect.

May be lost with Redis without harm beyond its purpose: the replay window restarts.
"""

from __future__ import annotations

import hashlib
import time

from redis import Redis

from callrouter.adapters import redis_keys as keys


class ReplayGuard:
    """The same signed request delivered twice has one effect: the second gets the first's response.

    Keyed on what Twilio signs, in canonical form (web/twilio_webhook.py `canonical_request`), never on
    unsigned headers or the raw bytes of the body.
    """

    def __init__(self, redis: Redis, *, window_seconds: int):
        self._redis = redis
        self._window = window_seconds

    @staticmethod
    def digest(canonical: bytes) -> str:
        """The key of one request: a hash of its canonical signed form (the web layer builds it)."""
        return hashlib.sha256(canonical).hexdigest()

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
