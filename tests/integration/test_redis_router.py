"""The router on a real Redis: order, eligibility, atomicity, rebuild, and a many-process race."""

from __future__ import annotations

import multiprocessing
import random
import time

import pytest
import redis as redis_lib

from callrouter.adapters import redis_keys
from callrouter.adapters.redis_router import RedisRouter
from callrouter.domain.queueing import (
    ANY_TOPIC,
    AbandonResult,
    CallClass,
    CallSnapshot,
    FreeLiaison,
    LiaisonSnapshot,
    OrgSnapshot,
    Pair,
    Presence,
    QueuePosition,
    RoutingRules,
    WaitingCall,
    plan_dispatch,
)

WIDEN, PROMOTE = 60_000, 600_000
T0 = 1_700_000_000_000
ORG = "UWV"


@pytest.fixture()
def router(redis: redis_lib.Redis) -> RedisRouter:
    return RedisRouter(redis, widen_after_ms=WIDEN, citizen_promote_after_ms=PROMOTE)


def enqueue(router: RedisRouter, sid: str, *, at_s: float, topic: str = "ww", klass: str = "pro") -> None:
    assert router.enqueue(call_sid=sid, org=ORG, topic=topic, klass=klass, enqueued_at_ms=T0 + int(at_s * 1000))


def free(router: RedisRouter, lid: int, *topics: str, at_s: float = 0) -> None:
    result = router.set_presence(liaison_id=lid, org=ORG, topics=topics, status="available",
                                 now_ms=T0 + int(at_s * 1000))
    assert result.accepted


def pairs(router: RedisRouter, *, at_s: float) -> list[tuple[str, int]]:
    return [(c.call_sid, c.liaison_id) for c in router.dispatch(org=ORG, now_ms=T0 + int(at_s * 1000))]


def test_professional_before_three_earlier_citizens(router: RedisRouter) -> None:
    for i in range(3):
        enqueue(router, f"cit{i}", at_s=i, klass="cit")
    enqueue(router, "pro", at_s=10)
    free(router, 1, "ww")
    assert pairs(router, at_s=11) == [("pro", 1)]


def test_oldest_first_within_class(router: RedisRouter) -> None:
    enqueue(router, "b", at_s=2)
    enqueue(router, "a", at_s=1)
    enqueue(router, "c", at_s=3)
    free(router, 1, "ww")
    free(router, 2, "ww", at_s=1)
    assert pairs(router, at_s=4) == [("a", 1), ("b", 2)]


def test_citizen_promoted_after_the_promote_time(router: RedisRouter) -> None:
    enqueue(router, "cit", at_s=0, klass="cit")
    enqueue(router, "pro", at_s=650)
    free(router, 1, "ww")
    assert pairs(router, at_s=700) == [("cit", 1)]


def test_experts_first_then_widening_then_anyone_for_star(router: RedisRouter) -> None:
    enqueue(router, "ww", at_s=0)
    free(router, 1, "zw")
    assert pairs(router, at_s=30) == []  # not widened yet, no expert
    free(router, 2, "ww", at_s=40)
    assert pairs(router, at_s=45) == [("ww", 2)]  # the expert, though 1 idles longer
    enqueue(router, "ww2", at_s=50)
    assert pairs(router, at_s=109) == []
    assert pairs(router, at_s=110) == [("ww2", 1)]  # widened: anyone
    enqueue(router, "star", at_s=111, topic=ANY_TOPIC)
    free(router, 3, "aow", at_s=111)
    assert pairs(router, at_s=112) == [("star", 3)]


def test_busy_and_away_liaisons_are_not_offered(router: RedisRouter) -> None:
    free(router, 1, "ww")
    enqueue(router, "a", at_s=1)
    assert pairs(router, at_s=1) == [("a", 1)]
    router.set_presence(liaison_id=2, org=ORG, topics=["ww"], status="away", now_ms=T0)
    enqueue(router, "b", at_s=2)
    assert pairs(router, at_s=200) == []
    refused = router.set_presence(liaison_id=1, org=ORG, topics=["ww"], status="available", now_ms=T0 + 3000)
    assert (refused.accepted, refused.reason, refused.call_sid) == (False, "busy_with_call", "a")
    assert pairs(router, at_s=200) == []
    assert router.call_of_liaison(liaison_id=1, org=ORG) == "a"


