"""Simulated time: every wait in the emulator is in simulated seconds, divided by time_scale."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


class SimClock:
    def __init__(self, time_scale: float) -> None:
        self.scale = time_scale
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(UTC)

    def now(self) -> float:
        """Simulated seconds since the emulator started."""
        return (time.monotonic() - self._t0) * self.scale

    def real(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real(sim_seconds))

    def wall(self, sim_t: float) -> datetime:
        return self._wall0 + timedelta(seconds=sim_t)

    def rfc2822(self, sim_t: float | None = None) -> str:
        """A date as Twilio writes it: 'Tue, 28 Nov 2023 12:00:00 +0000'."""
        moment = self.wall(self.now() if sim_t is None else sim_t).replace(microsecond=0)
        return format_datetime(moment).replace("-0000", "+0000")
