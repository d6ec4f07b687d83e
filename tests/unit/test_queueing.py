from __future__ import annotations

import pytest

from callrouter.domain.queueing import (
    ANY_TOPIC,
    CallClass,
    FreeLiaison,
    Pair,
    RoutingRules,
    WaitingCall,
    claim_gaps_s,
    estimate_wait_seconds,
    next_pair,
    percentile,
    plan_dispatch,
    round_for_speech,
)

RULES = RoutingRules(widen_after_ms=60_000, citizen_promote_after_ms=600_000)
NOW = 10_000_000
PRO, CIT = CallClass.PRO, CallClass.CIT


def call(sid: str, *, topic: str = "ww", klass: CallClass = PRO, waited_s: float = 1) -> WaitingCall:
    return WaitingCall(call_sid=sid, topic=topic, klass=klass, enqueued_at_ms=NOW - int(waited_s * 1000))


def liaison(lid: int, *topics: str, idle_s: float = 1) -> FreeLiaison:
    return FreeLiaison(liaison_id=lid, topics=frozenset(topics), since_ms=NOW - int(idle_s * 1000))


def plan(waiting: list[WaitingCall], free: list[FreeLiaison]) -> list[Pair]:
    return plan_dispatch(waiting=waiting, free=free, now_ms=NOW, rules=RULES)


def test_rank_puts_professional_first_and_ages_citizens() -> None:
    assert RULES.rank(klass=PRO, enqueued_at_ms=1000) == 1000
    assert RULES.rank(klass=CIT, enqueued_at_ms=1000) == 601_000


def test_eligibility_expert_any_topic_or_widened() -> None:
    fresh, old = NOW - 1000, NOW - 60_000
    assert RULES.is_eligible(topic="ww", enqueued_at_ms=fresh, now_ms=NOW, liaison_topics=["ww"])
    assert not RULES.is_eligible(topic="ww", enqueued_at_ms=fresh, now_ms=NOW, liaison_topics=["zw"])
    assert RULES.is_eligible(topic=ANY_TOPIC, enqueued_at_ms=fresh, now_ms=NOW, liaison_topics=[])
    assert RULES.is_eligible(topic="ww", enqueued_at_ms=old, now_ms=NOW, liaison_topics=["zw"])


def test_professional_before_three_earlier_citizens() -> None:
    waiting = [call("c1", klass=CIT, waited_s=300), call("c2", klass=CIT, waited_s=200),
               call("c3", klass=CIT, waited_s=100), call("p1", waited_s=5)]
    assert plan(waiting, [liaison(1, "ww")]) == [Pair("p1", 1)]


def test_oldest_first_within_class() -> None:
    waiting = [call("young", waited_s=5), call("old", waited_s=50)]
    assert plan(waiting, [liaison(1, "ww")]) == [Pair("old", 1)]


def test_citizen_promoted_after_the_promote_time() -> None:
    waiting = [call("cit", klass=CIT, waited_s=700), call("pro", waited_s=50)]
    assert plan(waiting, [liaison(1, "ww")]) == [Pair("cit", 1)]


def test_equal_rank_goes_to_the_professional() -> None:
    waiting = [call("cit", klass=CIT, waited_s=650), call("pro", waited_s=50)]
    assert plan(waiting, [liaison(1, "ww")]) == [Pair("pro", 1)]


def test_expert_first_and_no_stranger_before_widening() -> None:
    assert plan([call("a", waited_s=10)], [liaison(1, "zw", idle_s=99), liaison(2, "ww")]) == [Pair("a", 2)]
    assert plan([call("a", waited_s=10)], [liaison(1, "zw")]) == []


def test_widened_call_goes_to_anyone() -> None:
    assert plan([call("a", waited_s=60)], [liaison(1, "zw")]) == [Pair("a", 1)]


def test_any_topic_goes_to_anyone_longest_idle_first() -> None:
    free = [liaison(1, "zw", idle_s=5), liaison(2, idle_s=50)]
    assert plan([call("a", topic=ANY_TOPIC)], free) == [Pair("a", 2)]


