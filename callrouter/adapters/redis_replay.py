"""The webhook replay guard in Redis: one signed Twilio request has one effect.

May be lost with Redis without harm beyond its purpose: the replay window restarts.

A request's key holds either a claim (`0` + the holder's token, while the first delivery is handled) or the
first delivery's response (`1` + the TwiML, for the replay window). A claim lives `claim_seconds` (2 s) and
is renewed by its holder every third of that while the handler runs, so a holder that dies (a web process
killed mid-request, whose retry HAProxy sends to the other host) lets a retry take over within about two
seconds, while a slow but living holder keeps its claim however long it takes: one effect per signed request
either way.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from importlib import resources

from redis import Redis

from callrouter.adapters import redis_keys as keys

log = logging.getLogger("callrouter.replay")
PENDING, DONE = b"0", b"1"


@dataclass(frozen=True)
class Claim:
    """The right to handle one signed request: `store` (or `release`) it when done."""

    digest: str
    token: bytes


class ReplayGuard:
    """The same signed request delivered twice has one effect: the second gets the first's response.

    Keyed on what Twilio signs, in canonical form (web/twilio_webhook.py `canonical_request`), never on
    unsigned headers or the raw bytes of the body.
    """

    def __init__(self, redis: Redis, *, window_seconds: int, claim_seconds: float = 2.0):
        self._redis = redis
        self._window = window_seconds
        self._claim_ms = max(int(claim_seconds * 1000), 300)
        folder = resources.files("callrouter.adapters") / "lua"
        self._claim = redis.register_script((folder / "replay_claim.lua").read_text())
        self._renew = redis.register_script((folder / "replay_renew.lua").read_text())
        self._release = redis.register_script((folder / "replay_release.lua").read_text())
        self._held: dict[str, bytes] = {}  # key -> token of the claims this process is handling
        self._lock = threading.Lock()
        self._keeper_pid = 0
        self._writer_pid = 0
        self._outbox: queue.SimpleQueue[tuple[Claim, bytes]] = queue.SimpleQueue()
        self._prefix = secrets.token_hex(6).encode()
        self._counter = itertools.count()

    @staticmethod
    def digest(canonical: bytes) -> str:
        """The key of one request: a hash of its canonical signed form (the web layer builds it)."""
        return hashlib.sha256(canonical).hexdigest()

    def acquire(self, digest: str, *, timeout: float = 10.0, poll: float = 0.02) -> Claim | bytes | None:
        """One Redis round trip for a first delivery: a `Claim` (handle it), or the first delivery's response.

        A delivery that finds another's claim waits for its response, or takes the claim over when its holder
        stopped renewing it (died). None: still held after `timeout` by a holder that renews it (hung); the
        caller decides (the webhook handles it rather than let Twilio give up on the call)."""
        deadline = time.monotonic() + timeout
        while True:
            token = self._token()
            found = self._claim(keys=[keys.webhook_replay(digest)], args=[PENDING + token, self._claim_ms])
            if found == 1:
                return self._hold(digest, token)
            if isinstance(found, bytes) and found.startswith(DONE):
                return found[1:]
            if time.monotonic() >= deadline:
                log.warning("replay.claim_still_held digest=%s", digest[:12])  # its holder renews, never answers
                return None
            time.sleep(poll)

    def claim(self, digest: str) -> Claim | None:
        """The claim if this is the first delivery (no wait), else None."""
        token = self._token()
        found = self._claim(keys=[keys.webhook_replay(digest)], args=[PENDING + token, self._claim_ms])
        return self._hold(digest, token) if found == 1 else None

    def store(self, claim: Claim, response: bytes) -> None:
        """The response for replays of the claimed request, for the replay window; the claim ends."""
        self.forget(claim)
        self._redis.set(keys.webhook_replay(claim.digest), DONE + response, ex=self._window)

    def store_later(self, claim: Claim, response: bytes) -> None:
        """As `store`, off the request's path: a writer thread sends the responses waiting at that moment in
        one pipeline. The claim is renewed until its response is there, so a retry that comes meanwhile
        waits for it (a few milliseconds) and is never handled twice."""
        with self._lock:
            if self._writer_pid != os.getpid():
                self._writer_pid = os.getpid()
                self._outbox = queue.SimpleQueue()
                threading.Thread(target=self._write, name="replay-answer-writer", daemon=True).start()
        self._outbox.put((claim, response))

    def _write(self) -> None:
        pid, outbox = os.getpid(), self._outbox
        while self._writer_pid == pid:
            batch = [outbox.get()]
            while len(batch) < 200:
                try:
                    batch.append(outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                with self._redis.pipeline(transaction=False) as pipe:
                    for claim, response in batch:
                        pipe.set(keys.webhook_replay(claim.digest), DONE + response, ex=self._window)
                    pipe.execute()
            except Exception:  # noqa: BLE001 - Redis away: the claims lapse; a retry handles the request again
                log.warning("replay.store_failed answers=%d", len(batch))
            for claim, _ in batch:
                self.forget(claim)

    def release(self, claim: Claim) -> None:
        """Give the claim up without a response (a retry will handle the request); only one's own claim."""
        self.forget(claim)
        self._release(keys=[keys.webhook_replay(claim.digest)], args=[PENDING + claim.token])

    def _token(self) -> bytes:
        """Unique to one claim: this guard's random prefix, the process, a counter (no system call per claim)."""
        return b"%s.%d.%d" % (self._prefix, os.getpid(), next(self._counter))

    def _hold(self, digest: str, token: bytes) -> Claim:
        with self._lock:
            self._held[keys.webhook_replay(digest)] = PENDING + token
            if self._keeper_pid != os.getpid():  # first claim in this process (or after a fork)
                self._keeper_pid = os.getpid()
                threading.Thread(target=self._keep, name="replay-claim-keeper", daemon=True).start()
        return Claim(digest, token)

    def forget(self, claim: Claim) -> None:
        """Stop renewing a claim (after `store`, or when its handling failed: it lapses, a retry takes over)."""
        with self._lock:
            self._held.pop(keys.webhook_replay(claim.digest), None)

    def _keep(self) -> None:
        """Renews every claim this process holds, in one script call, every third of the claim's life."""
        pid = os.getpid()
        while self._keeper_pid == pid:
            time.sleep(self._claim_ms / 3000)
            with self._lock:
                held = list(self._held.items())
            if not held:
                continue
            try:
                self._renew(keys=[key for key, _ in held], args=[self._claim_ms, *(value for _, value in held)])
            except Exception:  # noqa: BLE001 - Redis away: the next round tries again
                log.warning("replay.renew_failed claims=%d", len(held))

    def stop_renewing(self) -> None:
        """As if this process had died holding its claims (tests of a retry taking over)."""
        with self._lock:
            self._keeper_pid = -1
            self._held.clear()
