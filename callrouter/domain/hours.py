"""Opening hours: weekly hours, public holidays (checked through an injected calendar), date overrides.

Stdlib only. Times are wall-clock times in the organisation's zone (Europe/Amsterdam); callers
pass aware datetimes and get aware datetimes back, so daylight saving time is handled by zoneinfo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Span = tuple[time, time]  # [start, end)
HolidayCalendar = Callable[[date], str | None]  # name of the public holiday on that date, or None

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def no_holidays(_day: date) -> str | None:
    return None


@dataclass(frozen=True)
class OpeningHours:
    weekly: Mapping[int, tuple[Span, ...]]  # weekday 0=Monday -> spans
    overrides: Mapping[date, tuple[Span, ...]] = field(default_factory=dict)  # () = closed that day
    closed_on_public_holidays: bool = True
    zone: str = "Europe/Amsterdam"

    def spans_on(self, day: date, holidays: HolidayCalendar = no_holidays) -> tuple[Span, ...]:
        if day in self.overrides:
            return tuple(self.overrides[day])
        if self.closed_on_public_holidays and holidays(day):
            return ()
        return tuple(self.weekly.get(day.weekday(), ()))

    def is_open(self, at: datetime, holidays: HolidayCalendar = no_holidays) -> bool:
        local = at.astimezone(ZoneInfo(self.zone))
        now = local.time()
        return any(start <= now < end for start, end in self.spans_on(local.date(), holidays))

    def next_opening(
        self, after: datetime, holidays: HolidayCalendar = no_holidays, *, horizon_days: int = 60
    ) -> datetime | None:
        """The first moment at or after `after` when the line is open (None if closed for the horizon)."""
        zone = ZoneInfo(self.zone)
        local = after.astimezone(zone)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for start, end in sorted(self.spans_on(day, holidays)):
                opens = datetime.combine(day, start, tzinfo=zone)
                closes = datetime.combine(day, end, tzinfo=zone)
                if offset == 0 and closes <= local:
                    continue
                return max(opens, local)
        return None
