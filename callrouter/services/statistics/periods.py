"""Named periods (an administrator's) and two periods, or two counters over one period, side by side.

The comparison reads the 15-minute rollups only (callrouter.services.statistics.statistics.view), never the
calls: rollups are kept after the call records are deleted (docs/privacy.md), so a pilot can be compared with
a period from years before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from callrouter.domain.periods import FigureDiff, NamedPeriod, PeriodInvalid, Side, check_new, side_by_side
from callrouter.domain.statistics import StatsPolicy
from callrouter.domain.statistics_totals import Totals
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps

SHARES = ("answered_share", "abandoned_share", "callbacks_share")  # of the offered calls, as on the dashboard


class PeriodStore(Protocol):
    def all(self) -> list[NamedPeriod]: ...
    def add(self, period: NamedPeriod, *, at: datetime, by: str) -> NamedPeriod: ...
    def remove(self, name: str) -> bool: ...


def add_period(store: PeriodStore, *, name: str, first_day: date, last_day: date, at: datetime,
               by: str) -> NamedPeriod:
    """Store a named period, or PeriodInvalid naming the field (nothing is stored then)."""
    period = check_new(name=name, first_day=first_day, last_day=last_day, existing=store.all())
    return store.add(period, at=at, by=by)


def find(store: PeriodStore, name: str, *, field: str) -> NamedPeriod:
    wanted = " ".join(name.split())
    for period in store.all():
        if period.name == wanted:
            return period
    raise PeriodInvalid(field, f"Er is geen periode met de naam '{wanted[:80]}'." if wanted
                        else "Kies een periode.")


def figures(totals: Totals, policy: StatsPolicy) -> dict[str, float | int | None]:
    """Every figure of the rollups (each configured threshold present), and the dashboard's shares."""
    filled = Totals()
    filled.merge(totals)
    for threshold in policy.answer_thresholds_seconds:
        filled.within.setdefault(threshold, 0)
    found = filled.figures()
    offered = filled.offered
    for name, part in zip(SHARES, (filled.answered, filled.abandoned, filled.callbacks_requested), strict=True):
        found[name] = part / offered if offered else None
    return found


@dataclass(frozen=True)
class Comparison:
    left: Side
    right: Side
    rows: list[FigureDiff]

    @property
    def periods_overlap(self) -> bool:
        """The same calls may be on both sides (the periods share days and the counters are not two apart)."""
        return self.left.period.overlaps(self.right.period) and (
            self.left.location is None or self.right.location is None or self.left.location == self.right.location)


def totals_of(deps: StatsDeps, side: Side, *, organisation: str | None = None, topic: str | None = None,
              line_kind: str | None = None) -> Totals:
    rows = statistics.view(deps, grain="month", first_day=side.period.first_day, last_day=side.period.last_day,
                           organisation=organisation, topic=topic, location=side.location, line_kind=line_kind)
    total = Totals()
    for row in rows:
        total.merge(row.totals)
    return total


def compare(deps: StatsDeps, *, left: Side, right: Side, organisation: str | None = None, topic: str | None = None,
            line_kind: str | None = None) -> Comparison:
    """Figure by figure: left, right, and right minus left. Two periods, or two counters over one period
    (or both at once); the other filters apply to both sides."""
    if left == right:
        raise PeriodInvalid("rechts", "Kies twee verschillende perioden of twee verschillende loketten.")
    filters = {"organisation": organisation, "topic": topic, "line_kind": line_kind}
    a = figures(totals_of(deps, left, **filters), deps.policy)
    b = figures(totals_of(deps, right, **filters), deps.policy)
    return Comparison(left, right, side_by_side(a, b))