def test_requeue_keeps_the_front_place_and_sets_the_liaison_away(router: RedisRouter) -> None:
    enqueue(router, "first", at_s=0)
    enqueue(router, "second", at_s=5)
    free(router, 1, "ww")
    assert pairs(router, at_s=6) == [("first", 1)]
    result = router.requeue_after_no_answer(call_sid="first", liaison_id=1, org=ORG, now_ms=T0 + 26_000)
    assert (result.requeued, result.liaison_set_away) == (True, True)
    assert router.liaison_status(liaison_id=1, org=ORG) is Presence.AWAY
    assert router.call_of_liaison(liaison_id=1, org=ORG) is None
    assert router.position(call_sid="first", org=ORG) == QueuePosition(position=1, size=2)
    free(router, 2, "ww", at_s=27)
    assert pairs(router, at_s=27) == [("first", 2)]
    repeated = router.requeue_after_no_answer(call_sid="first", liaison_id=1, org=ORG)
    assert (repeated.requeued, repeated.liaison_set_away) == (False, False)


def test_abandon_while_queued_and_while_offered(router: RedisRouter) -> None:
    enqueue(router, "a", at_s=0)
    enqueue(router, "b", at_s=1)
    assert router.abandon(call_sid="a", org=ORG) == AbandonResult(was_queued=True, freed_liaison_id=None)
    free(router, 1, "ww")
    assert pairs(router, at_s=2) == [("b", 1)]
    assert router.abandon(call_sid="b", org=ORG, now_ms=T0 + 3000) == AbandonResult(False, 1)
    assert router.liaison_status(liaison_id=1, org=ORG) is Presence.AVAILABLE
    assert router.abandon(call_sid="b", org=ORG) == AbandonResult(False, None)
    assert router.waiting_count(org=ORG) == 0
    counts = router.presence_counts(org=ORG)
    assert (counts[Presence.AVAILABLE], counts[Presence.BUSY]) == (1, 0)


def test_release_ends_only_the_call_it_names(router: RedisRouter) -> None:
    free(router, 1, "ww")
    enqueue(router, "a", at_s=0)
    assert pairs(router, at_s=1) == [("a", 1)]
    done = router.release_liaison(liaison_id=1, org=ORG, status="available", now_ms=T0 + 9000, call_sid="a")
    assert (done.accepted, done.call_sid, done.status) == (True, "a", Presence.AVAILABLE)
    enqueue(router, "b", at_s=10)
    assert pairs(router, at_s=10) == [("b", 1)]
    late = router.release_liaison(liaison_id=1, org=ORG, status="available", now_ms=T0 + 11_000, call_sid="a")
    assert (late.accepted, late.reason, late.call_sid) == (False, "not_this_call", "b")
    assert router.liaison_of_call(call_sid="b", org=ORG) == 1


def test_enqueue_is_idempotent(router: RedisRouter) -> None:
    enqueue(router, "a", at_s=0)
    assert not router.enqueue(call_sid="a", org=ORG, topic="ww", klass="pro", enqueued_at_ms=T0 + 5000)
    assert router.waiting_count(org=ORG) == 1
    assert router.oldest_wait_ms(org=ORG, now_ms=T0 + 7000) == 7000


def test_positions_count_who_the_same_liaisons_serve_first(router: RedisRouter) -> None:
    enqueue(router, "p1", at_s=10)
    enqueue(router, "c-old", at_s=0, klass="cit")  # rank 600 s: behind every professional here
    enqueue(router, "star", at_s=5, topic=ANY_TOPIC)
    enqueue(router, "p2", at_s=20)
    enqueue(router, "zw", at_s=1, topic="zw")  # other topic: not ahead
    assert router.position(call_sid="star", org=ORG) == QueuePosition(2, 5)  # anyone's: all queues count
    assert router.position(call_sid="p1", org=ORG) == QueuePosition(2, 4)
    assert router.position(call_sid="p2", org=ORG) == QueuePosition(3, 4)
    assert router.position(call_sid="c-old", org=ORG) == QueuePosition(4, 4)
    assert router.position(call_sid="unknown", org=ORG) is None
    assert router.waiting_count(org=ORG) == 5


def test_history_of_waits_and_claims(router: RedisRouter) -> None:
    enqueue(router, "a", at_s=0)
    free(router, 1, "ww")
    pairs(router, at_s=42)
    assert router.recent_waits(org=ORG, topic="ww") == [42_000]
    assert router.recent_claim_times(org=ORG) == [T0 + 42_000]
    history = router.wait_history(org=ORG, topic="ww")  # the three in one round trip, for a hold turn
    assert (history.waits_ms, history.claim_times_ms) == ((42_000,), (T0 + 42_000,))
    assert history.presence == router.presence_counts(org=ORG) and history.presence[Presence.BUSY] == 1
    assert router.wait_history(org=ORG, topic="zw").waits_ms == ()


