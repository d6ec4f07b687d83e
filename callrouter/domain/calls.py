"""A call as the record keeps it: its state, its events, its outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from callrouter.domain.queueing import ANY_TOPIC

__all__ = ["ANY_TOPIC"]


class CallState(enum.StrEnum):
    IDENTIFYING = "identifying"
    MENU = "menu"
    QUEUED = "queued"
    OFFERED = "offered"  # claimed for a liaison whose phone rings
    CONNECTED = "connected"
    CALLBACK = "callback"  # out of the queue, arranging a callback (number, voice message)
    ENDED = "ended"


OPEN_STATES = frozenset({CallState.IDENTIFYING, CallState.MENU, CallState.QUEUED, CallState.OFFERED, CallState.CONNECTED,
                         CallState.CALLBACK})


class EventKind(enum.StrEnum):
    RECEIVED = "received"
    IDENTIFIED = "identified"
    PIN_FAILED = "pin_failed"
    REFUSED = "refused"
    LOCKED_OUT = "locked_out"
    LANGUAGE = "language"
    MENU_CHOICE = "menu_choice"
    MENU_NO_INPUT = "menu_no_input"
    MENU_INVALID = "menu_invalid"
    MENU_REPEAT = "menu_repeat"
    MENU_PERSON = "menu_person"
    CLOSED = "closed"
    NO_LIAISON = "no_liaison"
    QUEUED = "queued"
    OFFERED = "offered"
    LIAISON_NO_ANSWER = "liaison_no_answer"
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    COMPLETED = "completed"
    CALLBACK_REQUESTED = "callback_requested"
    ANNOUNCED = "announced"  # the expected wait was said in the queue (detail: estimate_s, position, waited_s)
    STATUS = "status"
    ERROR = "error"


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    ABANDONED_IN_MENU = "abandoned_in_menu"
    CLOSED = "closed"
    NO_LIAISON = "no_liaison"
    REFUSED = "refused"
    CALLBACK_REQUESTED = "callback_requested"
    FAILED = "failed"


class PriorityClass(enum.StrEnum):
    PROFESSIONAL = "pro"
    CITIZEN = "cit"




@dataclass(frozen=True)
class CallRecord:
    sid: str
    line_number: str
    line_kind: str
    caller_pseudonym: str
    caller_masked: str
    state: CallState
    received_at: datetime
    caseworker_id: int | None = None
    location: str | None = None
    organisation: str | None = None
    topic: str | None = None
    language: str = "nl"
    menu_step: str | None = None
    menu_page: int = 0
    menu_tries: int = 0
    pin_tries: int = 0
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    liaison_id: int | None = None
    outcome: Outcome | None = None
    last_status_seq: int = -1

    @property
    def priority_class(self) -> PriorityClass:
        return PriorityClass.PROFESSIONAL if self.line_kind == "professional" else PriorityClass.CITIZEN

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class CallEvent:
    sid: str
    kind: EventKind
    at: datetime
    detail: dict[str, object]
