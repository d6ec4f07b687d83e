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
WAITING_STATES = frozenset({CallState.QUEUED, CallState.OFFERED})  # in line, or claimed for a liaison


class CallMove(enum.StrEnum):
    """Every change of a call's state, by name; `MOVES` says from where each may be made."""

    IDENTIFY = "identify"  # the caller is known (number, PIN) or a citizen line needs no identity
    ENQUEUE = "enqueue"  # organisation and topic chosen: into the line
    OFFER = "offer"  # the router claimed a liaison for the call
    ANSWER = "answer"  # the liaison picked up
    RETURN = "return"  # the liaison did not take it (no answer, busy, lost offer, hung up in the whisper)
    ARRANGE_CALLBACK = "arrange_callback"  # the caller hears a callback offer or arranges one
    TRANSFER = "transfer"  # a liaison hands the call to another organisation: into its line (docs/transfer.md)
    END = "end"  # the call is over, however it ended


@dataclass(frozen=True)
class Move:
    sources: frozenset[CallState]
    target: CallState


MOVES: dict[CallMove, Move] = {
    CallMove.IDENTIFY: Move(frozenset({CallState.IDENTIFYING}), CallState.MENU),
    CallMove.ENQUEUE: Move(frozenset({CallState.MENU}), CallState.QUEUED),
    CallMove.OFFER: Move(frozenset({CallState.QUEUED}), CallState.OFFERED),
    CallMove.ANSWER: Move(frozenset({CallState.OFFERED}), CallState.CONNECTED),
    CallMove.RETURN: Move(frozenset({CallState.OFFERED, CallState.CONNECTED}), CallState.QUEUED),
    CallMove.TRANSFER: Move(frozenset({CallState.CONNECTED}), CallState.QUEUED),
    CallMove.ARRANGE_CALLBACK: Move(frozenset({CallState.MENU, CallState.QUEUED}), CallState.CALLBACK),
    CallMove.END: Move(OPEN_STATES, CallState.ENDED),
}


def can_move(source: CallState, move: CallMove) -> bool:
    return source in MOVES[move].sources


class IllegalMove(ValueError):
    """A state change that names no move, or a move the table does not allow from the call's state."""


class LiaisonTaken(Exception):
    """The record already has this liaison on another offered or connected call: one liaison, one call (the
    record refuses the second, even when two processes offer at once after the router lost a claim)."""

    def __init__(self, liaison_id: object, call_sid: str) -> None:
        super().__init__(f"liaison {liaison_id} already has an open call; not given to {call_sid}")
        self.liaison_id, self.call_sid = liaison_id, call_sid


# The states in which a call holds its liaison (the record's word on who is busy).
HOLDING_STATES = frozenset({CallState.OFFERED, CallState.CONNECTED})


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
    LIAISON_RUNG = "liaison_rung"  # the liaison's leg was placed to join the call's room (detail: liaison, leg)
    ROOM = "room"  # the call's room reported a member joined or left (detail: event, member, sequence)
    # the liaison's leg heard the whisper to its end and was sent into the room (detail: liaison, leg): its end
    # after this is the conversation's (the room's reports settle it), not a hang-up in the whisper
    ROOM_JOINING = "room_joining"
    ANSWERED = "answered"
    NOT_BRIDGED = "not_bridged"  # the liaison hung up before the bridge (in the whisper): their answer does not count
    ABANDONED = "abandoned"
    # handed to another organisation (detail: kind blind/consult/three_way, from_/to_organisation, from_/to_topic,
    # liaison): the first organisation counts a transfer out, the second a call received (docs/transfer.md)
    TRANSFERRED = "transferred"
    # instead of a transfer (closed, nobody on duty): a callback by the other organisation (detail: to_organisation,
    # to_topic, callback, liaison); the call itself goes on with its liaison
    CALLBACK_BY_OTHER = "callback_by_other"
    # a consult with a liaison of another organisation, the caller on hold (detail: step asked/ringing/answered/
    # not_answered/left/cancelled/completed, to_organisation, to_topic, by (the first liaison), liaison, leg)
    CONSULT = "consult"
    COMPLETED = "completed"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_CONVERSATION = "callback_conversation"  # a callback's conversation began (its own call row)
    OUTCOME_RECORDED = "outcome_recorded"  # the liaison recorded or changed the outcome (detail: result, referred)
    VERDICT_ASKED = "verdict_asked"  # the caseworker heard the verdict question
    VERDICT = "verdict"  # ... and answered it (detail: answer yes | partly | no)
    ANNOUNCED = "announced"  # the expected wait was said in the queue (detail: estimate_s, position, waited_s)
    STATUS = "status"
    ERROR = "error"


class TransferKind(enum.StrEnum):
    BLIND = "blind"  # the caller waits in the other organisation's line
    CONSULT = "consult"  # the caller on hold while the liaisons talk, then handed over
    THREE_WAY = "three_way"  # caseworker and both liaisons talk together


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    ABANDONED_IN_MENU = "abandoned_in_menu"
    CLOSED = "closed"
    NO_LIAISON = "no_liaison"
    REFUSED = "refused"
    CALLBACK_REQUESTED = "callback_requested"
    FAILED = "failed"
    TRANSFERRED = "transferred"  # answered, handed to another organisation, and ended before it answered there


# The outcome of a call that ends in each state, unless the end says otherwise (a failure, a callback).
END_OUTCOME: dict[CallState, Outcome] = {
    CallState.IDENTIFYING: Outcome.ABANDONED_IN_MENU,
    CallState.MENU: Outcome.ABANDONED_IN_MENU,
    CallState.QUEUED: Outcome.ABANDONED_IN_QUEUE,
    CallState.OFFERED: Outcome.ABANDONED_IN_QUEUE,
    CallState.CONNECTED: Outcome.ANSWERED,
    CallState.CALLBACK: Outcome.ABANDONED_IN_MENU,  # arranging a callback: one already asked for stands
}


def end_outcome(record: CallRecord, *, failed: bool = False, answered: bool = False) -> Outcome:
    """How a call that ends now ends: answered once connected, failed on a technical failure before that."""
    if record.state == CallState.CONNECTED or answered:
        return Outcome.ANSWERED
    if record.state in WAITING_STATES and record.answered_at is not None:  # answered once, then transferred
        return Outcome.TRANSFERRED
    if failed:
        return Outcome.FAILED
    if record.state == CallState.CALLBACK and record.outcome is not None:
        return record.outcome
    return END_OUTCOME[record.state]


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
    callback_id: int | None = None  # set on the row of a callback's conversation: the callback it served

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
