"""What a caller hears and does next, decided in the domain and rendered to TwiML at the edge.

Where a reply sends the call next is a `Goto` (a step and its parameters), never a URL: the
renderer at the edge maps it to the webhook's absolute URL (the same base signatures are checked on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callrouter.domain.call_flow import Goto

LANGUAGE_CODES = {"nl": "nl-NL", "en": "en-GB"}


@dataclass(frozen=True)
class Say:
    text: str
    language: str = "nl"  # "nl" | "en"


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class Pause:
    seconds: int = 1


Prompt = Say | Play | Pause


@dataclass(frozen=True)
class Gather:
    """Ask for keys; the prompts are barge-in (a key press interrupts them)."""

    action: Goto
    prompts: tuple[Prompt, ...]
    timeout: int = 8
    num_digits: int | None = 1
    finish_on_key: str = "#"
    # Post the action on silence too, so the service counts tries and never hangs up on silence.
    action_on_empty_result: bool = True


@dataclass(frozen=True)
class Record:
    """Record a short message; the recording is posted to the action (silence: the next verb runs)."""

    action: Goto
    max_length: int = 30
    timeout: int = 5
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Enqueue:
    queue: str
    wait: Goto  # the hold loop
    action: Goto  # when the caller leaves the queue


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Redirect:
    to: Goto


@dataclass(frozen=True)
class Dial:
    address: str  # E.164, "sip:..." or "client:..."
    action: Goto
    whisper: Goto | None = None  # said to the callee before the bridge
    status_callback: Goto | None = None  # the callee leg's status callbacks
    timeout: int = 20
    caller_id: str | None = None


@dataclass(frozen=True)
class JoinRoom:
    """Join a conference room: the bridge of a call that may gain a third party (consult, three-way).

    Until a member who `starts` it enters, a member hears `hold` (prompts and music only). A member who
    `ends` it ends the room for everyone on leaving. `action`: the member's next step once out of the room.
    """

    room: str
    events: Goto  # the room's reports (joined, left, started, ended)
    action: Goto | None = None
    hold: Goto | None = None
    starts: bool = False
    ends: bool = True
    label: str | None = None  # the member's name in the room, unique in it


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


Action = Say | Play | Pause | Gather | Record | Enqueue | Leave | Redirect | Dial | JoinRoom | Hangup | Reject


@dataclass(frozen=True)
class VoiceReply:
    actions: tuple[Action, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *actions: Action) -> VoiceReply:
        return cls(tuple(actions))
