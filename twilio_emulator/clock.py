"""Simulated time: every wait in the emulator is in simulated seconds, divided by time_scale.

A clock may stand still while webhooks are answered (`pause_during_webhooks`): then the time an application
takes to answer a webhook is no simulated time at all, however fast the clock runs (at 720x one real
millisecond would otherwise be 0.72 simulated seconds of a caller's waiting). Every wait below (`sleep`,
`wait_for`) counts running time only; a listener hears each stop and start, so an application on another
process can read the same clock (the demo day keeps it in Redis).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("twilio_emulator.clock")
LATE_REAL_SECONDS = 0.002
SETTLE_REAL_SECONDS = 5.0  # the longest a webhook's answer keeps the clock still after it came (`settle`)
# (real seconds the clock has stood still in all, the wall-clock moment (time.time()) it stopped, or None if it runs)
PauseListener = Callable[[float, float | None], None]


class SimClock:
    """wall_clock "simulated": dates run time_scale times as fast as real time from the start (as the
    transcript's t does); "real": dates are the machine's clock at the moment a simulated time is reached."""

    def __init__(self, time_scale: float, wall_clock: str = "simulated") -> None:
        self.scale = time_scale
        self.wall_clock = wall_clock
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(UTC)
        self._pausing: PauseListener | None = None
        self._holds = 0
        self._stood = 0.0  # real seconds the clock stood still before the current stop
        self._stopped_at: float | None = None  # monotonic moment of the current stop
        self._wake = asyncio.Event()  # set (and replaced) at every stop and start: stopped waits look again
        self._timers: list[float] = []  # simulated moments sleepers wait for, sorted (only when pausing)
        self._late = False  # stopped at the earliest timer until its sleeper has run (a busy machine woke it late)
        self._told = False  # the listener has heard of the current stop
        self._settle: Callable[[], Awaitable[None]] | None = None
        self._settling: set[asyncio.Future[None]] = set()

    def _still(self, mono: float) -> float:
        return self._stood + (mono - self._stopped_at if self._stopped_at is not None else 0.0)

    def _raw(self, mono: float) -> float:
        return (mono - self._t0 - self._still(mono)) * self.scale

    def now(self) -> float:
        """Simulated seconds since the emulator started (running time only). With pausing, never past the
        earliest moment a sleeper waits for until that sleeper has run: a wake-up that comes late (a busy machine
        at 720x: 10 ms are 7 simulated seconds) is late in real time only, not in simulated time."""
        mono = time.monotonic()
        found = self._raw(mono)
        # Late by more than LATE_REAL_SECONDS of real time (less is the ordinary jitter of a timer).
        if self._timers and found > self._timers[0] + LATE_REAL_SECONDS * self.scale and self._pausing is not None:
            due = self._timers[0]
            self._stop(mono - (found - due) / self.scale, late=True)  # stood still since the moment it was due
            return due
        return found

    def _stop(self, since_mono: float, *, late: bool = False) -> None:
        if late:
            if self._late:
                return
            self._late = True
        else:
            self._holds += 1
        if self._stopped_at is None:
            self._stopped_at = since_mono
            self._told = False
        if not late and not self._told:
            # Told at once for a webhook (the application reads the clock while it answers); a stop for a late
            # timer only when it ends (the application's clock then waits until it is back in step).
            assert self._pausing is not None
            self._pausing(self._stood, time.time() - (time.monotonic() - self._stopped_at))
            self._told = True
        self._pulse()

    def _start(self, *, late: bool = False) -> None:
        if late:
            if not self._late:
                return
            self._late = False
        else:
            self._holds -= 1
        if self._holds == 0 and not self._late and self._stopped_at is not None:
            self._stood += time.monotonic() - self._stopped_at
            self._stopped_at = None
            assert self._pausing is not None
            self._pausing(self._stood, None)
        self._pulse()

    def _pulse(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    def real(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.scale

    # -- standing still while a webhook is answered ------------------------------------------------

    def pause_during_webhooks(self, listener: PauseListener | None = None,
                              settle: Callable[[], Awaitable[None]] | None = None) -> None:
        """From now on the clock stands still while any webhook is being answered; `listener` hears every stop
        and start (called on the event loop, before the webhook is sent and after its answer came).

        `settle`, when given, is awaited after each answer before the clock may run again (at most
        SETTLE_REAL_SECONDS): for an application that goes on working after it answered (the demo day's
        routing after the reply), whose work is then no simulated time either. The call itself goes on with
        the answer at once, as with Twilio; only the clock waits."""
        self._pausing = listener or (lambda _stood, _since: None)
        self._settle = settle

    @property
    def pausing(self) -> bool:
        return self._pausing is not None

    def hold(self) -> None:
        """A webhook goes out: the clock stops (if it pauses for webhooks) until every held one is answered."""
        if self._pausing is None:
            return
        self._stop(time.monotonic())

    def release(self) -> None:
        if self._pausing is None or self._holds == 0:
            return
        if self._settle is None:
            self._start()
            return
        settling = asyncio.ensure_future(self._settled_then_start(self._settle))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)

    async def _settled_then_start(self, settle: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(settle(), SETTLE_REAL_SECONDS)
        except TimeoutError:
            log.warning("clock.settle_timeout after %.1f s: the clock runs on", SETTLE_REAL_SECONDS)
        except Exception:  # noqa: BLE001 - a clock that runs on is better than one that stands still for good
            log.exception("clock.settle_failed: the clock runs on")
        finally:
            self._start()

    async def heartbeat(self, every: float = 2.0) -> None:
        """A sleeper every `every` simulated seconds, for ever: the clock then never runs more than that past
        the last moment the event loop was free to run it, so time the emulator's own loop is busy or starved
        of CPU is no simulated time either (only time it waits for the application or a timer is)."""
        while True:
            await self.sleep(every)

    # -- waits in simulated time -------------------------------------------------------------------

    async def sleep(self, sim_seconds: float) -> None:
        """Until the clock has run `sim_seconds` further (time it stands still does not count)."""
        if sim_seconds <= 0 or self._pausing is None:
            await asyncio.sleep(self.real(sim_seconds))
            return
        target = self.now() + sim_seconds
        bisect.insort(self._timers, target)
        try:
            while (left := target - self.now()) > 1e-9:
                if self._stopped_at is None:
                    await asyncio.sleep(left / self.scale)
                elif self._holds == 0 and self._late and self._timers[0] >= target - 1e-9:
                    break  # stopped only for this sleeper, which was due: it runs now
                else:
                    await self._wake.wait()
        finally:
            self._timers.remove(target)
            if self._late and (not self._timers or self._timers[0] > self._raw_frozen()):
                self._start(late=True)  # the overdue sleepers have run: the clock goes on from here

    def _raw_frozen(self) -> float:
        return self._raw(time.monotonic())

    async def wait_for(self, awaitable: Awaitable[T], sim_timeout: float) -> T:
        """asyncio.wait_for with a timeout in simulated seconds of running time; TimeoutError when it passes."""
        if self._pausing is None:
            return await asyncio.wait_for(awaitable, self.real(sim_timeout))
        task = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(sim_timeout))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        raise TimeoutError

    # -- dates -------------------------------------------------------------------------------------

    def set_wall(self, now_is: datetime) -> None:
        """Set the wall clock so that it reads `now_is` at this moment; it runs on at its rate from there
        (for an application whose own clock starts elsewhere, such as a demo clock)."""
        if now_is.tzinfo is None:
            raise ValueError("now_is must carry a time zone")
        now = self.now()
        self._wall0 = now_is.astimezone(UTC) - timedelta(seconds=now / self.scale if self.wall_clock == "real" else now)

    def wall(self, sim_t: float) -> datetime:
        """The date at simulated time sim_t."""
        if self.wall_clock == "real":
            return self._wall0 + timedelta(seconds=sim_t / self.scale)
        return self._wall0 + timedelta(seconds=sim_t)

    def rfc2822(self, sim_t: float | None = None) -> str:
        """A date as Twilio writes it: 'Tue, 28 Nov 2023 12:00:00 +0000'."""
        moment = self.wall(self.now() if sim_t is None else sim_t).replace(microsecond=0)
        return format_datetime(moment).replace("-0000", "+0000")
