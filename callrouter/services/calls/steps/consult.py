"""The consult's voice steps: the caller's hold music in the room, the consulted liaison's whisper, and the
consulted liaison's leg ending before they joined (services/calls/consult.py keeps the consult's state)."""

from __future__ import annotations

from callrouter.domain.call_flow import Goto, Step, room_of
from callrouter.domain.voice import Hangup, JoinRoom, Pause, Play, Redirect, VoiceReply
from callrouter.services.calls import consult, consult_record
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import topic_name
from callrouter.services.calls.step import StepInput, StepResult


def consult_hold(deps: CallDeps, given: StepInput) -> StepResult:
    """On hold while the liaisons consult: a short message first (`choice` "" ), then music or pauses, looped."""
    hold = Play(deps.hold_music_url) if deps.hold_music_url else Pause(5)
    again = Redirect(Goto.to(Step.CONSULT_HOLD, again=1))
    record = deps.calls.get(given.call_sid)
    if given.choice == "again" or record is None:
        return VoiceReply.of(hold, again)
    said = deps.flow_for(record.line_kind).say("consult_hold", record.language)
    return VoiceReply.of(said, hold, again)


def consult_whisper(deps: CallDeps, given: StepInput) -> StepResult:
    """Said to the consulted liaison: who asks, about what; then into the room (it does not end when they leave)."""
    record = deps.calls.get(given.call_sid)
    now = consult_record.current(deps, record) if record is not None else None
    if record is None or now is None or now.step != "ringing" or now.liaison != given.liaison_id:
        return VoiceReply.of(Hangup())
    location = deps.directory.location(record.location or "")
    org = deps.directory.organisation(record.organisation or "")
    said = deps.flow_for(record.line_kind).say(
        "whisper_consult", "nl", location=location.name if location else "onbekend",
        from_organisation=org.name if org else record.organisation or "",
        topic=topic_name(deps, organisation=record.organisation, topic=record.topic, language="nl"))
    return VoiceReply.of(said, JoinRoom(room=room_of(record.sid), events=Goto.to(Step.ROOM_EVENT, call=record.sid),
                                        starts=True, ends=False, label=f"consult-{given.liaison_id}"))


def consult_leg(deps: CallDeps, given: StepInput) -> StepResult:
    """The consulted liaison's leg: ended before joining the room (no answer, busy, failed, hung up in the
    whisper) means not answered; reports of a consult that is over change nothing."""
    record = deps.calls.get(given.call_sid)
    if record is None or given.leg is None or not given.leg.ended or given.liaison_id is None:
        return VoiceReply()
    consult.not_answered(deps, record=record, liaison_id=given.liaison_id)
    return VoiceReply()
