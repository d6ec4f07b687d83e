"""The steps a call goes through, the places a reply sends the caller next, and what the phone network reports.

These are the service's own words. The web layer maps each step to a webhook path and translates
the telephony provider's fields and status words into the values below, so nothing under
`domain/` or `services/` knows a provider's URL or vocabulary.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Step(enum.StrEnum):
    # the caller's call, in order
    INCOMING = "incoming"  # a new call: which line, who calls
    PIN = "pin"  # the caseworker keyed in code and PIN
    CASE_REFERENCE = "case_reference"  # the optional case reference
    MENU = "menu"  # a key in the organisation or topic menu
    OPENING = "opening"  # an organisation was chosen: open, anybody on duty?
    QUEUE = "queue"  # into the line
    WAIT = "wait"  # one turn of the hold loop
    QUEUE_EXIT = "queue_exit"  # the caller left the hold loop
    CONNECT = "connect"  # a liaison was claimed: ring them
    WHISPER = "whisper"  # said to the liaison before the bridge
    LIAISON_LEG = "liaison_leg"  # the liaison's leg changed (picked up)
    DIAL_RESULT = "dial_result"  # the ring or the conversation ended
    # the bridge as a conference room named for the call (docs/transfer.md)
    ROOM_HOLD = "room_hold"  # heard in the room until a liaison joins it
    ROOM_JOIN = "room_join"  # the liaison's leg heard the whisper to its end: into the call's room
    ROOM_EVENT = "room_event"  # the room reports who joined or left, with a sequence number
    ROOM_LEFT = "room_left"  # the caller left the room (the conversation ended, or the call moved on)
    BACK_IN_LINE = "back_in_line"  # the caller is sent from the room back to the front of the line
    CONVERSATION_END = "conversation_end"  # the conversation ended, the caller is still on the line
    TRANSFERRED = "transferred"  # a liaison handed the call to another organisation: into its line
    CONSULT_HOLD = "consult_hold"  # the caller on hold in the room while the liaisons consult
    CONSULT_WHISPER = "consult_whisper"  # said to the consulted liaison before joining the room
    CONSULT_LEG = "consult_leg"  # the consulted liaison's leg changed (not answered, hung up)
    END = "end"  # the call is over
    STATUS = "status"  # the caller's leg changed (hung up)
    # after the conversation, the caller still on the line (a setting of the line)
    VERDICT = "verdict"  # the caseworker is asked once: was the question answered?
    VERDICT_ANSWER = "verdict_answer"  # their key (or silence)
    # callbacks, caller side
    CALLBACK_OFFER = "callback_offer"  # a key during the hold: 1 asks for a callback
    CALLBACK_DIALOGUE = "callback_dialogue"  # the offer when closed or nobody on duty, slot, number, message
    # callbacks, liaison side (agent-first)
    CALLBACK_LIAISON = "callback_liaison"  # the liaison picked up: who asked and why
    CALLBACK_LIAISON_CHOICE = "callback_liaison_choice"  # 1 call now, 2 later
    CALLBACK_DIALLED = "callback_dialled"  # the caller's leg ended
    CALLBACK_LEG_STATUS = "callback_leg_status"  # the liaison's leg ended


@dataclass(frozen=True)
class Goto:
    """Where a reply sends the call next: a step and its parameters (rendered as a URL at the edge)."""

    step: Step
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def to(cls, target: Step, /, **params: object) -> Goto:
        return cls(target, tuple((name, str(value)) for name, value in params.items() if value is not None))

    @property
    def values(self) -> Mapping[str, str]:
        return dict(self.params)


class LegStatus(enum.StrEnum):
    """What the network reports about one leg of a call (the caller's or a liaison's)."""

    STARTING = "starting"  # queued, initiated, ringing
    ANSWERED = "answered"  # picked up, talking
    COMPLETED = "completed"  # ended after it was answered
    BUSY = "busy"
    NOT_ANSWERED = "not_answered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # ended before it was answered, by the calling side

    @property
    def ended(self) -> bool:
        return self not in (LegStatus.STARTING, LegStatus.ANSWERED)


class DialEnd(enum.StrEnum):
    """How a dial to a liaison (or to a caller, for a callback) ended, as its action reports it."""

    TALKED = "talked"  # answered and bridged: a conversation took place
    NOT_BRIDGED = "not_bridged"  # picked up, but hung up before the bridge (during the whisper)
    BUSY = "busy"
    NOT_ANSWERED = "not_answered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the caller hung up while it rang


class RoomEvent(enum.StrEnum):
    """What a conference room reports (the provider's words are translated at the edge)."""

    STARTED = "started"  # the room started: its members hear each other
    ENDED = "ended"
    JOINED = "joined"  # a member (a leg, named by its call id) entered
    LEFT = "left"


def room_of(call_sid: str) -> str:
    """The name of the conference room that bridges a call: named for the caller's call."""
    return f"call-{call_sid}"


class QueueExit(enum.StrEnum):
    """Why the caller's hold loop ended."""

    LEFT = "left"  # the service said leave (a callback was arranged)
    HUNG_UP = "hung_up"
    FAILED = "failed"  # an error, or the line was full
    MOVED_ON = "moved_on"  # redirected to a liaison, or bridged: the call goes on elsewhere
