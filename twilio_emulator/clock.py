"""Simulated time: every wait in the emulator is in simulated seconds, divided by time_scale."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


class SimClock:
    """wall_clock "simulated": dates run time_scale times as fast as real time from the start (as the
    transcript's t does); "real": dates are the machine's clock at the moment a simulated time is reached."""

    def __init__(self, time_scale: float, wall_clock: str = "simulated") -> None:
        self.scale = time_scale
        self.wall_clock = wall_clock
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    def now(self) -> float:
        """Simulated seconds since the emulator started."""
        return (time.monotonic() - self._t0) * self.scale

    def real(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real(sim_seconds))

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
