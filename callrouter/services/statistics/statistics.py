"""Call statistics: keep the 15-minute rollups current, and read views by day, week, month and hour.

Rollups are recomputed from the event log, never updated in place: recomputing an interval replaces
its rows in one transaction, so it gives the same numbers however often it runs. Views read the
rollup rows only (see callrouter.adapters.sql.stats_tables), never the calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol, TypedDict, Unpack
from zoneinfo import ZoneInfo

from callrouter.domain.statistics import StatsPolicy
from callrouter.domain.statistics_intervals import (
    AMSTERDAM,
    INTERVAL,
    Grain,
    bucket,
    interval_start,
    intervals,
    local_day_and_hour,
    period_bounds,
)
from callrouter.domain.statistics_totals import DIMENSION_NAMES, Dimensions, IntervalInput, Totals, rollup
from callrouter.domain.statistics_transfers import call_parts
from callrouter.ports.calls import Clock
from callrouter.services.errors import CallRouterError

log = logging.getLogger("callrouter.statistics")
MAX_PERIOD_DAYS = 732  # two years (and a leap day) per view
MAX_FILTER_LENGTH = 32
_GROUPING = {Grain.INTERVAL: "interval_start", Grain.HOUR_OF_DAY: "local_hour", Grain.DAY: "local_day",
             Grain.WEEK: "local_day", Grain.MONTH: "local_day"}


class StatsQueryInvalid(CallRouterError):
    """A view asked for with a bad period, grain, grouping or filter; names the field."""

    status = 422
    code = "invalid_statistics_query"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class StatsStore(Protocol):
    def replace_interval(self, *, start: datetime, end: datetime, local_day: date, local_hour: int,
                         computed_at: datetime, compute: Callable[[IntervalInput], Mapping[Dimensions, Totals]]) -> int: ...

    def earliest_call_touched(self, *, since: datetime, open_since: datetime) -> datetime | None: ...

    def sums(self, *, start: datetime, end: datetime, grouping: str, by: tuple[str, ...],
             filters: Mapping[str, str]) -> list[tuple[object, tuple[str, ...], Totals]]: ...


@dataclass(frozen=True)
class StatsDeps:
    store: StatsStore
    clock: Clock
    policy: StatsPolicy = field(default_factory=StatsPolicy)
    zone: ZoneInfo = AMSTERDAM
    # Calls older than this many days are deleted by the retention job; their intervals keep the
    # rollup rows they had and are never recomputed (that would replace the counts by nothing).
    history_kept_days: int | None = None


class IntervalRetired(StatsQueryInvalid):
    """A rollup asked for an interval whose calls the retention job has deleted."""

    def __init__(self, start: datetime):
        super().__init__("since", f"The interval at {start.isoformat()} is past the call-record retention; "
                                  "its rollups are final.")


def _retired(deps: StatsDeps, start: datetime) -> bool:
    if deps.history_kept_days is None:
        return False
    # A day's margin: the retention job deletes calls by arrival, an interval holds calls that arrived in it.
    return start < deps.clock.now() - timedelta(days=deps.history_kept_days - 1)


@dataclass(frozen=True)
class ViewRow:
    bucket: object  # a date (day, week's Monday, month's first day), an hour 0-23, or an interval's UTC start
    dimensions: dict[str, str]
    totals: Totals

    def figures(self) -> dict[str, float | int | None]:
        return self.totals.figures()


# -- keeping the rollups current -----------------------------------------------------------------

def rollup_interval(deps: StatsDeps, *, start: datetime) -> int:
    """Recompute the interval that starts at `start` (a boundary); the number of rows it has now."""
    if interval_start(start, zone=deps.zone) != start:
        raise ValueError(f"{start.isoformat()} is not the start of a 15-minute interval")
    if _retired(deps, start):
        raise IntervalRetired(start)
    day, hour = local_day_and_hour(start, zone=deps.zone)
    policy = deps.policy

    def compute(data: IntervalInput) -> dict[Dimensions, Totals]:
        return rollup(calls=(part for dims, events in data.calls for part in call_parts(dims, events)),
                      callback_moves=data.callback_moves, policy=policy)

    return deps.store.replace_interval(start=start, end=start + INTERVAL, local_day=day, local_hour=hour,
                                       computed_at=deps.clock.now(), compute=compute)


def rollup_since(deps: StatsDeps, *, since: datetime, until: datetime | None = None) -> int:
    """Recompute every interval from the one holding `since` up to and including the current one."""
    end = (until or deps.clock.now()) + timedelta(microseconds=1)
    count = 0
    for start in intervals(start=since, end=end, zone=deps.zone):
        if _retired(deps, start):
            continue
        rollup_interval(deps, start=start)
        count += 1
    log.info("stats.rollup since=%s intervals=%s", since.isoformat(), count)
    return count


def rollup_recent(deps: StatsDeps, *, lookback: timedelta = timedelta(hours=1),
                  open_for_at_most: timedelta = timedelta(hours=24)) -> int:
    """What the worker runs every minute: the current interval, the ones of the last `lookback`, and
    every interval holding a call that changed within it or is still open (an answered call that
    ends an hour later changes the interval it arrived in)."""
    now = deps.clock.now()
    since = now - lookback
    earliest = deps.store.earliest_call_touched(since=since, open_since=now - open_for_at_most)
    return rollup_since(deps, since=min(since, earliest) if earliest else since, until=now)


# -- views -----------------------------------------------------------------------------------------

def _check(*, grain: str, first_day: date, last_day: date, by: tuple[str, ...], filters: Mapping[str, str | None]) -> Grain:
    try:
        chosen = Grain(grain)
    except ValueError:
        raise StatsQueryInvalid("grain", f"Unknown grain {grain!r}; choose one of {[g.value for g in Grain]}.") from None
    if last_day < first_day:
        raise StatsQueryInvalid("period", "The period ends before it starts.")
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise StatsQueryInvalid("period", f"The period is longer than {MAX_PERIOD_DAYS} days.")
    for name in by:
        if name not in DIMENSION_NAMES:
            raise StatsQueryInvalid("by", f"Unknown dimension {name!r}; choose from {list(DIMENSION_NAMES)}.")
    for name, value in filters.items():
        if value is not None and (not value.strip() or len(value) > MAX_FILTER_LENGTH):
            raise StatsQueryInvalid(name, f"The {name} filter must be 1 to {MAX_FILTER_LENGTH} characters.")
    return chosen


class StatsFilters(TypedDict, total=False):
    """The filters of a view by day, week, month or hour of day (each: calls matching it only)."""

    organisation: str | None
    topic: str | None
    location: str | None
    line_kind: str | None


def view(deps: StatsDeps, *, grain: Grain | str, first_day: date, last_day: date, organisation: str | None = None,
         topic: str | None = None, location: str | None = None, line_kind: str | None = None,
         by: tuple[str, ...] = ()) -> list[ViewRow]:
    """Figures for the local days first_day..last_day, per `grain` bucket and per the dimensions in `by`,
    for calls matching every filter given. Sums of rollup rows; averages are divided after summing."""
    filters = {"organisation": organisation, "topic": topic, "location": location, "line_kind": line_kind}
    chosen = _check(grain=str(grain), first_day=first_day, last_day=last_day, by=by, filters=filters)
    start, end = period_bounds(first_day=first_day, last_day=last_day, zone=deps.zone)
    rows = deps.store.sums(start=start, end=end, grouping=_GROUPING[chosen], by=by,
                           filters={name: value for name, value in filters.items() if value is not None})
    if chosen in (Grain.DAY, Grain.HOUR_OF_DAY, Grain.INTERVAL):
        return [ViewRow(key, dict(zip(by, dims, strict=True)), totals) for key, dims, totals in rows]
    folded: dict[tuple[date, tuple[str, ...]], Totals] = {}
    for day, dims, totals in rows:
        assert isinstance(day, date)
        folded.setdefault((bucket(day, chosen), dims), Totals()).merge(totals)
    return [ViewRow(key, dict(zip(by, dims, strict=True)), totals) for (key, dims), totals in sorted(folded.items())]


def by_day(deps: StatsDeps, *, first_day: date, last_day: date, **filters: Unpack[StatsFilters]) -> list[ViewRow]:
    return view(deps, grain=Grain.DAY, first_day=first_day, last_day=last_day, **filters)


def by_week(deps: StatsDeps, *, first_day: date, last_day: date, **filters: Unpack[StatsFilters]) -> list[ViewRow]:
    return view(deps, grain=Grain.WEEK, first_day=first_day, last_day=last_day, **filters)


def by_month(deps: StatsDeps, *, first_day: date, last_day: date, **filters: Unpack[StatsFilters]) -> list[ViewRow]:
    return view(deps, grain=Grain.MONTH, first_day=first_day, last_day=last_day, **filters)


def by_hour_of_day(deps: StatsDeps, *, first_day: date, last_day: date,
                   **filters: Unpack[StatsFilters]) -> list[ViewRow]:
    return view(deps, grain=Grain.HOUR_OF_DAY, first_day=first_day, last_day=last_day, **filters)
