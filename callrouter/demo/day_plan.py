"""A demo day's plan: the timed actions callrouter.demo.day plans and callrouter.demo.day_run plays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class PlannedCall:
    at: datetime  # arrival, virtual (UTC)
    caller: str
    line: str
    organisation: str
    topic: str
    digits: tuple[str | None, ...]  # one entry per Gather (menus, then hold turns and the callback keys)
    patience_seconds: float  # hangs up after waiting this long in the queue
    asks_callback: bool
    record_seconds: tuple[float, ...] = ()  # the voice message left with a callback
    follow_up: bool = False  # the caseworker's second organisation for one question
    case_reference: str | None = None  # the counter's own case number, keyed in when the flow asks for it


@dataclass(frozen=True)
class PresenceChange:
    at: datetime
    liaison_id: int
    liaison_code: str
    status: str  # available, away, offline (set through the JSON API)


@dataclass(frozen=True)
class PhoneChange:
    at: datetime
    address: str
    behaviour: str  # the emulator's Phone behaviour: answer or no-answer
    answer_after: float
    talk_seconds: float


Action = PlannedCall | PresenceChange | PhoneChange


@dataclass(frozen=True)
class DayPlan:
    day: date
    clock_start: datetime  # virtual, UTC
    end: datetime  # liaisons go home; the day is played until its calls have ended
    calls: tuple[PlannedCall, ...]
    presence: tuple[PresenceChange, ...]
    phones: tuple[PhoneChange, ...]
    caseworker_phones: tuple[str, ...] = field(default=())  # answer when called back

    def actions(self) -> list[Action]:
        """Everything in time order; at the same moment phones and presence go before calls."""
        rank = {PhoneChange: 0, PresenceChange: 1, PlannedCall: 2}
        return sorted([*self.phones, *self.presence, *self.calls], key=lambda a: (a.at, rank[type(a)]))