def test_rebuild_after_flushdb_gives_the_same_dispatch(redis: redis_lib.Redis, router: RedisRouter) -> None:
    snapshot = OrgSnapshot(
        org=ORG,
        calls=[CallSnapshot("a", "ww", CallClass.PRO, T0), CallSnapshot("b", "zw", CallClass.CIT, T0 + 1000),
               CallSnapshot("c", ANY_TOPIC, CallClass.PRO, T0 + 2000),
               CallSnapshot("d", "ww", CallClass.PRO, T0 + 3000),
               CallSnapshot("offered", "ww", CallClass.PRO, T0 - 5000, liaison_id=4)],
        liaisons=[LiaisonSnapshot(1, ("ww",), Presence.AVAILABLE, T0 + 10),
                  LiaisonSnapshot(2, ("zw",), Presence.AWAY, T0),
                  LiaisonSnapshot(3, ("zw", "ww"), Presence.AVAILABLE, T0 + 5),
                  LiaisonSnapshot(4, ("ww",), Presence.BUSY, T0, call_sid="offered"),
                  LiaisonSnapshot(5, ("aow",), Presence.BUSY, T0, call_sid="connected")],
    )
    router.rebuild(snapshots=[snapshot])
    first = pairs(router, at_s=70)
    state = {key: redis.dump(key) for key in redis.keys()}
    redis.flushdb()
    router.rebuild(snapshots=[snapshot])
    assert pairs(router, at_s=70) == first == [("a", 3), ("c", 1)]
    assert router.liaison_of_call(call_sid="offered", org=ORG) == 4
    assert router.call_of_liaison(liaison_id=5, org=ORG) == "connected"
    assert router.presence_counts(org=ORG)[Presence.BUSY] == 4
    assert len(state) == len(redis.keys())


def test_keys_share_the_org_hash_tag() -> None:
    layout = redis_keys.org_layout("UWV", ["ww", ANY_TOPIC])
    assert all("{UWV}" in key for key in layout)
    with pytest.raises(ValueError):
        redis_keys.queue("UW{V}", "ww", "pro")


@pytest.mark.parametrize("seed", range(120))
def test_lua_chooses_the_pairs_the_reference_chooses(redis: redis_lib.Redis, seed: int) -> None:
    rng = random.Random(seed)
    rules = RoutingRules(widen_after_ms=rng.choice([0, 5_000, 60_000]),
                         citizen_promote_after_ms=rng.choice([0, 30_000, 600_000]))
    router = RedisRouter(redis, widen_after_ms=rules.widen_after_ms,
                         citizen_promote_after_ms=rules.citizen_promote_after_ms)
    topics = rng.sample(["ww", "zw", "wia", "aow"], rng.randint(1, 4))
    now = T0 + 1_000_000
    waiting = [
        WaitingCall(f"CA{i:04d}", rng.choice([*topics, ANY_TOPIC]), rng.choice(list(CallClass)),
                    now - rng.choice([0, 1000, 5000, 30_000, 60_000, 100_000, 700_000]) - rng.randint(0, 2) * 1000)
        for i in range(rng.randint(0, 25))
    ]
    free_liaisons = []
    for lid in rng.sample(range(1, 40), rng.randint(0, 12)):
        known = frozenset(rng.sample(topics, rng.randint(0, len(topics))))
        since = now - rng.choice([0, 1000, 2000, 50_000])
        status = "available" if rng.random() < 0.8 else "away"
        router.set_presence(liaison_id=lid, org=ORG, topics=known, status=status, now_ms=since)
        if status == "available":
            free_liaisons.append(FreeLiaison(lid, known, since))
    for call in waiting:
        router.enqueue(call_sid=call.call_sid, org=ORG, topic=call.topic, klass=call.klass,
                       enqueued_at_ms=call.enqueued_at_ms)
    expected = plan_dispatch(waiting=waiting, free=free_liaisons, now_ms=now, rules=rules)
    got = [Pair(c.call_sid, c.liaison_id) for c in router.dispatch(org=ORG, now_ms=now)]
    assert got == expected


# -- many processes at once ---------------------------------------------------------------------

TOPICS = ["ww", "zw", "wia"]
LIAISONS = range(1, 21)
_CAD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _topics_of(lid: int) -> list[str]:
    return [t for i, t in enumerate(TOPICS) if (lid >> i) & 1]


def _now() -> int:
    return int(time.time() * 1000)


