"""Callbacks: a durable promise to call a caller back, exactly once per attempt, in the caller's place in line.

The state machine (every move is an event with its time and cause):

    requested -> scheduled -> dialling -> completed
                     ^            |  \\-> retry -> (scheduled again when due) ... -> failed
                     |            v
                     +------- (liaison did not answer, or postponed)
    any open state -> cancelled | expired
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class CallbackState(enum.StrEnum):
    REQUESTED = "requested"  # asked for, not yet due (e.g. a slot tomorrow)
    SCHEDULED = "scheduled"  # due: waits in line for a liaison
    DIALLING = "dialling"  # an attempt is claimed: the liaison, then the caller, is being called
    RETRY = "retry"  # the caller did not answer; waits for the retry delay
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN = frozenset({CallbackState.REQUESTED, CallbackState.SCHEDULED, CallbackState.DIALLING, CallbackState.RETRY})
CLOSED = frozenset(CallbackState) - OPEN
MOVES: dict[CallbackState, frozenset[CallbackState]] = {
    CallbackState.REQUESTED: frozenset({CallbackState.SCHEDULED, CallbackState.COMPLETED, CallbackState.CANCELLED,
                                        CallbackState.EXPIRED}),
    CallbackState.SCHEDULED: frozenset({CallbackState.DIALLING, CallbackState.REQUESTED, CallbackState.COMPLETED,
                                        CallbackState.CANCELLED, CallbackState.EXPIRED}),
    CallbackState.DIALLING: frozenset({CallbackState.COMPLETED, CallbackState.RETRY, CallbackState.FAILED,
                                       CallbackState.SCHEDULED, CallbackState.REQUESTED, CallbackState.CANCELLED}),
    CallbackState.RETRY: frozenset({CallbackState.SCHEDULED, CallbackState.COMPLETED, CallbackState.CANCELLED,
                                    CallbackState.EXPIRED}),
}


def can_move(source: CallbackState, target: CallbackState) -> bool:
    return target in MOVES.get(source, frozenset())


class CallbackOrigin(enum.StrEnum):
    IN_QUEUE = "in_queue"  # asked while waiting: keeps the place in line
    CLOSED = "closed"  # asked outside opening hours
    NO_LIAISON = "no_liaison"  # nobody of the organisation on duty
    ABANDONED = "abandoned"  # automatic, after a long wait that ended in a hang-up (a setting)
    CONSOLE = "console"


ROUTER_PREFIX = "cb:"  # callbacks wait in the router's queues as "cb:<id>" beside live calls


def router_member(callback_id: int) -> str:
    return f"{ROUTER_PREFIX}{callback_id}"


def callback_id_of(member: str) -> int | None:
    if not member.startswith(ROUTER_PREFIX):
        return None
    tail = member[len(ROUTER_PREFIX):]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class Callback:
    id: int
    state: CallbackState
    origin: CallbackOrigin
    organisation: str
    topic: str
    priority_class: str  # "pro" | "cit"
    phone_number: str  # E.164; personal data
    line_number: str  # the line the caller used: the caller ID of the callback
    place_at: datetime  # the place in line: when the caller first joined the queue
    due_at: datetime  # not dialled before this moment
    expires_at: datetime
    attempts: int
    max_attempts: int
    created_at: datetime
    caseworker_id: int | None = None
    location: str | None = None
    call_sid: str | None = None  # the call it was asked in
    voice_message_url: str | None = None
    liaison_id: int | None = None  # the liaison of the current or last attempt
    attempt_call_sid: str | None = None  # Twilio's sid of the current attempt's liaison leg
    attempt_started_at: datetime | None = None
    next_attempt_at: datetime | None = None
    note: str | None = None  # a liaison's reason (postpone, cancel)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN


def next_retry(*, now: datetime, attempts: int, max_attempts: int, delay: timedelta) -> datetime | None:
    """When to try again after the caller did not answer; None once the attempts are used up."""
    if attempts >= max_attempts:
        return None
    return now + delay


def slots(*, openings: list[datetime], limit: int = 3) -> list[datetime]:
    """The moments a caller may choose from: distinct, in order, at most `limit` (a short menu)."""
    chosen: list[datetime] = []
    for moment in sorted(openings):
        if moment not in chosen:
            chosen.append(moment)
        if len(chosen) == limit:
            break
    return chosen
