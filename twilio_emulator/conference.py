"""Conferences: rooms, their participants, their start and end, hold/mute/coaching, and who hears whom.

A participant's call leg joins through `<Dial><Conference>` (conference_legs.py) or the Participants REST
resource; this module owns the room's state and the rules that change it (start, hold, mute, leave, end).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .calls import Call, Event, StatusCallbackSpec, new_sid
from .conference_callbacks import ConferenceCallbacks

if TYPE_CHECKING:
    from .engine import Engine

# statusCallbackEvent words and the StatusCallbackEvent values they stand for.
BEEPS = ("true", "false", "onEnter", "onExit")
_CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")

# What a participant can hear besides other participants (entries of Conference.hears()).
WAIT_MUSIC = "wait"  # the waitUrl (or Twilio's default music) before the conference starts
HOLD_MUSIC = "hold"  # the holdUrl while on hold
ANNOUNCEMENT = "announcement"  # an AnnounceUrl playing to the conference or to this participant


def label_problem(label: str) -> str | None:
    """Why a participant label is invalid (Twilio errors 16023/16024), or None."""
    if len(label) > 128 or "/" in label or "%2f" in label.lower() or _CALL_SID.match(label):
        return "Participant label invalid: max 128 characters, not a CallSid, no '/'"
    return None


@dataclass
class Participant:
    """One call leg in a conference (or being dialled into it by the Participants resource)."""

    call: Call
    label: str | None = None
    muted: bool = False
    hold: bool = False
    hold_url: str | None = None  # None: Twilio's default hold music; "": silence
    hold_method: str = "GET"
    coaching: bool = False
    call_sid_to_coach: str | None = None
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    beep: str = "true"
    beep_on_exit: bool | None = None
    wait_url: str | None = None  # None: Twilio's default music; "": silence
    wait_method: str = "POST"
    status: str = "connected"  # queued | connecting | ringing | connected | complete | failed
    created_at: float = 0.0
    updated_at: float = 0.0
    queue_time_ms: int = 0
    announcing: bool = False
    left: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # hold/start/announcement changed
    leave_reason: str | None = None

    @property
    def sid(self) -> str:
        return self.call.sid

    @property
    def in_room(self) -> bool:
        return self.status == "connected"

    def beeps_on(self, moment: str) -> bool:
        if moment == "exit" and self.beep_on_exit is not None:
            return self.beep_on_exit
        return self.beep == "true" or self.beep == ("onEnter" if moment == "enter" else "onExit")


class Conference:
    """A named conference room of the account: init → in-progress → completed."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.sid = new_sid("CF")
        self.friendly_name = name
        self.status = "init"
        self.created_at = self.updated_at = engine.clock.now()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.reason_ended: str | None = None
        self.call_sid_ending: str | None = None
        self.label_ending: str | None = None
        self.participants: list[Participant] = []  # joined or being dialled, in order of arrival
        self.callbacks = ConferenceCallbacks(engine, self, sid=self.sid, name=name)
        self.announcing = False
        self._transcript: list[Event] = []
        self._hearing: dict[str, frozenset[str]] = {}

    # transcript (also the recorder for the webhook client) --------------------------------
    def record(self, t: float, kind: str, /, **data: Any) -> Event:
        event = Event(t, kind, data)
        with self.engine.lock:
            self._transcript.append(event)
            self.engine.lock.notify_all()
        return event

    @property
    def transcript(self) -> list[Event]:
        with self.engine.lock:
            return list(self._transcript)

    # participants ----------------------------------------------------------------------
    def find(self, key: str) -> Participant | None:
        """A participant still in the room (or ringing), by its CallSid or its label."""
        for p in self.participants:
            if p.sid == key or (p.label is not None and p.label == key):
                return p
        return None

    def label_taken(self, label: str | None) -> bool:
        return label is not None and any(p.label == label for p in self.participants)

    @property
    def joined(self) -> list[Participant]:
        return [p for p in self.participants if p.in_room]

    def set_callback(self, spec: StatusCallbackSpec | None) -> None:
        """statusCallback and statusCallbackEvent are set by the first participant; later ones are ignored."""
        self.callbacks.configure(spec)

    def add(self, p: Participant) -> None:
        """A participant enters the room (its leg answered): join event, beep, maybe the start."""
        now = self.engine.clock.now()
        p.status = "connected"
        p.updated_at = now
        p.call.conference = self
        if p not in self.participants:
            self.participants.append(p)
        p.call.record(now, "conference_joined", conference=self.friendly_name, conference_sid=self.sid,
                      label=p.label, muted=p.muted, hold=p.hold, coaching=p.coaching,
                      call_sid_to_coach=p.call_sid_to_coach)
        self.record(now, "participant_joined", call_sid=p.sid, label=p.label)
        self.callback("participant-join", p)
        self._maybe_start()
        if p.beeps_on("enter") and self.status == "in-progress":
            self._beep(p)  # also when this join starts it: "the notification beep is played"
        self.refresh()

    def _maybe_start(self) -> None:
        joined = self.joined
        # "Conferences will not start until at least two participants join", one with startConferenceOnEnter.
        if self.status == "init" and len(joined) >= 2 and any(p.start_conference_on_enter for p in joined):
            now = self.engine.clock.now()
            self.status = "in-progress"
            self.started_at = self.updated_at = now
            self.record(now, "conference_started")
            for p in joined:
                p.call.record(now, "conference_started", conference=self.friendly_name, conference_sid=self.sid)
                p.changed.set()
            self.callback("conference-start")

    def _beep(self, who: Participant) -> None:
        now = self.engine.clock.now()
        for other in self.joined:
            if other is not who and not other.hold:
                other.call.record(now, "beep", conference=self.friendly_name, participant=who.sid)

    def leave(self, p: Participant, reason: str, *, kicked: bool = False) -> None:
        """A participant leaves (hung up, kicked, redirected, or the room ended); may end the room."""
        if p not in self.participants:
            return
        now = self.engine.clock.now()
        was_in_room = p.in_room
        self.participants.remove(p)
        p.leave_reason = reason
        if was_in_room:
            p.status = "complete"
        elif p.status != "failed":
            p.status = "failed"
        p.updated_at = now
        p.call.record(now, "conference_left", conference=self.friendly_name, conference_sid=self.sid, reason=reason)
        self.record(now, "participant_left", call_sid=p.sid, label=p.label, reason=reason)
        call_status = p.call.status if p.call.is_over else "in-progress"
        self.callback("participant-leave", p, ParticipantCallStatus=call_status, ReasonParticipantLeft=reason)
        p.left.set()
        p.changed.set()
        if was_in_room and self.status != "completed":
            if p.beeps_on("exit") and self.status == "in-progress":
                self._beep(p)
            how = "kicked" if kicked else "left"
            if p.end_conference_on_exit:
                self.end(f"participant-with-end-conference-on-exit-{how}", ending=p)
            elif not self.joined:
                self.end(f"last-participant-{how}", ending=p)
        elif not self.participants and self.status != "completed":
            # Nobody joined and nobody is being dialled any more (a Participants create that was not answered).
            # Twilio docs unclear: what becomes of such a room; the emulator ends it.
            self.end("last-participant-left", ending=p)
        self.refresh()

    def end(self, reason: str, ending: Participant | None = None) -> None:
        """The room ends: every remaining participant leaves it (their <Dial> ends), ringing legs are cancelled."""
        if self.status == "completed":
            return
        now = self.engine.clock.now()
        self.status = "completed"
        self.ended_at = self.updated_at = now
        self.reason_ended = reason
        self.call_sid_ending = ending.sid if ending is not None else None
        self.label_ending = ending.label if ending is not None else None
        self.record(now, "conference_ended", reason=reason, call_sid_ending=self.call_sid_ending)
        left_reason = "conference_ended_via_api" if reason == "conference-ended-via-api" else "moderator_ended_conference"
        for p in list(self.participants):
            if not p.in_room:
                # Twilio docs unclear: a participant still ringing when the room ends; the emulator cancels its leg.
                self.engine.hangup(p.call, "canceled", by="twilio")
            self.leave(p, left_reason)
        self.callback("conference-end", None, **{k: v for k, v in {
            "CallSidEndingConference": self.call_sid_ending,
            "ParticipantLabelEndingConference": self.label_ending,
            "ReasonConferenceEnded": reason,
            "Reason": _REASON_TEXT.get(reason, reason)}.items() if v is not None})
        self.callbacks.flush_held()

    # hold, mute, coaching --------------------------------------------------------------
    def update(self, p: Participant, **changes: Any) -> None:
        """Apply REST changes to a participant: hold, muted, coaching, endConferenceOnExit, beepOnExit, URLs."""
        before = (p.hold, p.muted, p.coaching, p.call_sid_to_coach, p.end_conference_on_exit, p.beep_on_exit)
        music = (p.hold_url, p.hold_method)
        for name, value in changes.items():
            setattr(p, name, value)
        if p.hold and before[0] and (p.hold_url, p.hold_method) != music:
            p.changed.set()  # a new holdUrl while on hold: the new music starts
        now = self.engine.clock.now()
        p.updated_at = now
        if p.hold != before[0]:
            p.call.record(now, "held" if p.hold else "unheld", conference=self.friendly_name)
            self.record(now, "held" if p.hold else "unheld", call_sid=p.sid, label=p.label)
            self.callback("participant-hold" if p.hold else "participant-unhold", p)
            p.changed.set()
        if p.muted != before[1]:
            p.call.record(now, "muted" if p.muted else "unmuted", conference=self.friendly_name)
            self.record(now, "muted" if p.muted else "unmuted", call_sid=p.sid, label=p.label)
            self.callback("participant-mute" if p.muted else "participant-unmute", p)
        if (p.coaching, p.call_sid_to_coach, p.end_conference_on_exit, p.beep_on_exit) != before[2:]:
            self.record(now, "modified", call_sid=p.sid, label=p.label)
            self.callback("participant-modify", p)
        self.refresh()

    # who hears whom --------------------------------------------------------------------
    def hears(self, p: Participant) -> frozenset[str]:
        """What participant p hears now: other participants' CallSids, WAIT_MUSIC, HOLD_MUSIC, ANNOUNCEMENT."""
        if not p.in_room or self.status == "completed":
            return frozenset()
        if p.hold:
            return frozenset({HOLD_MUSIC})
        if self.status != "in-progress":
            return frozenset({WAIT_MUSIC})
        heard: set[str] = set()
        for other in self.joined:
            if other is p or other.hold or other.muted:
                continue
            if other.coaching and other.call_sid_to_coach != p.sid:
                continue  # a coach is heard only by the participant it coaches
            heard.add(other.sid)
        if self.announcing or p.announcing:
            heard.add(ANNOUNCEMENT)
        return frozenset(heard)

    def refresh(self) -> None:
        """Write a `hearing` event on each leg whose hearing changed, so transcripts show who heard whom when."""
        now = self.engine.clock.now()
        current = {p.sid: self.hears(p) for p in self.participants if p.in_room}
        for p in self.participants:
            if p.in_room and self._hearing.get(p.sid) != current[p.sid]:
                p.call.record(now, "hearing", conference=self.friendly_name, hears=sorted(current[p.sid]),
                              **{"with": self._addresses(current[p.sid])})
        for sid in set(self._hearing) - set(current):
            call = self.engine.calls.get(sid)
            if call is not None:
                call.record(now, "hearing", conference=self.friendly_name, hears=[], **{"with": []})
        if current != self._hearing:
            self.record(now, "hearing", who={sid: sorted(h) for sid, h in current.items()})
        self._hearing = current

    def _addresses(self, heard: frozenset[str]) -> list[str]:
        """The people heard, named as a `<Dial>` bridge names them (`with`): an outbound leg by its To, an
        inbound one by its From; music and announcements are not people."""
        addresses = []
        for sid in sorted(heard):
            call = self.engine.calls.get(sid)
            if call is not None:
                addresses.append(call.from_ if call.direction == "inbound" else call.to)
        return addresses

    # conference status callbacks -------------------------------------------------------
    def callback(self, event: str, p: Participant | None = None, **extra: str) -> None:
        """Send this StatusCallbackEvent if the room's statusCallbackEvent asked for it."""
        params: dict[str, str] = {}
        if p is not None:
            params.update({"CallSid": p.sid, "Muted": _bool(p.muted), "Hold": _bool(p.hold),
                           "Coaching": _bool(p.coaching), "EndConferenceOnExit": _bool(p.end_conference_on_exit),
                           "StartConferenceOnEnter": _bool(p.start_conference_on_enter)})
            if p.label is not None:
                params["ParticipantLabel"] = p.label
            if p.coaching and p.call_sid_to_coach:
                params["CallSidToCoach"] = p.call_sid_to_coach
        params.update(extra)
        self.callbacks.send(event, params)

    async def settled(self) -> None:
        """Wait until the conference status callbacks sent so far have been delivered."""
        await self.callbacks.settled()


_REASON_TEXT = {
    "conference-ended-via-api": "Conference ended via API",
    "participant-with-end-conference-on-exit-left": "Participant with endConferenceOnExit left the conference",
    "participant-with-end-conference-on-exit-kicked": "Participant with endConferenceOnExit was kicked",
    "last-participant-left": "Last participant left the conference",
    "last-participant-kicked": "Last participant was kicked",
}


def _bool(value: bool) -> str:
    return "true" if value else "false"
