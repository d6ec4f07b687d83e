"""OpeningHours with the Dutch holiday calendar, in Europe/Amsterdam, across weekends and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from callrouter.adapters.dutch_holidays import DutchHolidays
from callrouter.domain.hours import OpeningHours

AMS = ZoneInfo("Europe/Amsterdam")
OFFICE = ((time(8, 0), time(17, 0)),)


def office_hours(overrides: dict[str, tuple[tuple[time, time], ...]] | None = None) -> OpeningHours:
    """Monday to Friday 08:00-17:00; overrides by ISO date."""
    return OpeningHours(
        weekly={day: OFFICE for day in range(5)},
        overrides={date.fromisoformat(day): spans for day, spans in (overrides or {}).items()},
    )


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


@pytest.fixture(scope="module")
def calendar() -> DutchHolidays:
    return DutchHolidays()


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-03-04 10:00", True),  # a Wednesday
        ("2026-03-04 08:00", True),  # opening time is inside
        ("2026-03-04 07:59", False),
        ("2026-03-04 17:00", False),  # closing time is outside
        ("2026-03-07 10:00", False),  # Saturday
        ("2026-03-08 10:00", False),  # Sunday
        ("2026-04-27 10:00", False),  # King's Day, a Monday
        ("2026-12-25 10:00", False),  # Christmas, a Friday
        ("2026-04-03 10:00", False),  # Good Friday: listed by the library, so closed
        ("2026-05-05 10:00", False),  # Liberation Day, every year (library: only 2025, 2030, ...)
        ("2026-05-14 10:00", False),  # Ascension Day
        ("2026-05-06 10:00", True),
    ],
)
def test_office_hours_on_weekdays_weekends_and_holidays(calendar: DutchHolidays, moment: str, is_open: bool) -> None:
    assert office_hours().is_open(local(moment), calendar) is is_open


def test_the_calendar_names_the_days_that_close_the_lines(calendar: DutchHolidays) -> None:
    assert calendar(date(2026, 4, 27)) == "King's Day"
    assert calendar(date(2026, 12, 25)) == "Christmas Day"
    assert calendar(date(2026, 5, 5)) == "Liberation Day"
    assert date(2026, 5, 5) not in holidays.country_holidays("NL", years=2026)  # why we add it
    assert calendar(date(2026, 3, 4)) is None


def test_liberation_day_can_follow_the_library(calendar: DutchHolidays) -> None:
    lustrum_only = DutchHolidays(liberation_day_every_year=False)
    assert lustrum_only(date(2026, 5, 5)) is None
    assert lustrum_only(date(2025, 5, 5)) == "Liberation Day"


def test_the_calendar_looks_a_year_up_once() -> None:
    calendar = DutchHolidays()
    assert calendar.of_year(2026) is calendar.of_year(2026)


def test_holidays_are_ignored_when_the_hours_say_so(calendar: DutchHolidays) -> None:
    always = OpeningHours(weekly={day: OFFICE for day in range(5)}, closed_on_public_holidays=False)
    assert always.is_open(local("2026-04-27 10:00"), calendar)


def test_an_override_shortens_a_day_and_opens_a_holiday(calendar: DutchHolidays) -> None:
    hours = office_hours({"2026-12-24": ((time(8, 0), time(13, 0)),), "2026-04-03": OFFICE, "2026-03-04": ()})
    assert hours.is_open(local("2026-12-24 12:59"), calendar)
    assert not hours.is_open(local("2026-12-24 13:00"), calendar)
    assert hours.is_open(local("2026-04-03 10:00"), calendar)  # Good Friday, opened by override
    assert not hours.is_open(local("2026-03-04 10:00"), calendar)  # [] closes a weekday


def test_times_in_utc_are_read_in_amsterdam_time(calendar: DutchHolidays) -> None:
    hours = office_hours()
    assert hours.is_open(datetime(2026, 1, 7, 7, 30, tzinfo=UTC), calendar)  # 08:30 CET
    assert hours.is_open(datetime(2026, 7, 1, 6, 30, tzinfo=UTC), calendar)  # 08:30 CEST
    assert not hours.is_open(datetime(2026, 7, 1, 15, 30, tzinfo=UTC), calendar)  # 17:30 CEST


def test_next_opening_while_open_is_now(calendar: DutchHolidays) -> None:
    now = local("2026-03-04 10:00")
    assert office_hours().next_opening(now, calendar) == now


def test_next_opening_across_a_weekend(calendar: DutchHolidays) -> None:
    opening = office_hours().next_opening(local("2026-03-06 17:30"), calendar)  # Friday evening
    assert opening == local("2026-03-09 08:00")  # Monday


def test_next_opening_across_easter(calendar: DutchHolidays) -> None:
    opening = office_hours().next_opening(local("2026-04-02 17:30"), calendar)
    assert opening == local("2026-04-07 08:00")  # past Good Friday, the weekend and Easter Monday


def test_next_opening_between_two_spans(calendar: DutchHolidays) -> None:
    lunch = OpeningHours(weekly={2: ((time(9, 0), time(12, 30)), (time(13, 30), time(17, 0)))})
    assert lunch.next_opening(local("2026-03-04 12:45"), calendar) == local("2026-03-04 13:30")


@pytest.mark.parametrize(
    ("friday_evening", "monday_opening_utc", "offset_hours"),
    [
        ("2026-03-27 18:00", datetime(2026, 3, 30, 6, 0, tzinfo=UTC), 2),  # clocks go forward 29 March
        ("2026-10-23 18:00", datetime(2026, 10, 26, 7, 0, tzinfo=UTC), 1),  # clocks go back 25 October
    ],
)
def test_next_opening_across_the_dst_change(
    calendar: DutchHolidays, friday_evening: str, monday_opening_utc: datetime, offset_hours: int
) -> None:
    opening = office_hours().next_opening(local(friday_evening), calendar)
    assert opening is not None
    assert opening == monday_opening_utc
    assert opening.utcoffset() == timedelta(hours=offset_hours)
    assert opening.astimezone(AMS).time() == time(8, 0)


def test_next_opening_is_none_when_closed_beyond_the_horizon(calendar: DutchHolidays) -> None:
    never = OpeningHours(weekly={})
    assert never.next_opening(local("2026-03-04 10:00"), calendar, horizon_days=10) is None


def test_a_span_to_midnight_stays_open_to_the_last_second(calendar: DutchHolidays) -> None:
    late = OpeningHours(weekly={2: ((time(20, 0), time.max),)})
    assert late.is_open(local("2026-03-04 23:59:59"), calendar)
    assert not late.is_open(local("2026-03-05 00:00"), calendar)
