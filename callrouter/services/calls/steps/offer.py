"""A liaison was claimed for the call: ring them (whisper first), or tell them who calls.

With the conference bridge (deps.bridge == "conference") the caller waits in the call's room, on hold,
while routing places the liaison's leg; the liaison hears the whisper, then joins and starts the room.
"""

from __future__ import annotations

from callrouter.domain import ivr
from callrouter.domain.call_flow import DialEnd, Goto, Step, room_of
from callrouter.domain.calls import CallEvent, CallRecord, CallState, EventKind
from callrouter.domain.voice import Dial, Hangup, JoinRoom, Redirect, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.room import offer_mark
from callrouter.services.calls.speech import topic_name
from callrouter.services.calls.step import Next, Stale, StepInput, StepResult


def connect(deps: CallDeps, given: StepInput) -> StepResult:
    """The redirect after the claim: dial the liaison, whose leg hears the whisper before the bridge."""
    record = deps.calls.get(given.call_sid)
    liaison_id = given.liaison_id
    if (deps.bridge == "conference" and record is not None and record.state == CallState.CONNECTED
            and liaison_id is not None and record.liaison_id == liaison_id):
        # The liaison joined the room before the caller got here (this redirect's request was held up): join them.
        # A room they have already left is a room that never starts; its hold turn sends the caller back in line.
        return VoiceReply.of(caller_joins(record, liaison_id=liaison_id))
    if record is None or record.state != CallState.OFFERED or record.liaison_id != liaison_id or liaison_id is None:
        return Stale(record)  # back on hold when still queued (the flow resumes it there)
    if deps.bridge == "conference":
        return VoiceReply.of(caller_joins(record, liaison_id=liaison_id))
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None:
        return Next(Step.DIAL_RESULT, record=record, options={"dial": DialEnd.FAILED})
    return VoiceReply.of(Dial(address=liaison.address, action=Goto.to(Step.DIAL_RESULT, liaison=liaison_id),
                              whisper=Goto.to(Step.WHISPER, call=record.sid),
                              status_callback=Goto.to(Step.LIAISON_LEG, call=record.sid, liaison=liaison_id),
                              timeout=deps.dial_timeout_seconds, caller_id=record.line_number))


def _transfer_of(deps: CallDeps, record: CallRecord) -> CallEvent | None:
    """The last transfer of the call into its present organisation, if it was handed on by another one."""
    handed = [e for e in deps.calls.events(record.sid) if e.kind == EventKind.TRANSFERRED
              and e.detail.get("to_organisation") == record.organisation]
    return handed[-1] if handed else None


def caller_joins(record: CallRecord, *, liaison_id: int) -> JoinRoom:
    """The caller enters the call's room first, on hold until the liaison joins; the room ends when they leave."""
    # The action names the offer (offer_mark), so the end of this room membership is never taken for the end of a
    # later offer to the same liaison (the caller redirected on from this room: its action comes late).
    left = (Goto.to(Step.ROOM_LEFT, liaison=liaison_id, offer=offer_mark(record)) if record.offered_at
            else Goto.to(Step.ROOM_LEFT, liaison=liaison_id))
    return JoinRoom(room=room_of(record.sid), events=Goto.to(Step.ROOM_EVENT, call=record.sid),
                    action=left, hold=Goto.to(Step.ROOM_HOLD),
                    starts=False, ends=True, label="caller")


def whisper(deps: CallDeps, given: StepInput) -> StepResult:
    """Said to the liaison before the caller is put through: where from, what about, how long waited.

    On the conference bridge (`choice` "room") the whisper is the liaison leg's own answer: after it the
    liaison joins the room, which starts then; a leg of an offer that is over hangs up instead."""
    record = deps.calls.get(given.call_sid)
    if record is None:
        return VoiceReply.of(Hangup())
    in_room = given.choice == "room"
    if in_room and (record.state != CallState.OFFERED or record.liaison_id != given.liaison_id):
        return VoiceReply.of(Hangup())
    flow = deps.flow_for(record.line_kind)
    location = deps.directory.location(record.location or "")
    org = deps.directory.organisation(record.organisation or "")
    handed = _transfer_of(deps, record)
    since = handed.at if handed is not None else record.queued_at
    waited = (record.offered_at - since).total_seconds() if record.offered_at and since else 0
    values: dict[str, object] = {"location": location.name if location else "onbekend",
                                 "organisation": org.name if org else "", "waited": ivr.spoken_duration(waited, "nl")}
    if handed is None:
        said = flow.say("whisper", "nl", topic=topic_name(deps, organisation=record.organisation, topic=record.topic,
                                                          language="nl"), **values)
    else:  # who transferred it, and what the question was about there
        source = str(handed.detail.get("from_organisation", ""))
        source_org = deps.directory.organisation(source)
        from_topic = handed.detail.get("from_topic")
        said = flow.say("whisper_transferred", "nl", from_organisation=source_org.name if source_org else source,
                        topic=topic_name(deps, organisation=source, topic=str(from_topic) if from_topic else None,
                                         language="nl"), **values)
    if not in_room:
        return VoiceReply.of(said)
    # The whisper's end is a request of its own: a leg that hangs up during the whisper never makes it.
    return VoiceReply.of(said, Redirect(Goto.to(Step.ROOM_JOIN, call=record.sid, liaison=given.liaison_id)))


def room_join(deps: CallDeps, given: StepInput) -> StepResult:
    """The liaison heard the whisper to its end: noted (before the leg can end, so the leg's end is then the
    conversation's, whichever of its reports comes first), then into the call's room. An offer that is over
    (the caller hung up or went back in line meanwhile): the leg hangs up."""
    record = deps.calls.get(given.call_sid)
    if record is None or record.state != CallState.OFFERED or record.liaison_id != given.liaison_id:
        return VoiceReply.of(Hangup())
    leg = given.member or ""
    noted = deps.calls.apply(record.sid, event=EventKind.ROOM_JOINING, at=deps.clock.now(),
                             detail={"liaison": given.liaison_id, "leg": leg}, only_in=frozenset({CallState.OFFERED}),
                             dedupe=f"room_joining:{leg}")
    if noted is None and not any(e.kind == EventKind.ROOM_JOINING and e.detail.get("leg") == leg
                                 for e in deps.calls.events(record.sid)):
        return VoiceReply.of(Hangup())  # the offer ended between the two reads
    return VoiceReply.of(JoinRoom(room=room_of(record.sid), events=Goto.to(Step.ROOM_EVENT, call=record.sid),
                                  starts=True, ends=True, label=f"liaison-{given.liaison_id}"))
