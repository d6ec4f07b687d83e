"""Named periods for evaluation ("pilot ruimere openingstijden Utrecht", from-to) and figures side by side.

Pure. A period is a name and local days first..last (inclusive). A name is unique, and so is what it says:
two names that differ only in capitals, spaces, accents or punctuation ("Pilot Utrecht" and "pilot utrecht.")
overlap, and the second is refused, since an evaluator could not tell them apart in a list or a file.
Periods themselves may overlap in time (a pilot inside the year it is compared with is a fair question);
the comparison says so when they do.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

NAME_MIN, NAME_MAX = 3, 80
MAX_DAYS = 732  # as the statistics views (callrouter.services.statistics.statistics.MAX_PERIOD_DAYS)


class PeriodInvalid(ValueError):
    """A period (or a comparison) that cannot be: names the field; the message is Dutch (staff see it)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NamedPeriod:
    name: str
    first_day: date
    last_day: date
    created_at: datetime | None = None
    created_by: str = ""
    id: int | None = None

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def overlaps(self, other: NamedPeriod) -> bool:
        return self.first_day <= other.last_day and other.first_day <= self.last_day


def name_key(name: str) -> str:
    """What makes two names the same: letters and digits only, accents dropped, lower case."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[\W_]+", " ", plain).strip()


def clean_name(name: str) -> str:
    return " ".join(name.split())


def check_new(*, name: str, first_day: date, last_day: date, existing: Iterable[NamedPeriod]) -> NamedPeriod:
    """The period to store, or PeriodInvalid naming the field (naam, van, tot)."""
    cleaned = clean_name(name)
    if not NAME_MIN <= len(cleaned) <= NAME_MAX or not name_key(cleaned):
        raise PeriodInvalid("naam", f"Geef de periode een naam van {NAME_MIN} tot {NAME_MAX} tekens.")
    if last_day < first_day:
        raise PeriodInvalid("tot", "De einddatum ligt voor de begindatum.")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise PeriodInvalid("tot", f"De periode is langer dan {MAX_DAYS} dagen.")
    key = name_key(cleaned)
    for other in existing:
        if other.name == cleaned:
            raise PeriodInvalid("naam", f"De naam '{cleaned}' is al in gebruik "
                                        f"({other.first_day.isoformat()} tot en met {other.last_day.isoformat()}).")
        if name_key(other.name) == key:
            raise PeriodInvalid("naam", f"De naam '{cleaned}' valt samen met de naam '{other.name}' die al in "
                                        "gebruik is (alleen hoofdletters, spaties, accenten of leestekens "
                                        "verschillen). Kies een naam die duidelijk anders is.")
    return NamedPeriod(cleaned, first_day, last_day)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a named period and, optionally, one counter."""

    period: NamedPeriod
    location: str | None = None

    @property
    def label(self) -> str:
        return self.period.name + (f" (loket {self.location})" if self.location else "")


@dataclass(frozen=True)
class FigureDiff:
    key: str
    left: float | int | None
    right: float | int | None

    @property
    def difference(self) -> float | int | None:
        if self.left is None or self.right is None:
            return None
        return self.right - self.left

    @property
    def relative(self) -> float | None:
        """The difference as a share of the left value; None when the left value is 0 or empty."""
        difference = self.difference
        if difference is None or not self.left:
            return None
        return difference / self.left


def side_by_side(left: Mapping[str, float | int | None], right: Mapping[str, float | int | None]) -> list[FigureDiff]:
    """Figure by figure, in the left side's order (then any the right side alone has)."""
    keys = [*left, *(k for k in right if k not in left)]
    return [FigureDiff(key, left.get(key), right.get(key)) for key in keys]
