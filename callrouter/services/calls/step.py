"""The contract of a step handler: what it is given, and what it may answer.

A handler takes the call's deps and a `StepInput`, and returns one of:
- a `VoiceReply` (what the caller or liaison hears and does next; `Goto`s, never URLs);
- `Next(step, ...)`: the flow runs that step now, in the same request, with the words said so far;
- `Stale(record)`: the request does not fit the call's state (late or repeated): the flow resumes
  the call where it is (flow.RESUME).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from callrouter.domain.call_flow import DialEnd, LegStatus, QueueExit, Step
from callrouter.domain.calls import CallRecord
from callrouter.domain.voice import Say, VoiceReply
from callrouter.services.calls.deps import CallDeps


@dataclass(frozen=True)
class StepInput:
    """What the request said (already translated from the provider's words by the web layer), plus what
    the step before said, within one request. Fields a step does not use stay at their defaults."""

    call_sid: str = ""
    from_number: str = ""
    to_number: str = ""
    digits: str | None = None
    at: datetime | None = None  # when the network says it happened (status callbacks); None: now
    leg: LegStatus | None = None
    dial: DialEnd | None = None
    talk_seconds: int | None = None
    queue_exit: QueueExit | None = None
    queue_seconds: float = 0.0
    sequence: int | None = None
    room_sid: str | None = None  # the provider's id of the call's conference room, as a room report names it
    member: str | None = None  # the leg a report is about (a liaison's leg, a member of the call's room)
    recording_url: str | None = None
    liaison_id: int | None = None
    callback_id: int | None = None
    attempt: int | None = None
    choice: str = ""  # which menu, or which part of a dialogue ("organisation", "closed", "number", ...)
    # set by the flow when a step continues another one
    record: CallRecord | None = None
    lead: tuple[Say, ...] = ()
    resume: bool = False
    options: tuple[tuple[str, object], ...] = ()

    def option(self, name: str, default: object = None) -> object:
        return dict(self.options).get(name, default)

    def flag(self, name: str) -> bool:
        return bool(self.option(name, False))


@dataclass(frozen=True)
class Next:
    """Continue with `step` in this request; `lead` is said before what that step says."""

    step: Step
    record: CallRecord | None = None
    lead: tuple[Say, ...] = ()
    choice: str | None = None
    options: dict[str, object] = field(default_factory=dict)

    def input_after(self, given: StepInput) -> StepInput:
        return replace(given, record=self.record, lead=self.lead, resume=False,
                       choice=given.choice if self.choice is None else self.choice,
                       options=tuple(self.options.items()))


@dataclass(frozen=True)
class Stale:
    record: CallRecord | None


StepResult = VoiceReply | Next | Stale
Handler = Callable[[CallDeps, StepInput], StepResult]
