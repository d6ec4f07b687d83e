"""The demo clock: virtual time from a shared real anchor, scaled; and back to real time for RQ."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callrouter.adapters import redis_keys
from callrouter.bootstrap import ScaledClock, SystemClock, clock_for
from callrouter.config import Settings

AMS = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 27, 7, 55, tzinfo=AMS)  # 06:55 UTC (winter time)


class RealTime:
    """A hand-driven real clock (Unix seconds)."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_virtual_time_runs_scale_times_as_fast_from_the_anchor() -> None:
    real = RealTime(1000.0)
    clock = ScaledClock(start=START, scale=600, anchor=lambda: 1000.0, real_time=real)
    assert clock.now() == datetime(2026, 11, 27, 6, 55, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    real.t = 1000.5  # half a real second = 300 virtual seconds
    assert clock.now() == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    real.t = 1054.0  # 54 s real = 9 h virtual
    assert clock.now().astimezone(AMS) == datetime(2026, 11, 27, 16, 55, tzinfo=AMS)


def test_the_anchor_is_read_once_so_the_clock_never_jumps() -> None:
    reads: list[int] = []
    anchors = iter([1000.0, 2000.0])

    def anchor() -> float:
        reads.append(1)
        return next(anchors)

    real = RealTime(1001.0)
    clock = ScaledClock(start=START, scale=60, anchor=anchor, real_time=real)
    assert reads == []  # lazily: processes may start before the driver sets the shared anchor
    first = clock.now()
    real.t = 1002.0
    assert clock.now() - first == timedelta(seconds=60)
    assert len(reads) == 1


def test_before_the_anchor_virtual_time_is_before_the_start() -> None:
    clock = ScaledClock(start=START, scale=10, anchor=lambda: 1000.0, real_time=RealTime(999.0))
    assert clock.now() == START - timedelta(seconds=10)


def test_real_moment_inverts_now_for_rq_enqueue_at() -> None:
    real = RealTime(1000.0)
    clock = ScaledClock(start=START, scale=600, anchor=lambda: 1000.0, real_time=real)
    # A callback retry 300 virtual seconds after 08:00 is due half a real second after 08:00 comes.
    eight = datetime(2026, 11, 27, 8, 0, tzinfo=AMS)
    assert clock.real_moment(eight) == datetime.fromtimestamp(1000.0 + 300 / 600, UTC)
    assert clock.real_moment(eight + timedelta(seconds=300)) == datetime.fromtimestamp(1000.0 + 600 / 600, UTC)
    real.t = 1000.0 + 300 / 600
    assert clock.now() == eight
    assert clock.real_moment(clock.now()).timestamp() == pytest.approx(real.t)


def test_system_clock_real_moment_is_the_same_moment() -> None:
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert SystemClock().real_moment(at) == at


def test_a_start_without_time_zone_or_a_bad_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ScaledClock(start=datetime(2026, 11, 27, 7, 55), scale=10, anchor=lambda: 0.0)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(start=START, scale=0, anchor=lambda: 0.0)


class FakeRedis:
    """Only SET NX, GET and HMGET, as the shared anchor and the pauses use them."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def set(self, key: str, value: str, nx: bool = False, ex: int | None = None) -> bool:
        if nx and key in self.data:
            return False
        self.data[key] = value.encode()
        return True

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def hmget(self, key: str, fields: list[str]) -> list[bytes | None]:
        return [None for _ in fields]  # the demo day's emulator writes none here: the clock never stood still


def test_clock_for_settings_is_the_system_clock_unless_a_demo_start_is_set() -> None:
    assert isinstance(clock_for(Settings(), FakeRedis()), SystemClock)  # type: ignore[arg-type]


def test_every_process_of_a_demo_stack_shares_the_first_anchor() -> None:
    redis = FakeRedis()
    settings = Settings(demo_clock_start=datetime(2026, 11, 27, 7, 55), demo_time_scale=600)  # naive: local time
    web, worker = clock_for(settings, redis), clock_for(settings, redis)  # type: ignore[arg-type]
    assert isinstance(web, ScaledClock) and isinstance(worker, ScaledClock)
    assert web.start == START.astimezone(UTC)
    assert redis.data == {}  # nothing read yet
    key = redis_keys.demo_clock_anchor(start=START.astimezone(UTC).isoformat(), scale=600)
    redis.set(key, "1000.0")  # the demo driver sets the anchor once its processes are up
    assert web.anchor() == worker.anchor() == 1000.0
    assert web.real_moment(START) == datetime.fromtimestamp(1000.0, UTC)


def test_without_an_anchor_the_first_process_to_ask_sets_it_to_now() -> None:
    redis = FakeRedis()
    settings = Settings(demo_clock_start=START, demo_time_scale=60)
    first, second = clock_for(settings, redis), clock_for(settings, redis)  # type: ignore[arg-type]
    assert isinstance(first, ScaledClock) and isinstance(second, ScaledClock)
    anchor = first.anchor()
    assert abs(anchor - time.time()) < 5
    assert second.anchor() == anchor


def test_time_the_emulator_stood_still_for_webhooks_is_no_virtual_time() -> None:
    """The demo day's clock stops while a webhook is answered (twilio_emulator/clock.py writes when)."""
    real = RealTime(1000.0)
    pauses: list[tuple[float, float | None]] = [(0.0, None)]
    clock = ScaledClock(start=START, scale=720, anchor=lambda: 1000.0, real_time=real, pauses=lambda: pauses[-1])
    real.t = 1001.0
    assert clock.now() - START == timedelta(seconds=720)
    pauses.append((0.0, 1001.0))  # a webhook goes out at 1001.0
    real.t = 1001.05  # 50 ms of the service's latency: nothing
    assert clock.now() - START == timedelta(seconds=720)
    pauses.append((0.05, None))  # answered: it stood still 50 ms
    real.t = 1002.05
    assert clock.now() - START == timedelta(seconds=1440)
    # RQ's real moment for a virtual one: as if the clock runs on from now
    assert clock.real_moment(START + timedelta(seconds=1440 + 72)) == datetime.fromtimestamp(1002.15, UTC)


def test_a_stop_seen_late_never_turns_the_clock_back() -> None:
    real = RealTime(1001.0)
    pauses: list[tuple[float, float | None]] = [(0.0, None)]
    clock = ScaledClock(start=START, scale=720, anchor=lambda: 1000.0, real_time=real, pauses=lambda: pauses[-1])
    first = clock.now()
    pauses.append((0.0, 1000.999))  # the stop began a moment before this process last read the clock
    real.t = 1001.01
    assert clock.now() == first
