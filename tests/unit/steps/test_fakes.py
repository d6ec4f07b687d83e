"""The fakes keep the real adapters' contracts: the scenarios of tests/integration/test_redis_router.py with the same
expected values, the MOVES table as the SQL call store applies it, the callback store's compare-and-set."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from callrouter.domain.callbacks import CallbackOrigin, CallbackState
from callrouter.domain.calls import MOVES, CallMove, CallState, EventKind, IllegalMove
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
from tests.fakes import FakeCallbackStore, FakeCallStore, FakeClock, FakeRouter, make_deps, seed_call

WIDEN, PROMOTE = 60_000, 600_000
T0 = 1_700_000_000_000
ORG = "UWV"


@pytest.fixture()
def router() -> FakeRouter:
    return FakeRouter(widen_after_ms=WIDEN, citizen_promote_after_ms=PROMOTE)


def enqueue(router: FakeRouter, sid: str, *, at_s: float, topic: str = "ww", klass: str = "pro") -> None:
    assert router.enqueue(call_sid=sid, org=ORG, topic=topic, klass=klass, enqueued_at_ms=T0 + int(at_s * 1000))


def free(router: FakeRouter, lid: int, *topics: str, at_s: float = 0) -> None:
    assert router.set_presence(liaison_id=lid, org=ORG, topics=topics, status="available",
                               now_ms=T0 + int(at_s * 1000)).accepted


def pairs(router: FakeRouter, *, at_s: float) -> list[tuple[str, int]]:
    return [(c.call_sid, c.liaison_id) for c in router.dispatch(org=ORG, now_ms=T0 + int(at_s * 1000))]


def test_router_order_professionals_first_oldest_first_citizens_promoted(router: FakeRouter) -> None:
    for i in range(3):
        enqueue(router, f"cit{i}", at_s=i, klass="cit")
    enqueue(router, "pro", at_s=10)
    free(router, 1, "ww")
    assert pairs(router, at_s=11) == [("pro", 1)]
    other = FakeRouter(widen_after_ms=WIDEN, citizen_promote_after_ms=PROMOTE)
    enqueue(other, "cit", at_s=0, klass="cit")
    enqueue(other, "pro", at_s=650)
    free(other, 1, "ww")
    assert pairs(other, at_s=700) == [("cit", 1)]


def test_router_experts_then_widening_then_anyone_for_star(router: FakeRouter) -> None:
    enqueue(router, "ww", at_s=0)
    free(router, 1, "zw")
    assert pairs(router, at_s=30) == []
    free(router, 2, "ww", at_s=40)
    assert pairs(router, at_s=45) == [("ww", 2)]
    enqueue(router, "ww2", at_s=50)
    assert pairs(router, at_s=109) == []
    assert pairs(router, at_s=110) == [("ww2", 1)]
    enqueue(router, "star", at_s=111, topic=ANY_TOPIC)
    free(router, 3, "aow", at_s=111)
    assert pairs(router, at_s=112) == [("star", 3)]


def test_router_busy_requeue_abandon_release(router: FakeRouter) -> None:
    enqueue(router, "first", at_s=0)
    enqueue(router, "second", at_s=5)
    free(router, 1, "ww")
    assert pairs(router, at_s=6) == [("first", 1)]
    refused = router.set_presence(liaison_id=1, org=ORG, topics=["ww"], status="available", now_ms=T0 + 7000)
    assert (refused.accepted, refused.reason, refused.call_sid) == (False, "busy_with_call", "first")
    result = router.requeue_after_no_answer(call_sid="first", liaison_id=1, org=ORG, now_ms=T0 + 26_000)
    assert (result.requeued, result.liaison_set_away) == (True, True)
    assert router.liaison_status(liaison_id=1, org=ORG) is Presence.AWAY
    assert router.position(call_sid="first", org=ORG) == QueuePosition(position=1, size=2)
    free(router, 2, "ww", at_s=27)
    assert pairs(router, at_s=27) == [("first", 2)]
    assert router.abandon(call_sid="first", org=ORG, now_ms=T0 + 28_000) == AbandonResult(False, 2)
    assert router.abandon(call_sid="first", org=ORG) == AbandonResult(False, None)
    assert router.abandon(call_sid="second", org=ORG) == AbandonResult(True, None)
    enqueue(router, "a", at_s=30)
    assert pairs(router, at_s=30) == [("a", 2)]
    done = router.release_liaison(liaison_id=2, org=ORG, status="available", now_ms=T0 + 40_000, call_sid="a")
    assert (done.accepted, done.call_sid, done.status) == (True, "a", Presence.AVAILABLE)
    enqueue(router, "b", at_s=41)
    assert pairs(router, at_s=41) == [("b", 2)]
    late = router.release_liaison(liaison_id=2, org=ORG, status="available", now_ms=T0 + 42_000, call_sid="a")
    assert (late.accepted, late.reason, late.call_sid) == (False, "not_this_call", "b")
    moved = router.set_presence(liaison_id=1, org=ORG, topics=["ww"], status="available", now_ms=T0,
                                only_from=Presence.WRAP_UP)
    assert (moved.accepted, moved.reason, moved.status) == (False, "status_changed", Presence.AWAY)
    with pytest.raises(ValueError):
        router.set_presence(liaison_id=1, org=ORG, topics=[], status="busy", now_ms=T0)


def test_router_enqueue_is_idempotent_and_positions_count_who_goes_first(router: FakeRouter) -> None:
    enqueue(router, "p1", at_s=10)
    assert not router.enqueue(call_sid="p1", org=ORG, topic="ww", klass="pro", enqueued_at_ms=T0 + 50_000)
    enqueue(router, "c-old", at_s=0, klass="cit")
    enqueue(router, "star", at_s=5, topic=ANY_TOPIC)
    enqueue(router, "p2", at_s=20)
    enqueue(router, "zw", at_s=1, topic="zw")
    assert router.position(call_sid="star", org=ORG) == QueuePosition(2, 5)
    assert router.position(call_sid="p1", org=ORG) == QueuePosition(2, 4)
    assert router.position(call_sid="p2", org=ORG) == QueuePosition(3, 4)
    assert router.position(call_sid="c-old", org=ORG) == QueuePosition(4, 4)
    assert router.position(call_sid="unknown", org=ORG) is None
    assert router.waiting_count(org=ORG) == 5
    assert router.oldest_wait_ms(org=ORG, now_ms=T0 + 7000) == 7000


def test_router_rebuild_gives_the_same_dispatch(router: FakeRouter) -> None:
    snapshot = OrgSnapshot(
        org=ORG,
        calls=[CallSnapshot("a", "ww", CallClass.PRO, T0), CallSnapshot("b", "zw", CallClass.CIT, T0 + 1000),
               CallSnapshot("c", ANY_TOPIC, CallClass.PRO, T0 + 2000), CallSnapshot("d", "ww", CallClass.PRO, T0 + 3000),
               CallSnapshot("offered", "ww", CallClass.PRO, T0 - 5000, liaison_id=4)],
        liaisons=[LiaisonSnapshot(1, ("ww",), Presence.AVAILABLE, T0 + 10), LiaisonSnapshot(2, ("zw",), Presence.AWAY, T0),
                  LiaisonSnapshot(3, ("zw", "ww"), Presence.AVAILABLE, T0 + 5),
                  LiaisonSnapshot(4, ("ww",), Presence.BUSY, T0, call_sid="offered"),
                  LiaisonSnapshot(5, ("aow",), Presence.BUSY, T0, call_sid="connected")],
    )
    router.rebuild(snapshots=[snapshot])
    assert pairs(router, at_s=70) == [("a", 3), ("c", 1)]
    assert router.liaison_of_call(call_sid="offered", org=ORG) == 4
    assert router.call_of_liaison(liaison_id=5, org=ORG) == "connected"
    assert router.presence_counts(org=ORG)[Presence.BUSY] == 4


@pytest.mark.parametrize("seed", range(40))
def test_router_chooses_the_pairs_the_reference_chooses(seed: int) -> None:
    rng = random.Random(seed)
    rules = RoutingRules(widen_after_ms=rng.choice([0, 5_000, 60_000]),
                         citizen_promote_after_ms=rng.choice([0, 30_000, 600_000]))
    router = FakeRouter(widen_after_ms=rules.widen_after_ms, citizen_promote_after_ms=rules.citizen_promote_after_ms)
    topics = rng.sample(["ww", "zw", "wia", "aow"], rng.randint(1, 4))
    now = T0 + 1_000_000
    waiting = [WaitingCall(f"CA{i:04d}", rng.choice([*topics, ANY_TOPIC]), rng.choice(list(CallClass)),
                           now - rng.choice([0, 1000, 5000, 30_000, 60_000, 700_000])) for i in range(rng.randint(0, 25))]
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
    assert [Pair(c.call_sid, c.liaison_id) for c in router.dispatch(org=ORG, now_ms=now)] == expected


@pytest.mark.parametrize("move", list(CallMove))
def test_call_store_makes_a_move_only_from_its_sources(move: CallMove) -> None:
    deps = make_deps()
    store = deps.calls
    assert isinstance(store, FakeCallStore)
    for state in CallState:
        seed_call(deps, f"CA-{state}", state=state)
        applied = store.apply(f"CA-{state}", event=EventKind.STATUS, at=deps.clock.now(), move=move)
        if state in MOVES[move].sources:
            assert applied is not None and applied.state == MOVES[move].target
            assert store.kinds(f"CA-{state}") == [EventKind.STATUS]
        else:
            assert applied is None and store.get(f"CA-{state}").state == state  # type: ignore[union-attr]
            assert store.kinds(f"CA-{state}") == []


def test_call_store_only_in_dedupe_illegal_state_and_unknown_fields() -> None:
    deps = make_deps()
    store = deps.calls
    assert isinstance(store, FakeCallStore)
    now = deps.clock.now()
    seed_call(deps, "CA-1", state=CallState.QUEUED)
    assert store.apply("CA-1", event=EventKind.ANNOUNCED, at=now, only_in=frozenset({CallState.MENU})) is None
    assert store.apply("CA-1", event=EventKind.ANNOUNCED, at=now, dedupe="k", menu_tries=2) is not None
    assert store.apply("CA-1", event=EventKind.ANNOUNCED, at=now, dedupe="k", menu_tries=5) is None
    assert store.get("CA-1").menu_tries == 2  # type: ignore[union-attr]
    assert store.apply("CA-x", event=EventKind.STATUS, at=now) is None
    with pytest.raises(IllegalMove):
        store.apply("CA-1", event=EventKind.STATUS, at=now, state=CallState.ENDED)
    with pytest.raises(ValueError, match="unknown call fields"):
        store.apply("CA-1", event=EventKind.STATUS, at=now, colour="red")
    record = store.get("CA-1")
    opened, created = store.open_call(record, detail={})  # type: ignore[arg-type]
    assert (opened, created) == (record, False) and store.kinds("CA-1") == [EventKind.ANNOUNCED]


def test_callback_store_compare_and_set_and_one_open_callback_per_key() -> None:
    clock = FakeClock()
    store = FakeCallbackStore()
    now = clock.now()
    values: dict[str, object] = {
        "state": CallbackState.SCHEDULED, "origin": CallbackOrigin.IN_QUEUE, "organisation": ORG, "topic": "ww",
        "priority_class": "pro", "phone_number": "+31612345601", "line_number": "+31850001000", "place_at": now,
        "due_at": now, "expires_at": now + timedelta(hours=48), "attempts": 0, "max_attempts": 3, "created_at": now}
    first, created = store.create(values, open_key="cw1:UWV:ww", cause="asked")
    again, joined = store.create(values, open_key="cw1:UWV:ww", cause="asked")
    assert (created, joined, again.id) == (True, False, first.id)
    assert store.move(first.id, to=CallbackState.DIALLING, cause="t", at=now, expect=frozenset({CallbackState.REQUESTED})) is None
    assert store.move(first.id, to=CallbackState.DIALLING, cause="t", at=now,
                      expect=frozenset({CallbackState.SCHEDULED}), expect_attempts=1) is None
    taken = store.move(first.id, to=CallbackState.DIALLING, cause="t", at=now,
                       expect=frozenset({CallbackState.SCHEDULED}), expect_attempts=0, attempts=1)
    assert taken is not None and (taken.state, taken.attempts) == (CallbackState.DIALLING, 1)
    with pytest.raises(ValueError):
        store.move(first.id, to=CallbackState.EXPIRED, cause="t", at=now, expect=frozenset({CallbackState.DIALLING}))
    store.move(first.id, to=CallbackState.COMPLETED, cause="t", at=now, expect=frozenset({CallbackState.DIALLING}))
    fresh, created_again = store.create(values, open_key="cw1:UWV:ww", cause="asked")
    assert created_again and fresh.id != first.id  # a closed callback frees its key
    assert [e.to_state for e in store.events(first.id)] == [
        CallbackState.SCHEDULED, CallbackState.DIALLING, CallbackState.COMPLETED]
