"""Simulated people: callers who follow a script, and phones that Dial or REST calls reach."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import Event

BEHAVIOURS = ("answer", "busy", "no-answer", "hangup-on-whisper", "fail")

# hangup_when shorthands: the condition is "an event of this kind is in the transcript".
HANGUP_WHEN_ALIASES = {
    "queued": "enqueued",
    "enqueued": "enqueued",
    "ringing": "callee_ringing",
    "dialing": "dial_started",
    "bridged": "bridged",
    "whisper": "whisper_started",
    "gather": "gather_started",
}

HangupCondition = str | Callable[[list["Event"]], bool]


@dataclass
class CallerScript:
    """What an inbound caller does.

    digits: one entry per <Gather>, in order: a string of keys ("12#"), or None to stay silent
        so the Gather times out. When the list runs out the caller stays silent.
    record: one entry per <Record>, in order: seconds of speech after the beep (then the caller
        presses # if the Record's finishOnKey contains it, else stays silent until its timeout),
        or None to stay silent (an empty recording). When the list runs out the caller is silent.
    hangup_after: hang up this many simulated seconds after the call starts.
    hangup_when: hang up hangup_delay simulated seconds after a condition first holds: one of
        "queued", "ringing" (a dialled phone rings), "dialing", "bridged", "whisper", "gather",
        any transcript event kind, or a callable taking the transcript (list of Event).
    """

    digits: Sequence[str | None] = ()
    hangup_after: float | None = None
    hangup_when: HangupCondition | None = None
    hangup_delay: float = 0.0
    record: Sequence[float | None] = ()
    _next: int = field(default=0, init=False, repr=False)
    _next_record: int = field(default=0, init=False, repr=False)

    def next_gather_input(self) -> str | None:
        if self._next >= len(self.digits):
            return None
        entry = self.digits[self._next]
        self._next += 1
        return entry or None

    def next_record_input(self) -> float | None:
        """Seconds of speech for the next <Record>, or None to stay silent."""
        entry, self._next_record = _record_entry(self.record, self._next_record)
        return entry

    def talk_seconds(self) -> float | None:
        return None

    def condition(self) -> Callable[[list[Event]], bool] | None:
        when = self.hangup_when
        if when is None:
            return None
        if callable(when):
            return when
        kind = HANGUP_WHEN_ALIASES.get(when, when)
        return lambda transcript: any(ev.kind == kind for ev in transcript)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CallerScript:
        data = dict(data or {})
        return cls(digits=list(data.get("digits", ())), hangup_after=data.get("hangup_after"),
                   hangup_when=data.get("hangup_when"), hangup_delay=float(data.get("hangup_delay", 0.0)),
                   record=_record_list(data.get("record")))


def _record_list(value: float | Sequence[float | None] | None) -> list[float | None]:
    """A record option as a list: one number stands for a single <Record>."""
    if value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    return [None if v is None else float(v) for v in value]


def _record_entry(entries: Sequence[float | None], index: int) -> tuple[float | None, int]:
    if index >= len(entries):
        return None, index
    entry = entries[index]
    return (None if entry is None or entry <= 0 else float(entry)), index + 1


@dataclass
class Phone:
    """A phone that can be called (a number, client:name or sip: address).

    behaviour: "answer", "busy", "no-answer", "hangup-on-whisper" (answers, then hangs up
        whisper_hangup_after seconds into the whisper: a <Dial> leg's whisper URL, or the TwiML of a
        REST-created leg before it joins a conference), or "fail".
    answer_after: simulated seconds of ringing before answering.
    talk_seconds: once bridged, hang up after this long.
    whisper_digits: keys pressed for Gathers in TwiML run on this phone's leg (whisper, or the
        Url of a REST-created call); a string for one Gather or a list, one entry per Gather.
    call_waiting: if False (the default) a phone already on a call answers as busy.
    record: speech for <Record> verbs in TwiML run on this phone's leg, as CallerScript.record
        (one number for one Record, or a list, one entry per Record; None = silent).
    """

    behaviour: str = "answer"
    answer_after: float = 2.0
    talk_seconds: float = 30.0
    whisper_digits: str | Sequence[str | None] | None = None
    whisper_hangup_after: float = 1.0
    call_waiting: bool = False
    record: float | Sequence[float | None] | None = ()
    active_calls: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, not {self.behaviour!r}")

    def person(self) -> PhonePerson:
        return PhonePerson(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Phone:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "active_calls"}
        return cls(**known)


class PhonePerson:
    """The person holding a Phone during one call leg."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        digits = phone.whisper_digits
        self._entries: list[str | None] = [digits] if isinstance(digits, str) else list(digits or [])
        self._next = 0
        self._records = _record_list(phone.record)
        self._next_record = 0

    def next_gather_input(self) -> str | None:
        if self._next >= len(self._entries):
            return None
        entry = self._entries[self._next]
        self._next += 1
        return entry or None

    def next_record_input(self) -> float | None:
        entry, self._next_record = _record_entry(self._records, self._next_record)
        return entry

    def talk_seconds(self) -> float | None:
        return self.phone.talk_seconds

    def condition(self) -> None:
        return None


class Nobody:
    """No one on the line (a leg to an unregistered address never gets this far)."""

    def next_gather_input(self) -> None:
        return None

    def next_record_input(self) -> None:
        return None

    def talk_seconds(self) -> None:
        return None

    def condition(self) -> None:
        return None


Person = CallerScript | PhonePerson | Nobody
