"""The emulator's clock standing still while a webhook is answered: waits count running time only, and a
listener hears every stop and start (the demo day writes them to Redis for the service's processes)."""

from __future__ import annotations

import asyncio
import time

import pytest

from twilio_emulator.clock import SimClock


def test_a_held_clock_stands_still_and_the_listener_hears_stop_and_start() -> None:
    heard: list[tuple[float, float | None]] = []
    clock = SimClock(100)
    clock.pause_during_webhooks(lambda stood, since: heard.append((stood, since)))
    clock.hold()
    clock.hold()  # two webhooks at once
    frozen = clock.now()
    time.sleep(0.05)
    assert clock.now() == frozen
    clock.release()
    assert clock.now() == frozen and len(heard) == 1  # one is still out
    clock.release()
    time.sleep(0.02)
    assert clock.now() == pytest.approx(frozen + 2.0, abs=1.0)  # 20 ms at 100x, running again
    assert heard[0][1] is not None and heard[1][1] is None and heard[1][0] == pytest.approx(0.05, abs=0.02)


def test_without_pausing_hold_changes_nothing() -> None:
    clock = SimClock(100)
    clock.hold()
    before = clock.now()
    time.sleep(0.02)
    assert clock.now() > before + 1


def test_sleep_and_wait_for_count_running_time_only() -> None:
    async def scenario() -> tuple[float, float, bool]:
        clock = SimClock(100)
        clock.pause_during_webhooks()
        started_real, started_sim = time.monotonic(), clock.now()

        async def webhook() -> None:  # held for 100 ms real, as if the application took that long
            clock.hold()
            await asyncio.sleep(0.1)
            clock.release()

        held = asyncio.ensure_future(webhook())
        await clock.sleep(2.0)  # 20 ms of running time
        await held
        real = time.monotonic() - started_real
        timed_out = False
        try:
            await clock.wait_for(asyncio.Event().wait(), 1.0)
        except TimeoutError:
            timed_out = True
        return real, clock.now() - started_sim, timed_out

    real, sim, timed_out = asyncio.run(scenario())
    assert real >= 0.1  # the sleep did not end while the clock stood still
    assert 2.0 <= sim < 2.0 + 0.1 * 100  # and the 100 ms held are no simulated time
    assert timed_out
