"""A liaison was claimed for the call: ring them (whisper first), or tell them who calls."""

from __future__ import annotations

from callrouter.domain import ivr
from callrouter.domain.call_flow import DialEnd, Goto, Step
from callrouter.domain.calls import CallState
from callrouter.domain.voice import Dial, Hangup, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import topic_name
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult


def connect(deps: CallDeps, given: StepInput) -> StepResult:
    """The redirect after the claim: dial the liaison, whose leg hears the whisper before the bridge."""
    record = deps.calls.get(given.call_sid)
    liaison_id = given.liaison_id
    if record is None or record.state != CallState.OFFERED or record.liaison_id != liaison_id or liaison_id is None:
        return Stale(record)  # back on hold when still queued (the flow resumes it there)
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None:
        return Next(Step.DIAL_RESULT, record=record, options={"dial": DialEnd.FAILED})
    return VoiceReply.of(Dial(address=liaison.address, action=Goto.to(Step.DIAL_RESULT, liaison=liaison_id),
                              whisper=Goto.to(Step.WHISPER, call=record.sid),
                              status_callback=Goto.to(Step.LIAISON_LEG, call=record.sid, liaison=liaison_id),
                              timeout=deps.dial_timeout_seconds, caller_id=record.line_number))


def whisper(deps: CallDeps, given: StepInput) -> StepResult:
    """Said to the liaison before the caller is put through: where from, what about, how long waited."""
    record = deps.calls.get(given.call_sid)
    if record is None:
        return VoiceReply.of(Hangup())
    flow = deps.flow_for(record.line_kind)
    location = deps.directory.location(record.location or "")
    org = deps.directory.organisation(record.organisation or "")
    waited = (record.offered_at - record.queued_at).total_seconds() if record.offered_at and record.queued_at else 0
    return VoiceReply.of(flow.say("whisper", "nl", location=location.name if location else "onbekend",
                                  organisation=org.name if org else "",
                                  topic=topic_name(deps, organisation=record.organisation, topic=record.topic,
                                                   language="nl"),
                                  waited=ivr.spoken_duration(waited, "nl")))
