"""Outbound call pacing on a real Redis: every process takes its turn from one slot, so creates keep to the
configured calls per second together (Twilio's account default: 1 per second)."""

from __future__ import annotations

import threading

import redis as redis_lib

from callrouter.adapters.outbound_pacing import PacedTelephony, RedisPacer
from callrouter.domain.call_flow import Goto, Step
from tests.fakes import FakeTelephony


def test_ten_creates_at_once_at_one_per_second_wait_0_to_9_seconds(redis: redis_lib.Redis) -> None:
    pacer = RedisPacer(redis, calls_per_second=1, sleep=lambda _s: None)
    waits = [pacer.reserve() for _ in range(10)]
    # Each slot is one second after the one before (the few milliseconds the loop takes are subtracted).
    for index, wait in enumerate(waits):
        assert index - 0.25 <= wait <= index, waits
    assert waits[9] >= 8.75  # the 10th liaison's phone rings about 9 s after the first


def test_pacers_in_several_processes_share_one_pace(redis: redis_lib.Redis, redis_url: str) -> None:
    """Two clients (as two processes would have) at 5 per second: 20 reservations spread over 4 s, none twice."""
    others = [redis_lib.Redis.from_url(redis_url) for _ in range(2)]
    pacers = [RedisPacer(client, calls_per_second=5, sleep=lambda _s: None) for client in others]
    waits: list[float] = []
    lock = threading.Lock()

    def take(pacer: RedisPacer) -> None:
        for _ in range(10):
            wait = pacer.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=take, args=(pacer,)) for pacer in pacers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in others:
        client.close()
    ordered = sorted(waits)
    assert len(ordered) == 20 and ordered[-1] >= 3.5  # 19 gaps of 0.2 s, less the time the test took
    slots = sorted(round(w / 0.2) for w in waits)
    assert max(slots) - min(slots) >= 17


def test_after_a_quiet_second_the_next_create_goes_at_once(redis: redis_lib.Redis) -> None:
    slept: list[float] = []
    pacer = RedisPacer(redis, calls_per_second=20, sleep=slept.append)
    assert pacer.wait_turn() == 0.0
    second = pacer.wait_turn()
    assert 0.0 < second <= 0.05 and slept == [second]


def test_only_creates_are_paced(redis: redis_lib.Redis) -> None:
    slept: list[float] = []
    inner = FakeTelephony()
    paced = PacedTelephony(inner, RedisPacer(redis, calls_per_second=1, sleep=slept.append))
    for _ in range(3):
        paced.redirect(call_sid="CA1", to=Goto.to(Step.CONNECT, liaison=1))
        paced.hang_up(call_sid="CA1")
    assert slept == []
    for _ in range(2):
        paced.create_call(to="sip:jan@uwv.example", from_="+31850001000", answer=Goto.to(Step.WHISPER),
                          status=Goto.to(Step.LIAISON_LEG), timeout=20)
    assert len(inner.created) == 2 and len(slept) == 1 and 0.75 <= slept[0] <= 1.0


def test_a_demo_clock_paces_in_its_own_seconds(redis: redis_lib.Redis) -> None:
    pacer = RedisPacer(redis, calls_per_second=1, time_scale=100, sleep=lambda _s: None)
    assert pacer.gap_us == 10_000
