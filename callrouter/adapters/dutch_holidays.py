"""Dutch public holidays as a `HolidayCalendar` (see `callrouter.domain.hours`), from the `holidays` library.

Which days close the lines (when an organisation's hours say `closed_on_public_holidays`):
every day the library lists as an official public holiday of the Netherlands (New Year's Day,
Good Friday, Easter Sunday and Monday, King's Day, Ascension Day, Whit Sunday and Monday,
Christmas and Boxing Day), plus Liberation Day (5 May) in every year. The library lists
Liberation Day only in lustrum years (2025, 2030, ...), but the central government's collective
agreement (CAO Rijk) gives civil servants 5 May off every year, so the agencies close then.

Good Friday is in the list although not every agency closes on it; an agency that opens on
Good Friday gives that date in its hours overrides (`"2026-04-03": ["08:00-17:00"]`), which win
over the holiday calendar.
"""

from __future__ import annotations

from datetime import date
from threading import Lock

import holidays

LIBERATION_DAY = "Liberation Day"


class DutchHolidays:
    """Callable `day -> holiday name | None`; one library lookup per year, cached."""

    def __init__(self, *, liberation_day_every_year: bool = True) -> None:
        self._liberation_day_every_year = liberation_day_every_year
        self._years: dict[int, dict[date, str]] = {}
        self._lock = Lock()

    def __call__(self, day: date) -> str | None:
        return self.of_year(day.year).get(day)

    def of_year(self, year: int) -> dict[date, str]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            days = {day: str(name) for day, name in holidays.country_holidays("NL", years=year).items()}
            if self._liberation_day_every_year:
                days.setdefault(date(year, 5, 5), LIBERATION_DAY)
            self._years[year] = days
            return days