def _note_claim(r: redis_lib.Redis, sid: str, lid: int) -> None:
    """Fails the run (a list entry) if the call was already claimed or the liaison already holds one.

    A caller may hang up between the claim and this note (the router then frees the liaison at
    once); calls in `test:abandoning` are therefore not held against the liaison.
    """
    if not r.set(f"test:claimed:{sid}", lid, nx=True):
        r.rpush("test:violations", f"call {sid} claimed twice")
    while not r.set(f"test:held:{lid}", sid, nx=True):
        holding = r.get(f"test:held:{lid}")
        if holding is None:
            continue
        if r.sismember("test:abandoning", holding):
            r.set(f"test:held:{lid}", sid)
        elif not r.sismember("test:abandoning", sid):
            r.rpush("test:violations", f"liaison {lid} got {sid} while holding {holding.decode()}")
        break
    r.rpush("test:claims", f"{sid} {lid}")


def _worker(url: str, worker: int, n_calls: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    r = redis_lib.Redis.from_url(url)
    router = RedisRouter(r, widen_after_ms=200, citizen_promote_after_ms=2000)
    counts = {"enqueued": 0, "released": 0, "abandoned": 0, "requeued": 0, "claims": 0}
    held: list[tuple[str, int]] = []

    def finish(sid: str, lid: int) -> None:
        r.eval(_CAD, 1, f"test:held:{lid}", sid)  # before the router frees the liaison
        action = rng.random()
        if action < 0.2:
            r.delete(f"test:claimed:{sid}")  # it may be claimed again once requeued
            counts["requeued"] += router.requeue_after_no_answer(call_sid=sid, liaison_id=lid, org=ORG).requeued
        elif action < 0.3:
            counts["abandoned"] += router.abandon(call_sid=sid, org=ORG).freed_liaison_id == lid
        else:
            status = rng.choice(["available", "available", "wrap_up"])
            result = router.release_liaison(liaison_id=lid, org=ORG, status=status, now_ms=_now(), call_sid=sid)
            counts["released"] += result.accepted

    for i in range(n_calls):
        sid = f"CA{worker}x{i:04d}"
        counts["enqueued"] += router.enqueue(call_sid=sid, org=ORG, topic=rng.choice([*TOPICS, ANY_TOPIC]),
                                             klass=rng.choice(["pro", "cit"]), enqueued_at_ms=_now())
        lid = rng.choice(LIAISONS)
        router.set_presence(liaison_id=lid, org=ORG, topics=_topics_of(lid),
                            status=rng.choice(["available", "available", "away"]), now_ms=_now())
        if rng.random() < 0.1:  # a caller of this worker hangs up, wherever the call is
            victim = f"CA{worker}x{rng.randrange(i + 1):04d}"
            r.sadd("test:abandoning", victim)
            result = router.abandon(call_sid=victim, org=ORG)
            if result.freed_liaison_id is not None:
                r.eval(_CAD, 1, f"test:held:{result.freed_liaison_id}", victim)
            counts["abandoned"] += result.was_queued or result.freed_liaison_id is not None
        for claim in router.dispatch(org=ORG, now_ms=_now()):
            _note_claim(r, claim.call_sid, claim.liaison_id)
            counts["claims"] += 1
            held.append((claim.call_sid, claim.liaison_id))
        while held and rng.random() < 0.6:
            finish(*held.pop(rng.randrange(len(held))))
    while held:
        finish(*held.pop())
    r.close()
    return counts


def test_many_processes_never_double_book(redis: redis_lib.Redis, redis_url: str, router: RedisRouter) -> None:
    for lid in LIAISONS:
        router.set_presence(liaison_id=lid, org=ORG, topics=_topics_of(lid), status="available", now_ms=_now())
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        results = pool.starmap(_worker, [(redis_url, w, 150, 1000 + w) for w in range(6)])
    assert redis.lrange("test:violations", 0, -1) == []
    total = {key: sum(r[key] for r in results) for key in results[0]}
    assert total["claims"] >= 200
    counts = router.presence_counts(org=ORG)
    assert counts[Presence.BUSY] == 0 and sum(counts.values()) == len(LIAISONS)
    assert redis.zcard(redis_keys.free(ORG)) == counts[Presence.AVAILABLE]
    # Drain: every call still waiting is claimed exactly once more; none was lost or served twice.
    for lid in LIAISONS:
        router.release_liaison(liaison_id=lid, org=ORG, status="available", now_ms=_now())
    drained = 0
    while claims := router.dispatch(org=ORG, now_ms=_now() + 10_000):
        for claim in claims:
            assert redis.set(f"test:claimed:{claim.call_sid}", 0, nx=True)
            router.release_liaison(liaison_id=claim.liaison_id, org=ORG, status="available", now_ms=_now(),
                                   call_sid=claim.call_sid)
            drained += 1
    assert router.waiting_count(org=ORG) == 0
    assert total["released"] + total["abandoned"] + drained == total["enqueued"] == 900
    assert redis.hlen(redis_keys.calls(ORG)) == 0
