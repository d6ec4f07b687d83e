"""The emulator's clock standing still while a webhook is answered: waits count running time only, and a
listener hears every stop and start (the demo day writes them to Redis for the service's processes)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from twilio_emulator import clock as clock_module
from twilio_emulator.clock import SimClock

T = TypeVar("T")


def run_alone(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the scenario on an event loop of its own thread: earlier tests in the same process (Playwright's
    sync API) may leave an event loop running in this one, and asyncio.run() refuses to start inside it."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def main() -> None:
        try:
            outcome.append(asyncio.run(scenario()))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=main, name="clock-scenario")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


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
    assert clock.now() >= frozen + 2.0  # 20 ms at 100x, running again
    assert heard[0][1] is not None and heard[1][1] is None and heard[1][0] >= 0.05


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

    real, sim, timed_out = run_alone(scenario)
    assert real >= 0.1  # the sleep did not end while the clock stood still
    assert 2.0 <= sim < 2.0 + 0.1 * 100  # and the 100 ms held are no simulated time
    assert timed_out


def test_a_sleeper_woken_late_by_a_busy_machine_is_on_time_in_simulated_time() -> None:
    """At 1000x a wake-up 50 ms late would be 50 simulated seconds late: the clock waits at the due moment instead."""
    async def scenario() -> tuple[float, float, float, float]:
        clock = SimClock(1000)
        heard: list[float | None] = []
        clock.pause_during_webhooks(lambda _stood, since: heard.append(since))
        start = clock.now()
        sleeper = asyncio.ensure_future(clock.sleep(5.0))  # 5 ms real
        await asyncio.sleep(0)  # the sleeper reads the clock and starts its wait
        # When it read it is between `start` and `begun`: on a loaded machine these can be a few real ms (several
        # simulated seconds at 1000x) apart, so its due moment is bounded by both, not taken to be start + 5.
        begun = clock.now() - start
        time.sleep(0.05)  # the event loop does not run for 50 ms
        seen = clock.now() - start  # anyone asking meanwhile: not past the due moment
        await sleeper
        woke = clock.now() - start
        await asyncio.sleep(0.002)
        return begun, seen, woke, clock.now() - start

    begun, seen, woke, later = run_alone(scenario)
    assert seen <= begun + 5.0 + 0.5
    assert 5.0 <= woke <= begun + 5.0 + 0.5  # not 50 simulated seconds late
    assert later > woke  # and it runs on afterwards


def test_a_settle_keeps_the_clock_still_after_the_answer_until_the_application_is_done() -> None:
    """The demo day's service routes after it answered (its redirect comes a moment later): that work is no
    simulated time either. The call itself goes on with the answer at once; only the clock waits."""
    async def scenario() -> tuple[float, float, float, list[float | None]]:
        heard: list[float | None] = []
        done = asyncio.Event()

        async def settle() -> None:
            await done.wait()

        clock = SimClock(100)
        clock.pause_during_webhooks(lambda _stood, since: heard.append(since), settle)
        clock.hold()
        frozen = clock.now()
        clock.release()  # the answer came; the application still works
        await asyncio.sleep(0.05)
        still = clock.now() - frozen
        done.set()  # the application is done
        await asyncio.sleep(0.03)
        ran = clock.now() - frozen
        return still, ran, frozen, heard

    still, ran, _frozen, heard = run_alone(scenario)
    assert still == 0.0  # 50 ms after the answer: no simulated time
    assert 0.03 * 100 <= ran < 0.03 * 100 + 2  # running again once settled (30 ms at 100x, and a little)
    assert heard[0] is not None and heard[-1] is None and len(heard) == 2


def test_a_settle_that_never_ends_stops_the_clock_for_a_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock_module, "SETTLE_REAL_SECONDS", 0.05)

    async def scenario() -> float:
        async def settle() -> None:
            await asyncio.Event().wait()

        clock = SimClock(100)
        clock.pause_during_webhooks(None, settle)
        clock.hold()
        frozen = clock.now()
        clock.release()
        await asyncio.sleep(0.15)
        return clock.now() - frozen

    ran = run_alone(scenario)
    assert 0.05 * 100 <= ran <= 0.15 * 100  # stood still for the bounded 50 ms, then ran on
