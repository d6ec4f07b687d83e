"""What a caller hears and does next, decided in the domain and rendered to TwiML at the edge.

URLs here are paths with query strings (e.g. "/twilio/voice/menu?step=topic"); the renderer makes
them absolute against the configured public URL, the same base that signatures are checked on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    action: str
    prompts: tuple[Prompt, ...]
    timeout: int = 8
    num_digits: int | None = 1
    finish_on_key: str = "#"
    # Post the action on silence too, so the service counts tries and never hangs up on silence.
    action_on_empty_result: bool = True


@dataclass(frozen=True)
class Record:
    """Record a short message; Twilio posts RecordingUrl to the action (silence: the next verb runs)."""

    action: str
    max_length: int = 30
    timeout: int = 5
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Enqueue:
    queue: str
    wait_url: str
    action: str


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Redirect:
    url: str


@dataclass(frozen=True)
class Dial:
    address: str  # E.164, "sip:..." or "client:..."
    action: str
    whisper_url: str = ""  # said to the callee before the bridge; "" for none
    status_callback: str = ""  # the callee leg's status callbacks; "" for none
    timeout: int = 20
    caller_id: str | None = None


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


Action = Say | Play | Pause | Gather | Record | Enqueue | Leave | Redirect | Dial | Hangup | Reject


@dataclass(frozen=True)
class VoiceReply:
    actions: tuple[Action, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *actions: Action) -> VoiceReply:
        return cls(tuple(actions))
