"""Reading the directory file's fields out of located YAML, recording every problem met."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from callrouter.adapters.located_yaml import Problem, YList, YMap
from callrouter.domain.hours import WEEKDAYS, OpeningHours, Span

PHONE_TEXT = re.compile(r"[+0][0-9 ()./-]+")
SPAN = re.compile(r"(\d{2}):(\d{2}) *- *(\d{2}):(\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Checker:
    """Reads fields out of located YAML and records every problem it meets."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def mapping(self, value: Any, line: int, what: str, *, required: set[str], optional: set[str]) -> YMap | None:
        if not isinstance(value, YMap):
            self.add(line, f"{what}: must be a mapping of fields")
            return None
        for key in value:
            if key not in required and key not in optional:
                self.add(value.line_of(key), f'{what}: unknown field "{key}"')
        for key in sorted(required - value.keys()):
            self.add(value.line, f'{what}: missing field "{key}"')
        return value

    def text(self, m: YMap, key: str, what: str, *, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        if key not in m:
            return None  # reported as missing by mapping() when required
        value = m[key]
        if not isinstance(value, str) or not value.strip():
            self.add(m.line_of(key), f'{what}: "{key}" must be text')
            return None
        value = value.strip()
        if pattern is not None and not pattern.fullmatch(value):
            self.add(m.line_of(key), f'{what}: {key} "{value}" {hint}')
            return None
        return value

    def items(self, m: YMap, key: str, what: str) -> list[tuple[int, Any]]:
        if key not in m or m[key] is None:
            return []
        value = m[key]
        if not isinstance(value, YList):
            self.add(m.line_of(key), f'{what}: "{key}" must be a list')
            return []
        return value.located()

    def words(self, m: YMap, key: str, what: str) -> list[tuple[int, str]]:
        """A list of codes, each text and not repeated."""
        found: list[tuple[int, str]] = []
        for line, item in self.items(m, key, what):
            if not isinstance(item, str) or not item.strip():
                self.add(line, f'{what}: each of "{key}" must be text')
            elif item.strip() in (word for _, word in found):
                self.add(line, f'{what}: "{item.strip()}" is listed twice in {key}')
            else:
                found.append((line, item.strip()))
        return found

    def phone(self, raw: str, line: int, what: str) -> str | None:
        """E.164; Dutch national format (06..., 020..., 0800...) is read as +31."""
        number = None
        if PHONE_TEXT.fullmatch(raw.strip()):
            try:
                number = phonenumbers.parse(raw, "NL")
            except phonenumbers.NumberParseException:
                number = None
        if number is None or not phonenumbers.is_valid_number(number):
            self.add(line, f'{what}: "{raw}" is not a valid phone number (E.164 like +31612345678, or Dutch 06-12345678)')
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def unique(self, seen: dict[str, int], code: str | None, line: int, what: str, *, prefix: str = "") -> None:
        if code is None:
            return
        if code in seen:
            self.add(line, f'{prefix}duplicate {what} "{code}" (first on line {seen[code]})')
        else:
            seen[code] = line

    @staticmethod
    def label(kind: str, item: Any, key: str = "code") -> str:
        """`organisation "UWV"`: the kind and, when there is one, the code as written."""
        raw = item.get(key) if isinstance(item, YMap) else None
        return f'{kind} "{raw.strip()}"' if isinstance(raw, str) and raw.strip() else kind

    def hours(self, value: Any, line: int, what: str) -> OpeningHours | None:
        what = f"{what}: hours"
        m = self.mapping(value, line, what, required=set(), optional={*WEEKDAYS, "overrides", "closed_on_public_holidays", "zone"})
        if m is None:
            return None
        before = len(self.problems)
        weekly = {index: self.spans(m, day, what) for index, day in enumerate(WEEKDAYS) if day in m}
        overrides: dict[date, tuple[Span, ...]] = {}
        raw_overrides = m.get("overrides")
        if raw_overrides is not None:
            if not isinstance(raw_overrides, YMap):
                self.add(m.line_of("overrides"), f"{what}: overrides must map dates to spans")
            for key in raw_overrides if isinstance(raw_overrides, YMap) else ():
                try:
                    day = date.fromisoformat(key) if DAY.fullmatch(key) else None
                except ValueError:
                    day = None
                if day is None:
                    self.add(raw_overrides.line_of(key), f'{what}: override "{key}" is not a date (YYYY-MM-DD)')
                    continue
                overrides[day] = self.spans(raw_overrides, key, what)
        closed = m.get("closed_on_public_holidays", True)
        if not isinstance(closed, bool):
            self.add(m.line_of("closed_on_public_holidays"), f"{what}: closed_on_public_holidays must be true or false")
        zone = self.text(m, "zone", what) or "Europe/Amsterdam"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.add(m.line_of("zone"), f'{what}: unknown time zone "{zone}"')
        if len(self.problems) > before:
            return None
        return OpeningHours(weekly=weekly, overrides=overrides, closed_on_public_holidays=bool(closed), zone=zone)

    def spans(self, m: YMap, key: str, what: str) -> tuple[Span, ...]:
        spans: list[tuple[Span, str, int]] = []
        for line, item in self.items(m, key, what):
            match = SPAN.fullmatch(item.strip()) if isinstance(item, str) else None
            numbers = [int(part) for part in match.groups()] if match else []
            midnight = numbers[2:] == [24, 0]  # "24:00" ends a span at the end of the day
            if not match or numbers[0] > 23 or (numbers[2] > 23 and not midnight) or numbers[1] > 59 or numbers[3] > 59:
                self.add(line, f'{what} {key}: "{item}" is not a span like "08:30-17:00"')
                continue
            span = (time(numbers[0], numbers[1]), time.max if midnight else time(numbers[2], numbers[3]))
            if span[0] >= span[1]:
                self.add(line, f'{what} {key}: "{item}" ends before it starts')
                continue
            spans.append((span, item.strip(), line))
        spans.sort()
        for (earlier, earlier_text, _), (later, later_text, later_line) in zip(spans, spans[1:], strict=False):
            if later[0] < earlier[1]:
                self.add(later_line, f'{what} {key}: "{later_text}" overlaps "{earlier_text}"')
        return tuple(span for span, _, _ in spans)
