"""Ports of cases: attaching a call to its case, and reading the cases of a period with their calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

Event = tuple[str, datetime, dict[str, object]]


@dataclass
class StoredCall:
    organisation: str | None
    topic: str | None
    line_kind: str
    liaison_outcome: str | None
    referred_organisation: str | None
    events: list[Event] = field(default_factory=list)


@dataclass
class StoredCase:
    case_id: int
    location: str
    calls: dict[int, StoredCall] = field(default_factory=dict)  # by call id


class CaseStore(Protocol):
    def attach(self, *, call_sid: str, caseworker_id: int, location: str, reference: str | None,
               at: datetime) -> int | None: ...


class CaseReader(Protocol):
    def opened_between(self, *, first_day: date, last_day: date, location: str | None = None) -> list[StoredCase]: ...
