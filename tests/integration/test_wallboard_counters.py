"""The wallboard's Redis counters on a real Redis: each call counts once per metric and day, whatever is
delivered twice; the waiting index follows the calls; keys expire; the day keys stay apart."""

from __future__ import annotations

from datetime import date

from callrouter.adapters import redis_keys
from callrouter.adapters.redis_live_counters import DAY_TTL_SECONDS, RedisLiveCounters

DAY = date(2026, 11, 25)
WW = ("UWV", "ww", "AMS", "professional")
CIT = ("UWV", "ww", "", "citizen")


def test_a_call_counts_once_per_metric_however_often_it_is_delivered(redis) -> None:  # noqa: ANN001
    counters = RedisLiveCounters(redis)
    assert counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["offered"], waiting_since_ms=1_000) == 1
    assert counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["offered"], waiting_since_ms=2_000) == 0
    assert counters.count(call_sid="CA2", day=DAY, dims=CIT, metrics=["offered"], waiting_since_ms=1_500) == 1
    assert counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["answered", "answered_within"],
                          left_queue=True) == 2
    assert counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["answered", "answered_within"],
                          left_queue=True) == 0
    [state] = counters.read(organisations=["UWV"], day=DAY)
    assert state.counts == {WW: {"offered": 1, "answered": 1, "answered_within": 1}, CIT: {"offered": 1}}
    assert state.waiting == [("CA2", CIT, 1_500)]  # CA1 left; the second offer did not move CA1's time
    assert 0 < redis.ttl(redis_keys.live_counts("UWV", DAY.isoformat())) <= DAY_TTL_SECONDS
    assert 0 < redis.ttl(redis_keys.live_counted("UWV", DAY.isoformat())) <= DAY_TTL_SECONDS
    assert counters.read(organisations=["UWV"], day=date(2026, 11, 26))[0].counts == {}


def test_a_call_that_left_is_not_brought_back_by_a_late_enqueue(redis) -> None:  # noqa: ANN001
    counters = RedisLiveCounters(redis)
    counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["offered"], waiting_since_ms=1_000)
    counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["abandoned"], left_queue=True)
    counters.count(call_sid="CA1", day=DAY, dims=WW, metrics=["offered"], waiting_since_ms=1_000)  # a repeat
    [state] = counters.read(organisations=["UWV"], day=DAY)
    assert state.counts == {WW: {"offered": 1, "abandoned": 1}} and state.waiting == []


def test_replace_sets_a_day_and_the_waiting_calls(redis) -> None:  # noqa: ANN001
    counters = RedisLiveCounters(redis)
    counters.count(call_sid="CA9", day=DAY, dims=WW, metrics=["offered"], waiting_since_ms=9)
    counters.replace(organisation="UWV", day=DAY, counts={CIT: {"offered": 2, "abandoned": 1, "answered": 0}},
                     waiting=[("CA7", CIT, 7)])
    [state] = counters.read(organisations=["UWV"], day=DAY)
    assert state.counts == {CIT: {"offered": 2, "abandoned": 1}} and state.waiting == [("CA7", CIT, 7)]
    # After a rebuild the guard is empty: the next move of a call counts (SQL moves happen once).
    assert counters.count(call_sid="CA9", day=DAY, dims=WW, metrics=["offered"]) == 1


def test_liaisons_are_read_from_the_routers_state(redis) -> None:  # noqa: ANN001
    redis.hset(redis_keys.liaisons("UWV"), mapping={"3": '{"s":"available","since":1,"t":["ww"]}',
                                                    "4": '{"s":"busy","since":1,"t":["wia"],"c":"CA1"}'})
    [state] = RedisLiveCounters(redis).read(organisations=["UWV"], day=DAY)
    assert state.liaisons == [(3, "available", ("ww",)), (4, "busy", ("wia",))]


def test_callers_on_hold_in_a_consult_are_kept_per_organisation_and_a_repeat_changes_nothing(redis) -> None:  # noqa: ANN001
    counters = RedisLiveCounters(redis)
    counters.hold(call_sid="CA1", dims=WW, since_ms=1_000)
    counters.hold(call_sid="CA1", dims=WW, since_ms=1_000)  # a repeated request
    counters.hold(call_sid="CA2", dims=CIT, since_ms=2_000)
    [uwv, duo] = counters.read(organisations=["UWV", "DUO"], day=DAY)
    assert uwv.on_hold == [("CA1", WW, 1_000), ("CA2", CIT, 2_000)] and duo.on_hold == []
    assert uwv.waiting == []  # on hold is not waiting in a line
    counters.hold(call_sid="CA1", dims=WW, since_ms=None)
    counters.hold(call_sid="CA1", dims=WW, since_ms=None)  # off twice: once
    assert counters.read(organisations=["UWV"], day=DAY)[0].on_hold == [("CA2", CIT, 2_000)]
    counters.clear_on_hold(organisation="UWV")
    assert counters.read(organisations=["UWV"], day=DAY)[0].on_hold == []
