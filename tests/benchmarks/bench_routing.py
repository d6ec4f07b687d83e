"""Cost of one routing decision (enqueue + dispatch of one pair) with few and with many waiting calls.

Run: .venv/bin/python -m tests.benchmarks.bench_routing   (starts its own redis-server)
Exits 1 if the large/small ratio of the medians exceeds the target.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

import redis as redis_lib

from callrouter.adapters.redis_router import RedisRouter
from callrouter.domain.queueing import ANY_TOPIC, CallClass, CallSnapshot, LiaisonSnapshot, OrgSnapshot, Presence
from tests.servers import redis_server

ORG = "UWV"
TOPICS = ["ww", "zw", "wia", "wajong", "aow", "ziektewet", "wao", "werkregister"]
TOPIC_WEIGHTS = [30, 20, 15, 10, 8, 7, 5, 5]  # a few topics carry most calls
ANY_SHARE = 0.15  # callers who pressed 0
CITIZEN_SHARE = 0.3
LIAISONS = 20
ITERATIONS = 3000
WARMUP = 300
BLOCK = 100
TARGET_RATIO = 1.5


def _topic(rng: random.Random) -> str:
    return ANY_TOPIC if rng.random() < ANY_SHARE else rng.choices(TOPICS, TOPIC_WEIGHTS)[0]


def _klass(rng: random.Random) -> CallClass:
    return CallClass.CIT if rng.random() < CITIZEN_SHARE else CallClass.PRO


def _liaison_topics(lid: int) -> tuple[str, ...]:
    return tuple(TOPICS[(lid + i) % len(TOPICS)] for i in range(1 + lid % 3))


def _fill(router: RedisRouter, rng: random.Random, waiting: int, now_ms: int) -> float:
    """Put `waiting` calls (enqueued over the last 30 minutes) in the org through `rebuild`; its seconds."""
    calls = [CallSnapshot(f"CAfill{i:07d}", _topic(rng), _klass(rng), now_ms - rng.randrange(1_800_000))
             for i in range(waiting)]
    liaisons = [LiaisonSnapshot(lid, _liaison_topics(lid), Presence.AWAY, now_ms) for lid in range(1, LIAISONS + 1)]
    started = time.perf_counter()
    router.rebuild(snapshots=[OrgSnapshot(org=ORG, calls=calls, liaisons=liaisons)])
    return time.perf_counter() - started


class Scenario:
    """One organisation with a constant number of waiting calls (one in, one out per decision)."""

    def __init__(self, client: redis_lib.Redis, *, waiting: int, seed: int = 1) -> None:
        client.flushdb()
        self.waiting = waiting
        self.rng = random.Random(seed)
        self.router = RedisRouter(client, widen_after_ms=60_000, citizen_promote_after_ms=600_000)
        self.clock = int(time.time() * 1000)
        self.fill_s = _fill(self.router, self.rng, waiting, self.clock)
        self.runs = 0
        self.samples: list[float] = []

    def decide(self) -> float:
        """Milliseconds for one routing decision."""
        self.clock += 50
        self.runs += 1
        lid = 1 + self.runs % LIAISONS
        router, rng = self.router, self.rng
        router.set_presence(liaison_id=lid, org=ORG, topics=_liaison_topics(lid), status="available", now_ms=self.clock)
        # the newcomer asks for one of the free liaison's topics (or anyone), so one pair is always possible
        topic = ANY_TOPIC if rng.random() < ANY_SHARE else rng.choice(_liaison_topics(lid))
        started = time.perf_counter_ns()
        router.enqueue(call_sid=f"CAnew{self.runs:07d}", org=ORG, topic=topic, klass=_klass(rng),
                       enqueued_at_ms=self.clock)
        claims = router.dispatch(org=ORG, now_ms=self.clock)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if len(claims) != 1:
            raise AssertionError(f"expected one pair, got {claims}")
        router.release_liaison(liaison_id=lid, org=ORG, status="away", now_ms=self.clock)
        return elapsed

    def check(self) -> None:
        if self.router.waiting_count(org=ORG) != self.waiting:
            raise AssertionError("the waiting count drifted")


def measure(small: Scenario, large: Scenario) -> None:
    """Alternate blocks of decisions, so background load on the machine hits both sizes alike."""
    for scenario in (small, large):
        for _ in range(WARMUP):
            scenario.decide()
    for _ in range(ITERATIONS // BLOCK):
        for scenario in (small, large):
            scenario.samples += [scenario.decide() for _ in range(BLOCK)]
    small.check()
    large.check()


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> int:
    with redis_server() as url:
        base = url.rsplit("/", 1)[0]  # the URL names database 0; the large org gets its own
        clients = [redis_lib.Redis.from_url(f"{base}/{db}") for db in (0, 1)]
        small, large = Scenario(clients[0], waiting=10), Scenario(clients[1], waiting=100_000)
        measure(small, large)
        for client in clients:
            client.close()
    small_p50, large_p50 = statistics.median(small.samples), statistics.median(large.samples)
    ratio = large_p50 / small_p50
    print(f"routing decision (enqueue + dispatch of one pair, {ITERATIONS} runs each, round trips included):")
    print(f"  10 waiting      p50={small_p50:.3f} ms  p99={_p99(small.samples):.3f} ms")
    print(f"  100000 waiting  p50={large_p50:.3f} ms  p99={_p99(large.samples):.3f} ms"
          f"  (rebuild of 100000 calls: {large.fill_s:.2f} s)")
    print(f"  ratio={ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
