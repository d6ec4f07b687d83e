"""Call legs, their state and their transcripts; queues."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .people import Nobody, Person, Phone

if TYPE_CHECKING:
    from .config import NumberConfig

FINAL_STATUSES = ("completed", "busy", "no-answer", "canceled", "failed")


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 hex digits (34 characters)."""
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Event:
    """One line of a call's transcript; t is in simulated seconds since the emulator started."""

    t: float
    kind: str
    data: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "kind": self.kind, **self.data}


@dataclass(frozen=True)
class Fetch:
    """Where the next TwiML comes from: a URL, or inline TwiML."""

    url: str | None
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    twiml: str | None = None
    kind: str = "voice"


@dataclass
class Pending:
    """Why a call's running TwiML was interrupted: a REST redirect, or the call ending."""

    kind: str  # "redirect" | "hangup"
    fetch: Fetch | None = None


@dataclass
class StatusCallbackSpec:
    url: str
    events: tuple[str, ...] = ("completed",)
    method: str = "POST"

    @classmethod
    def of(cls, url: str | None, events: Any = None, method: str | None = None) -> StatusCallbackSpec | None:
        if not url:
            return None
        if isinstance(events, str):
            events = events.replace(",", " ").split()
        evs = tuple(e.strip().lower() for e in (events or ()) if e.strip()) or ("completed",)
        return cls(url=url, events=evs, method=(method or "POST").upper())


class Call:
    """One call leg: inbound, outbound-api (REST) or outbound-dial (a <Dial> child)."""

    def __init__(self, *, account_sid: str, from_: str, to: str, direction: str, person: Person | None = None,
                 parent: Call | None = None, status_callback: StatusCallbackSpec | None = None,
                 lock: threading.Condition, clock_now: float, number: NumberConfig | None = None) -> None:
        self.sid = new_sid("CA")
        self.account_sid = account_sid
        self.from_ = from_
        self.to = to
        self.direction = direction
        self.person: Person = person or Nobody()
        self.parent = parent
        self.status_callback = status_callback
        self.number = number
        self.status = "queued"
        self.created_at = clock_now
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.ended_by: str | None = None
        self.url: str | None = None  # the TwiML URL a REST call was created/updated with
        self.method = "POST"
        self.twiml: str | None = None
        self.timeout = 60.0
        self.pending: Pending | None = None
        self.exit_hooks: list[Any] = []
        self.runner: asyncio.Task[None] | None = None
        self.done = False  # set (under the lock) once the leg ended and its callbacks went out
        self.callback_seq = 0
        self.children: list[Call] = []
        self.end_listeners: list[Callable[[Call], None]] = []
        self.held_callbacks: list[Any] = []  # status callbacks held back for reordering
        self.cb_task: asyncio.Task[None] | None = None  # the last status callback in flight
        self.background: list[asyncio.Task[Any]] = []  # recording status callbacks in flight
        self.phone: Phone | None = None  # the phone on this leg once it answered
        self.start_at = clock_now  # REST-created legs: when the account's calls-per-second pacing lets it start
        self.started_at: float | None = None
        self.bridge_peer: Call | None = None  # the leg a <Dial> bridged this one with, while bridged
        self.conference: Any = None  # the last Conference this leg joined (its callbacks are awaited at the end)
        self._cond = lock
        self._transcript: list[Event] = []
        self._listeners: list[Any] = []

    # transcript -------------------------------------------------------------------------
    def record(self, t: float, kind: str, /, **data: Any) -> Event:
        event = Event(t, kind, data)
        with self._cond:
            self._transcript.append(event)
            self._cond.notify_all()
        for listener in list(self._listeners):
            listener(self)
        return event

    @property
    def transcript(self) -> list[Event]:
        with self._cond:
            return list(self._transcript)

    def mark_done(self) -> None:
        with self._cond:
            self.done = True
            self._cond.notify_all()

    def add_listener(self, fn: Any) -> None:
        self._listeners.append(fn)

    # state ------------------------------------------------------------------------------
    @property
    def is_over(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def parent_sid(self) -> str | None:
        return self.parent.sid if self.parent else None

    def duration(self) -> int:
        if self.answered_at is None:
            return 0
        end = self.ended_at if self.ended_at is not None else self.answered_at
        return max(0, int(round(end - self.answered_at)))


class CallQueue:
    """A named call queue, created on demand by <Enqueue>."""

    def __init__(self, name: str, max_size: int = 1000) -> None:
        self.name = name
        self.sid = new_sid("QU")
        self.max_size = max_size
        self.members: list[tuple[Call, float]] = []  # (call, enqueued at)

    def position(self, call: Call) -> int:
        for i, (member, _) in enumerate(self.members, start=1):
            if member is call:
                return i
        return 0

    def remove(self, call: Call) -> None:
        self.members = [(c, t) for c, t in self.members if c is not call]

    def average_wait(self, now: float) -> int:
        if not self.members:
            return 0
        return int(round(sum(now - t for _, t in self.members) / len(self.members)))