def test_anyone_call_leaves_the_expert_a_waiting_call_needs() -> None:
    # The longest-idle liaison is the only ww expert; a ww call waits behind the "*" call.
    waiting = [call("star", topic=ANY_TOPIC, waited_s=30), call("ww", waited_s=10)]
    free = [liaison(1, "ww", idle_s=100), liaison(2, "zw", idle_s=10)]
    assert plan(waiting, free) == [Pair("star", 2), Pair("ww", 1)]


def test_best_ranked_head_wins_over_better_served_topics() -> None:
    waiting = [call("zw-old", topic="zw", waited_s=40), call("ww-new", waited_s=5)]
    free = [liaison(1, "ww", "zw")]
    assert plan(waiting, free) == [Pair("zw-old", 1)]


def test_head_without_liaison_does_not_block_other_topics() -> None:
    waiting = [call("ww-old", waited_s=40), call("zw-new", topic="zw", waited_s=5)]
    assert plan(waiting, [liaison(1, "zw")]) == [Pair("zw-new", 1)]


def test_next_pair_with_nobody_free() -> None:
    assert next_pair(waiting=[call("a")], free=[], now_ms=NOW, rules=RULES) is None


def test_percentile_nearest_rank() -> None:
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 80) == 8
    assert percentile([5], 90) == 5
    with pytest.raises(ValueError):
        percentile([], 50)


def test_claim_gaps_include_the_open_gap() -> None:
    assert claim_gaps_s([3000, 1000, 2000]) == [1.0, 1.0]
    assert claim_gaps_s([1000, 2000], now_ms=62_000) == [1.0, 60.0]


@pytest.mark.parametrize(("seconds", "spoken"), [(0, 30), (1, 30), (31, 60), (90, 90), (120, 120), (121, 180)])
def test_round_for_speech(seconds: float, spoken: int) -> None:
    assert round_for_speech(seconds) == spoken


def test_estimate_without_history_uses_the_conservative_default() -> None:
    estimate = estimate_wait_seconds(position=3, recent_waits_s=[], recent_claim_gaps_s=[], available_liaisons=0,
                                     default_gap_s=120)
    assert estimate == 360


def test_estimate_scales_with_position_on_a_high_gap_percentile() -> None:
    gaps = [10.0] * 9 + [40.0]
    one = estimate_wait_seconds(position=1, recent_waits_s=[], recent_claim_gaps_s=gaps, available_liaisons=0)
    four = estimate_wait_seconds(position=4, recent_waits_s=[], recent_claim_gaps_s=gaps, available_liaisons=0)
    assert (one, four) == (30, 60)  # p90 of the gaps is 10 s: 10 s and 40 s, rounded up


def test_estimate_is_at_least_the_80th_percentile_of_recent_waits() -> None:
    waits = [60.0, 70.0, 80.0, 90.0, 400.0]
    assert estimate_wait_seconds(position=1, recent_waits_s=waits, recent_claim_gaps_s=[5.0] * 10,
                                 available_liaisons=0) == 90  # p80 of five waits is the 4th


def test_estimate_is_honest_for_most_calls_in_a_steady_queue() -> None:
    # Claims every 20-40 s; a call at position p waits about the sum of p gaps.
    import random

    rng = random.Random(7)
    gaps = [rng.uniform(20, 40) for _ in range(50)]
    honest = 0
    for _ in range(500):
        position = rng.randint(1, 8)
        actual = sum(rng.uniform(20, 40) for _ in range(position))
        announced = estimate_wait_seconds(position=position, recent_waits_s=[], recent_claim_gaps_s=gaps,
                                          available_liaisons=0)
        honest += announced >= actual
    assert honest / 500 >= 0.9


def test_free_liaisons_shorten_the_estimate_but_never_to_zero() -> None:
    gaps = [30.0] * 10
    assert estimate_wait_seconds(position=3, recent_waits_s=[], recent_claim_gaps_s=gaps, available_liaisons=2) == 30
    assert estimate_wait_seconds(position=3, recent_waits_s=[], recent_claim_gaps_s=gaps, available_liaisons=9) == 30


def test_estimate_refuses_a_position_below_one() -> None:
    with pytest.raises(ValueError):
        estimate_wait_seconds(position=0, recent_waits_s=[], recent_claim_gaps_s=[], available_liaisons=0)
