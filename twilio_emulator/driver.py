"""The Python driver for tests and demos: start the emulator, place calls, read transcripts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from .calls import Call, Event
from .clock import PauseListener
from .conference import Conference
from .config import EmulatorConfig
from .engine import Engine
from .people import CallerScript, Phone
from .server import ThreadedServer, build_app

T = TypeVar("T")


class CallHandle:
    """A view of one call leg, usable from any thread."""

    def __init__(self, emulator: Emulator, call: Call) -> None:
        self._emulator = emulator
        self._call = call

    def __repr__(self) -> str:
        return f"<CallHandle {self.sid} {self.direction} {self.from_}->{self.to} {self.status}>"

    @property
    def sid(self) -> str:
        return self._call.sid

    @property
    def status(self) -> str:
        return self._call.status

    @property
    def direction(self) -> str:
        return self._call.direction

    @property
    def from_(self) -> str:
        return self._call.from_

    @property
    def to(self) -> str:
        return self._call.to

    @property
    def parent_sid(self) -> str | None:
        return self._call.parent_sid

    @property
    def url(self) -> str | None:
        """The TwiML URL a REST-created call was created (or last updated) with; None for other calls."""
        return self._call.url

    @property
    def ended_by(self) -> str | None:
        return self._call.ended_by

    @property
    def done(self) -> bool:
        return self._call.done

    @property
    def duration(self) -> int:
        return self._call.duration()

    @property
    def transcript(self) -> list[Event]:
        return self._call.transcript

    @property
    def children(self) -> list[CallHandle]:
        return [CallHandle(self._emulator, c) for c in list(self._call.children)]

    def events(self, kind: str) -> list[Event]:
        return [e for e in self.transcript if e.kind == kind]

    def said(self) -> list[str]:
        return [e["text"] for e in self.events("say")]

    def webhooks(self, kind: str | None = None) -> list[Event]:
        """Webhook requests made for this leg (kind: voice, gather, action, wait, redirect, whisper)."""
        return [e for e in self.events("webhook") if kind is None or e["kind"] == kind]

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 10.0) -> list[Event]:
        """Wait until predicate(transcript) holds; returns the transcript. Raises TimeoutError."""
        lock = self._emulator.engine.lock
        with lock:
            if not lock.wait_for(lambda: predicate(self._call.transcript), timeout):
                raise TimeoutError(f"condition not met on {self.sid} within {timeout}s:\n{self.format()}")
        return self.transcript

    def wait_for_event(self, kind: str, timeout: float = 10.0) -> Event:
        self.wait_for(lambda t: any(e.kind == kind for e in t), timeout)
        return self.events(kind)[0]

    def wait_until_ended(self, timeout: float = 10.0) -> CallHandle:
        """Wait until the call ended and its status callbacks and after-call requests went out."""
        lock = self._emulator.engine.lock
        with lock:
            if not lock.wait_for(lambda: self._call.done, timeout):
                raise TimeoutError(f"call {self.sid} did not end within {timeout}s:\n{self.format()}")
        return self

    def format(self) -> str:
        lines = []
        for e in self.transcript:
            data = {k: v for k, v in e.data.items() if k != "params"}
            lines.append(f"  {e.t:9.2f} {e.kind:18} {data}")
        return "\n".join(lines)


class ConferenceHandle:
    """A view of one conference room, usable from any thread."""

    def __init__(self, emulator: Emulator, conference: Conference) -> None:
        self._emulator = emulator
        self._conference = conference

    def __repr__(self) -> str:
        return f"<ConferenceHandle {self.sid} {self.friendly_name!r} {self.status}>"

    @property
    def sid(self) -> str:
        return self._conference.sid

    @property
    def friendly_name(self) -> str:
        return self._conference.friendly_name

    @property
    def status(self) -> str:
        return self._conference.status

    @property
    def reason_ended(self) -> str | None:
        return self._conference.reason_ended

    @property
    def participants(self) -> list[str]:
        """CallSids of the legs in the room now (joined, not ringing)."""
        with self._emulator.engine.lock:
            return [p.sid for p in self._conference.participants if p.in_room]

    @property
    def transcript(self) -> list[Event]:
        """participant_joined/left, held/unheld, muted/unmuted, hearing {who}, conference_started/ended,
        status_callback (the conference status callbacks sent), announcement."""
        return self._conference.transcript

    def events(self, kind: str) -> list[Event]:
        return [e for e in self.transcript if e.kind == kind]

    def status_callbacks(self) -> list[dict[str, str]]:
        return [dict(e["params"]) for e in self.events("status_callback")]

    def wait_for(self, predicate: Callable[[Conference], bool], timeout: float = 10.0) -> None:
        """Wait until predicate(conference) holds (checked whenever any transcript changes)."""
        lock = self._emulator.engine.lock
        with lock:
            if not lock.wait_for(lambda: predicate(self._conference), timeout):
                raise TimeoutError(f"conference {self.friendly_name} did not get there within {timeout}s: "
                                   f"{[(e.kind, e.data) for e in self._conference.transcript][-8:]}")

    def wait_until_ended(self, timeout: float = 10.0) -> ConferenceHandle:
        self.wait_for(lambda c: c.status == "completed", timeout)
        return self


class Emulator:
    """A Twilio emulator for one account, served on 127.0.0.1 in a background thread."""

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.engine = Engine(config)
        self._server = ThreadedServer(build_app(self.engine), host, port,
                                      on_start=self.engine.open, on_stop=self.engine.close)
        self.engine.base_url = self._server.base_url
        self._heartbeat: asyncio.Future[None] | None = None

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> Emulator:
        self._server.start()
        return self

    def stop(self) -> None:
        heartbeat = self._heartbeat
        if heartbeat is not None:
            async def cancel() -> None:
                heartbeat.cancel()

            self._run(cancel())
            self._heartbeat = None
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        loop = self._server.loop
        assert loop is not None, "emulator not started"
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    # people -----------------------------------------------------------------------------
    def register_phone(self, address: str, phone: Phone) -> Phone:
        self.engine.phones[address] = phone
        return phone

    def place_call(self, from_: str, to: str, script: CallerScript | None = None) -> CallHandle:
        """An inbound call from from_ to one of the account's numbers; returns at once."""

        async def place() -> Call:
            return self.engine.place_inbound(from_, to, script)

        return CallHandle(self, self._run(place()))

    def pause_clock_during_webhooks(self, listener: PauseListener | None = None,
                                    settle: Callable[[], Awaitable[None]] | None = None) -> None:
        """From now on simulated time stands still while a webhook is being answered (its latency is no
        simulated time); `listener(stood, since)` hears each stop and start, and `settle` is awaited after each
        answer before the clock runs on (clock.py)."""
        self.engine.clock.pause_during_webhooks(listener, settle)

        async def start() -> asyncio.Future[None]:
            return asyncio.ensure_future(self.engine.clock.heartbeat())

        self._heartbeat = self._run(start())

    @contextmanager
    def clock_held(self) -> Iterator[None]:
        """Simulated time stands still meanwhile (when it pauses for webhooks): for a driver's own work, such as
        placing a call or setting a liaison's presence, which is no part of the simulated day."""

        async def hold() -> None:
            self.engine.clock.hold()

        async def release() -> None:
            self.engine.clock.release()

        self._run(hold())
        try:
            yield
        finally:
            self._run(release())

    def set_wall_clock(self, now_is: datetime) -> None:
        """From now on the dates the emulator writes (Timestamp, REST dates) read `now_is` at this moment and
        run on from there, e.g. in step with an application's demo clock that starts at another date."""
        self.engine.clock.set_wall(now_is)

    # faults -----------------------------------------------------------------------------
    @property
    def duplicate_status_callbacks(self) -> bool:
        return self.config.duplicate_status_callbacks

    @duplicate_status_callbacks.setter
    def duplicate_status_callbacks(self, value: bool) -> None:
        self.config.duplicate_status_callbacks = value

    @property
    def reorder_status_callbacks(self) -> bool:
        return self.config.reorder_status_callbacks

    @reorder_status_callbacks.setter
    def reorder_status_callbacks(self, value: bool) -> None:
        self.config.reorder_status_callbacks = value

    @property
    def status_callback_delay(self) -> float:
        """Simulated seconds between a status callback's event and its delivery (0: at once)."""
        return self.config.status_callback_delay

    @status_callback_delay.setter
    def status_callback_delay(self, value: float) -> None:
        if value < 0:
            raise ValueError("status_callback_delay must not be negative")
        self.config.status_callback_delay = float(value)

    @property
    def rest_create_delay(self) -> float:
        return self.config.rest_create_delay

    @rest_create_delay.setter
    def rest_create_delay(self, value: float) -> None:
        self.config.rest_create_delay = value

    # looking at calls -------------------------------------------------------------------
    @property
    def calls(self) -> list[CallHandle]:
        with self.engine.lock:
            calls = list(self.engine.calls.values())
        return [CallHandle(self, c) for c in calls]

    def call(self, sid: str) -> CallHandle:
        return CallHandle(self, self.engine.calls[sid])

    def dials_to(self, address: str) -> int:
        """How many times a call (Dial or REST) was placed to address."""
        return self.engine.dial_counts[address]

    def hears(self, call_sid: str) -> set[str]:
        """What a leg hears at this moment: the CallSids of the legs it hears (in a conference or bridged by
        <Dial>), plus "wait" (waitUrl before the conference starts), "hold" (holdUrl) or "announcement"."""
        async def ask() -> frozenset[str]:
            return self.engine.hears(call_sid)

        return set(self._run(ask()))

    def heard_by(self, call_sid: str) -> set[str]:
        """The legs that hear this one at this moment."""
        async def ask() -> set[str]:
            return {sid for sid in list(self.engine.calls) if call_sid in self.engine.hears(sid)}

        return self._run(ask())

    def conference(self, name_or_sid: str) -> ConferenceHandle:
        """A conference by its ConferenceSid, or the latest one of that FriendlyName."""
        engine = self.engine
        with engine.lock:
            found = engine.conferences.get(name_or_sid) or next(
                (c for c in reversed(list(engine.conferences.values())) if c.friendly_name == name_or_sid), None)
        if found is None:
            raise KeyError(f"no conference {name_or_sid!r}")
        return ConferenceHandle(self, found)

    def wait_for_conference(self, name: str, timeout: float = 10.0) -> ConferenceHandle:
        lock = self.engine.lock
        with lock:
            if not lock.wait_for(lambda: any(c.friendly_name == name for c in self.engine.conferences.values()),
                                 timeout):
                raise TimeoutError(f"no conference {name!r} within {timeout}s")
        return self.conference(name)

    @property
    def conferences(self) -> list[ConferenceHandle]:
        with self.engine.lock:
            found = list(self.engine.conferences.values())
        return [ConferenceHandle(self, c) for c in found]

    @property
    def calls_per_second(self) -> float | None:
        """The account's outbound API call rate (Twilio: 1 by default, raisable); None or 0: unpaced."""
        return self.config.calls_per_second

    @calls_per_second.setter
    def calls_per_second(self, value: float | None) -> None:
        if value is not None and value < 0:
            raise ValueError("calls_per_second must not be negative")
        self.config.calls_per_second = value

    def queue_size(self, name: str) -> int:
        queue = self.engine.queues.get(name)
        return len(queue.members) if queue else 0

    def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Wait until every call (including child legs and REST calls) has ended."""
        lock = self.engine.lock
        with lock:
            if not lock.wait_for(lambda: all(c.done for c in self.engine.calls.values()), timeout):
                raise TimeoutError("calls still running: " + ", ".join(
                    f"{c.sid} {c.status}" for c in self.engine.calls.values() if not c.done))
