"""The 15-minute intervals of the rollups, and local days, weeks, months and hours.

Interval boundaries are local wall-clock quarters (Europe/Amsterdam by default), stored as UTC
instants. On the day daylight saving time starts a local day has 92 intervals, on the day it ends
100 (the hour 02:00-03:00 comes twice; both are hour 2 of that day).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

INTERVAL = timedelta(minutes=15)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Grain(enum.StrEnum):
    INTERVAL = "interval"
    HOUR_OF_DAY = "hour_of_day"
    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday
    MONTH = "month"


def interval_start(moment: datetime, *, zone: ZoneInfo = AMSTERDAM) -> datetime:
    """The UTC start of the local quarter hour that holds `moment` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    local = moment.astimezone(zone)
    floored = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)  # keeps `fold`
    return floored.astimezone(UTC)


def intervals(*, start: datetime, end: datetime, zone: ZoneInfo = AMSTERDAM) -> Iterator[datetime]:
    """The starts of the intervals that overlap [start, end), in order."""
    current = interval_start(start, zone=zone)
    while current < end:
        yield current
        current = current + INTERVAL


def local_day_and_hour(start: datetime, *, zone: ZoneInfo = AMSTERDAM) -> tuple[date, int]:
    """The local date and hour (0-23) an interval belongs to."""
    local = start.astimezone(zone)
    return local.date(), local.hour


def day_start(day: date, *, zone: ZoneInfo = AMSTERDAM) -> datetime:
    """Local midnight as a UTC instant (midnight always exists in Europe/Amsterdam)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_bounds(*, first_day: date, last_day: date, zone: ZoneInfo = AMSTERDAM) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days first_day..last_day inclusive."""
    return day_start(first_day, zone=zone), day_start(last_day + timedelta(days=1), zone=zone)


def bucket(day: date, grain: Grain) -> date:
    """The day, week (its Monday) or month (its first day) a local date falls in."""
    if grain == Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain == Grain.MONTH:
        return day.replace(day=1)
    if grain == Grain.DAY:
        return day
    raise ValueError(f"no date bucket for grain {grain}")
