"""Conference status callbacks: which events a room reports, numbered, one after another, with the faults."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

from .calls import StatusCallbackSpec

if TYPE_CHECKING:
    from .engine import Engine
    from .webhooks import Recorder

# statusCallbackEvent words and the StatusCallbackEvent values they stand for.
EVENT_WORDS = ("start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement")
_WORD_OF = {"conference-start": "start", "conference-end": "end", "participant-join": "join",
            "participant-leave": "leave", "participant-mute": "mute", "participant-unmute": "mute",
            "participant-hold": "hold", "participant-unhold": "hold", "participant-modify": "modify",
            "announcement-end": "announcement", "announcement-fail": "announcement"}

# A callback waiting to be sent: its parameters, its idempotency token, when (simulated time).
_Queued = tuple[dict[str, str], str, float]


def conference_events(value: str | list[str] | None) -> tuple[str, ...]:
    """The statusCallbackEvent words (space/comma separated or repeated), lower-cased and known ones only."""
    words: list[str] = []
    for part in [value] if isinstance(value, str) else (value or []):
        words.extend(part.replace(",", " ").split())
    return tuple(w.lower() for w in words if w.lower() in EVENT_WORDS)


class ConferenceCallbacks:
    """The statusCallback of one room: set by its first participant, SequenceNumber from 0, sent in order."""

    def __init__(self, engine: Engine, room: Recorder, *, sid: str, name: str) -> None:
        self.engine = engine
        self.room = room  # the room's transcript records each request
        self.sid, self.name = sid, name
        self.spec: StatusCallbackSpec | None = None
        self.configured = False
        self.seq = 0
        self.task: asyncio.Task[None] | None = None
        self.held: list[_Queued] = []

    def configure(self, spec: StatusCallbackSpec | None) -> None:
        """Only the first participant's statusCallback counts ("subsequent setting ... will be ignored")."""
        if not self.configured:
            self.configured = True
            self.spec = spec

    def send(self, event: str, params: dict[str, str]) -> None:
        """Queue the callback for this StatusCallbackEvent (if asked for), with the room's common parameters."""
        spec, engine = self.spec, self.engine
        if spec is None or _WORD_OF[event] not in spec.events or engine.closing:
            return
        full = {"ConferenceSid": self.sid, "FriendlyName": self.name, "AccountSid": engine.config.account_sid,
                "SequenceNumber": str(self.seq), "Timestamp": engine.clock.rfc2822(), "StatusCallbackEvent": event,
                **params}
        self.seq += 1
        item = (full, secrets.token_hex(16), engine.clock.now() + engine.config.status_callback_delay)
        if engine.config.reorder_status_callbacks:
            self.held.append(item)  # fault: held until the room ends, then sent newest first
            return
        self._chain(spec, item)

    def flush_held(self) -> None:
        if self.spec is not None:
            for item in reversed(self.held):
                self._chain(self.spec, item)
        self.held.clear()

    def _chain(self, spec: StatusCallbackSpec, item: _Queued) -> None:
        previous = self.task
        self.task = self.engine.spawn(self._deliver(spec, previous, item))

    async def _deliver(self, spec: StatusCallbackSpec, previous: asyncio.Task[None] | None, item: _Queued) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        params, token, due = item
        engine = self.engine
        if due > engine.clock.now():
            await engine.clock.sleep(due - engine.clock.now())
        for _ in range(2 if engine.config.duplicate_status_callbacks else 1):
            await engine.http.send(self.room, spec.url, spec.method, params, "conference_status_callback",
                                   token=token)

    async def settled(self) -> None:
        """Wait until the callbacks queued so far have been delivered."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
