"""The conference bridge: the caller waits in a room named for the call, the liaison's leg is placed by REST,
hears the whisper and joins; joining is the answer. No answer, busy, failed or a hang-up in the whisper put
the call back in front (the liaison away); the caller hanging up cancels the ringing leg; room reports that
come twice or out of order have one effect."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.call_flow import Goto, LegStatus, RoomEvent, Step, room_of
from callrouter.domain.calls import CallMove, CallState, EventKind, Outcome
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Enqueue, Hangup, JoinRoom, Pause, Redirect, Say, VoiceReply
from callrouter.services.calls import flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.room import offer_mark
from callrouter.services.calls.step import StepInput
from tests.fakes import JAN, PRO_LINE, fakes, make_deps, on_duty, said, seed_call, verbs

SID = "CA-room"
LEG = "CAout0001"


def conference_deps(**overrides: object) -> CallDeps:
    return make_deps(bridge="conference", **overrides)


def routed(deps: CallDeps, *, waited: float = 40) -> None:
    """A call in line that routing has just claimed for Jan: the caller redirected, Jan's leg placed."""
    on_duty(deps, JAN)
    since = deps.clock.now() - timedelta(seconds=waited)
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=since, received_at=since)
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    assert routing.dispatch(deps, org="UWV") == 1


def state(deps: CallDeps) -> tuple[CallState, int | None]:
    record = fakes(deps).calls.get(SID)
    assert record is not None
    return record.state, record.liaison_id


def leg(status: LegStatus, *, member: str = LEG, liaison_id: int = JAN.id) -> StepInput:
    return StepInput(call_sid=SID, liaison_id=liaison_id, leg=status, choice="room", member=member)


def room(event: RoomEvent, member: str, sequence: int, *, room_sid: str | None = None) -> StepInput:
    return StepInput(call_sid=SID, choice=event.value, member=member, sequence=sequence, room_sid=room_sid)


def test_routing_redirects_the_caller_and_places_the_liaisons_leg_into_the_room() -> None:
    deps = conference_deps(dial_timeout_seconds=25)
    routed(deps)
    telephony = fakes(deps).telephony
    assert telephony.redirects == [(SID, Goto.to(Step.CONNECT, liaison=JAN.id))]
    [created] = telephony.created
    assert (created.to, created.from_, created.timeout) == (JAN.address, PRO_LINE.number, 25)
    assert created.answer == Goto.to(Step.WHISPER, call=SID, liaison=JAN.id, via="room")
    assert created.status == Goto.to(Step.LIAISON_LEG, call=SID, liaison=JAN.id, via="room")
    assert fakes(deps).calls.details(SID, EventKind.LIAISON_RUNG) == [{"liaison": JAN.id, "leg": LEG}]
    assert state(deps) == (CallState.OFFERED, JAN.id)


def test_the_caller_joins_the_room_on_hold_and_ends_it_on_leaving() -> None:
    deps = conference_deps()
    routed(deps)
    reply = flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    offered = fakes(deps).calls.get(SID)
    assert offered is not None and offered.offered_at is not None
    mark = int(offered.offered_at.timestamp() * 1000) % 10**9  # fits a webhook's bounded integer (9 digits)
    assert offer_mark(offered) == mark
    left = Goto.to(Step.ROOM_LEFT, liaison=JAN.id, offer=mark)
    assert reply.actions == (JoinRoom(room=room_of(SID), events=Goto.to(Step.ROOM_EVENT, call=SID),
                                      action=left, hold=Goto.to(Step.ROOM_HOLD),
                                      starts=False, ends=True, label="caller"),)
    assert flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID)).actions == (Pause(5), Redirect(Goto.to(Step.ROOM_HOLD)))


def test_the_liaison_hears_the_whisper_then_joins_and_starts_the_room() -> None:
    deps = conference_deps()
    routed(deps, waited=75)
    reply = flow.run(deps, Step.WHISPER, StepInput(call_sid=SID, liaison_id=JAN.id, choice="room"))
    assert verbs(reply) == ["Say", "Redirect"]  # the whisper's end is a request of its own
    assert said(reply) == "Professionallijn. Loket Amsterdam. UWV, WW-uitkering. Gewacht: anderhalve minuut."
    assert reply.actions[1] == Redirect(Goto.to(Step.ROOM_JOIN, call=SID, liaison=JAN.id))
    joining = flow.run(deps, Step.ROOM_JOIN, StepInput(call_sid=SID, liaison_id=JAN.id, member=LEG))
    [join] = joining.actions
    assert isinstance(join, JoinRoom) and (join.room, join.starts, join.ends, join.action) == (
        room_of(SID), True, True, None)
    assert fakes(deps).calls.details(SID, EventKind.ROOM_JOINING) == [{"liaison": JAN.id, "leg": LEG}]
    assert state(deps) == (CallState.OFFERED, JAN.id)  # joining the room is the answer, not reaching it
    # A leg of an offer that is over (another liaison, or the call moved on) hangs up without a word.
    assert flow.run(deps, Step.WHISPER, StepInput(call_sid=SID, liaison_id=99, choice="room")).actions == (Hangup(),)
    assert flow.run(deps, Step.ROOM_JOIN, StepInput(call_sid=SID, liaison_id=99, member="CAx")).actions == (Hangup(),)


def test_a_leg_that_ends_after_the_whisper_before_its_join_report_came_is_a_conversation() -> None:
    """Reports race: the liaison joined, talked and hung up, and the leg's `completed` is handled before the room's
    join report. The leg reached the room after the whisper, so the caller is not sent back in line; the room's
    end (the caller's Dial action) settles the conversation, and the late join report changes nothing."""
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.ROOM_JOIN, StepInput(call_sid=SID, liaison_id=JAN.id, member=LEG))
    assert flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.COMPLETED)) == VoiceReply()
    assert state(deps) == (CallState.OFFERED, JAN.id)
    assert fakes(deps).telephony.redirects == [(SID, Goto.to(Step.CONNECT, liaison=JAN.id))]  # not back in line
    assert EventKind.NOT_BRIDGED not in fakes(deps).calls.kinds(SID)
    fakes(deps).clock.advance(30)
    flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.ANSWERED))  # the caller still on the line
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 3))  # late
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") != Presence.AWAY


def test_the_pickup_is_not_the_answer_joining_the_room_is_once() -> None:
    deps = conference_deps()
    routed(deps)
    assert flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED)) == VoiceReply()
    assert state(deps) == (CallState.OFFERED, JAN.id)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, SID, 1))  # the caller's own join: nothing
    assert state(deps) == (CallState.OFFERED, JAN.id)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.STARTED, "", 2))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 3))
    assert state(deps) == (CallState.CONNECTED, JAN.id)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 3))  # delivered twice
    assert fakes(deps).calls.details(SID, EventKind.ANSWERED) == [{"liaison": JAN.id, "from": "room"}]


def test_a_join_that_comes_after_the_same_legs_later_leave_changes_nothing() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.LEFT, LEG, 5))  # out of order: the leave came first
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 4))
    assert state(deps) == (CallState.OFFERED, JAN.id)
    assert fakes(deps).calls.kinds(SID).count(EventKind.ANSWERED) == 0


def test_a_join_of_a_leg_that_is_not_the_offers_changes_nothing() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, "CAsomeoneelse", 1))
    assert state(deps) == (CallState.OFFERED, JAN.id)


def test_the_conversation_ends_when_the_caller_leaves_the_room_answered_and_the_liaison_free() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 3))
    fakes(deps).clock.advance(95)
    assert flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id)).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert fakes(deps).calls.details(SID, EventKind.COMPLETED) == [
        {"status": "completed", "reason": "conversation ended", "talk_seconds": 95}]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).telephony.hung_up == []  # nothing rang any more


def _assert_back_in_front_and_liaison_away(deps: CallDeps, *, kind: EventKind, status: str) -> None:
    assert state(deps) == (CallState.QUEUED, None)
    assert fakes(deps).calls.details(SID, kind) == [{"liaison": JAN.id, "status": status}]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY
    assert fakes(deps).presence.status_of(JAN.id) == "away"
    assert fakes(deps).telephony.redirects[-1] == (SID, Goto.to(Step.BACK_IN_LINE))
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.answered_at is None


def test_no_answer_busy_or_failed_puts_the_caller_back_in_front_by_a_redirect_and_the_liaison_away() -> None:
    for status, word in ((LegStatus.NOT_ANSWERED, "not_answered"), (LegStatus.BUSY, "busy"),
                         (LegStatus.FAILED, "failed")):
        deps = conference_deps()
        routed(deps)
        assert flow.run(deps, Step.LIAISON_LEG, leg(status)) == VoiceReply()
        _assert_back_in_front_and_liaison_away(deps, kind=EventKind.LIAISON_NO_ANSWER, status=word)
        flow.run(deps, Step.LIAISON_LEG, leg(status))  # the report again: one effect
        assert len(fakes(deps).telephony.redirects) == 2 and fakes(deps).calls.kinds(SID).count(
            EventKind.LIAISON_NO_ANSWER) == 1
        reply = flow.run(deps, Step.BACK_IN_LINE, StepInput(call_sid=SID))
        assert said(reply) == "De medewerker neemt niet op. U blijft vooraan in de rij."
        assert isinstance(reply.actions[-1], Enqueue)
        flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
        assert fakes(deps).router.line("UWV") == [SID]  # its place in line again


def test_a_hang_up_during_the_whisper_is_not_an_answer_and_the_call_goes_back() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.COMPLETED))  # hung up before joining the room
    _assert_back_in_front_and_liaison_away(deps, kind=EventKind.NOT_BRIDGED, status="not_bridged")
    assert EventKind.ANSWERED not in fakes(deps).calls.kinds(SID)


def test_the_caller_leaving_the_room_after_the_redirect_back_changes_nothing() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.NOT_ANSWERED))
    reply = flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id))
    assert verbs(reply) == ["Enqueue"]  # the network ignores it (the call was redirected); on hold if not
    assert state(deps) == (CallState.QUEUED, None)


def test_the_caller_hanging_up_while_the_liaisons_leg_rings_cancels_it_and_frees_the_liaison() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=3))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ABANDONED_IN_QUEUE)
    assert fakes(deps).telephony.hung_up == [LEG]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    # The cancelled leg's own report and the whisper of a leg that got through anyway change nothing.
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.CANCELLED))
    assert flow.run(deps, Step.WHISPER, StepInput(call_sid=SID, liaison_id=JAN.id, choice="room")).actions == (
        Hangup(),)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_a_leg_that_cannot_be_placed_puts_the_call_back_in_front() -> None:
    deps = conference_deps()
    fakes(deps).telephony.fail_create_with = RuntimeError("429 too many requests")
    routed(deps)
    _assert_back_in_front_and_liaison_away(deps, kind=EventKind.LIAISON_NO_ANSWER, status="failed")


def test_the_caller_gone_before_the_redirect_back_ends_the_call_and_frees_the_liaison() -> None:
    deps = conference_deps()
    routed(deps)
    fakes(deps).telephony.fail_with = LookupError("call gone")
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.NOT_ANSWERED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.ENDED
    assert not fakes(deps).router.known(call_sid=SID, org="UWV")


def test_with_the_dial_bridge_nothing_is_placed_by_rest() -> None:
    deps = make_deps()
    routed(deps)
    assert fakes(deps).telephony.created == []
    reply = flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    assert verbs(reply) == ["Dial"] and not isinstance(reply.actions[0], Say)


def test_the_room_ending_with_the_caller_still_there_before_the_join_report_came_is_a_conversation() -> None:
    """Reports may come late: the liaison joined, talked and left (ending the room) before the join report came."""
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.ANSWERED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 3))  # the late report
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.COMPLETED))
    assert fakes(deps).calls.kinds(SID).count(EventKind.ANSWERED) == 1
    assert EventKind.NOT_BRIDGED not in fakes(deps).calls.kinds(SID)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_the_caller_hanging_up_in_the_room_while_the_leg_rings_is_no_conversation() -> None:
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.COMPLETED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ABANDONED_IN_QUEUE)
    assert fakes(deps).telephony.hung_up == [LEG]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_a_lost_offer_in_the_room_is_repaired_by_the_reconciler_leg_cancelled_caller_back_in_line() -> None:
    """The process that should have handled the leg's reports died: after the ring time and a margin the
    reconciler cancels the leg, frees the liaison and takes the caller out of the room back to the line."""
    from callrouter.services.calls.reconcile import reconcile

    deps = conference_deps()
    routed(deps)
    fakes(deps).clock.advance(deps.dial_timeout_seconds + deps.reconcile_margin_seconds - 1)
    reconcile(deps, live_state_present=True)
    assert state(deps) == (CallState.OFFERED, JAN.id)  # not yet: it may still ring
    fakes(deps).clock.advance(2)
    reconcile(deps, live_state_present=True)
    assert fakes(deps).telephony.hung_up == [LEG]
    redirects = fakes(deps).telephony.redirects
    assert redirects[-2:] == [(SID, Goto.to(Step.BACK_IN_LINE)), (SID, Goto.to(Step.CONNECT, liaison=JAN.id))]
    # Back in line at its place, the same run routes it again: a fresh leg, never two ringing at once.
    assert fakes(deps).calls.kinds(SID).count(EventKind.LIAISON_NO_ANSWER) == 1
    assert [c.sid for c in fakes(deps).telephony.created] == [LEG, "CAout0002"]
    assert state(deps) == (CallState.OFFERED, JAN.id)


def test_the_reconcile_margin_is_a_setting() -> None:
    """An operator who sets a shorter margin (CALLROUTER_RECONCILE_MARGIN_SECONDS) has a lost offer returned
    sooner: after the ring time and that margin, not the default's."""
    from callrouter.services.calls.reconcile import reconcile

    deps = conference_deps(reconcile_margin_seconds=7)
    assert CallDeps.reconcile_margin_seconds == 30 and deps.reconcile_margin_seconds == 7  # default, and this one
    routed(deps)
    fakes(deps).clock.advance(deps.dial_timeout_seconds + 6)
    reconcile(deps, live_state_present=True)
    assert state(deps) == (CallState.OFFERED, JAN.id) and fakes(deps).telephony.hung_up == []
    fakes(deps).clock.advance(2)
    reconcile(deps, live_state_present=True)
    assert fakes(deps).telephony.hung_up == [LEG]
    assert fakes(deps).calls.kinds(SID).count(EventKind.LIAISON_NO_ANSWER) == 1


def _left_in_the_room(deps: CallDeps) -> None:
    """The call in the room, then taken back to the line in the record by a process that died before its
    redirect: the caller still hears the room's hold."""
    routed(deps)
    flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    back = deps.calls.apply(SID, event=EventKind.LIAISON_NO_ANSWER, at=deps.clock.now(), move=CallMove.RETURN,
                            detail={"liaison": JAN.id, "status": "no-answer"}, liaison_id=None)
    assert back is not None and back.state == CallState.QUEUED


def test_a_caller_left_in_the_room_after_the_record_took_the_call_back_is_redirected_to_the_line() -> None:
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    _left_in_the_room(deps)
    telephony = fakes(deps).telephony
    before = list(telephony.redirects)
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS - 1)  # the return's own redirect may still be on its way
    hold = flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID))
    assert hold.actions == (Pause(5), Redirect(Goto.to(Step.ROOM_HOLD))) and telephony.redirects == before
    fakes(deps).clock.advance(2)
    hold = flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID))
    assert hold.actions == (Pause(5), Redirect(Goto.to(Step.ROOM_HOLD)))  # the redirect takes them; TwiML stays valid
    assert telephony.redirects == [*before, (SID, Goto.to(Step.BACK_IN_LINE))]
    # Back in line, the hold loop puts the call in the router's line again.
    back = flow.run(deps, Step.BACK_IN_LINE, StepInput(call_sid=SID))
    assert "vooraan in de rij" in said(back) and any(isinstance(a, Enqueue) for a in back.actions), back


def test_the_room_hold_leaves_a_caller_whose_call_is_offered_or_connected_where_they_are() -> None:
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    telephony = fakes(deps).telephony
    before = list(telephony.redirects)
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS * 3)  # a long ring: still the liaison's to answer
    flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID))
    flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid="CA-unknown"))  # a leg the record does not know
    assert telephony.redirects == before


def test_a_caller_who_hung_up_while_left_in_the_room_costs_the_hold_nothing() -> None:
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    _left_in_the_room(deps)
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS + 1)
    fakes(deps).telephony.fail_with = RuntimeError("21220 the call is not in progress")
    hold = flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID))
    assert hold.actions == (Pause(5), Redirect(Goto.to(Step.ROOM_HOLD)))


def test_the_end_of_an_earlier_offers_room_is_not_taken_for_a_conversation_with_the_same_liaison() -> None:
    """The reconciler returned a lost offer and routed the call again, to the same liaison, in one run: the caller
    is redirected out of the room (back in line) and on into the new offer's room. The first room's action comes
    after the new offer: it names the old offer, so it changes nothing (it was taken for the end of a
    conversation with Jan, who never joined: 'answered' in the record, never bridged)."""
    from callrouter.services.calls.reconcile import reconcile

    deps = conference_deps()
    routed(deps)
    first_room = flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id)).actions[0]
    assert isinstance(first_room, JoinRoom) and first_room.action is not None
    fakes(deps).clock.advance(deps.dial_timeout_seconds + deps.reconcile_margin_seconds + 1)
    reconcile(deps, live_state_present=True)
    assert state(deps) == (CallState.OFFERED, JAN.id)  # offered again, to Jan
    second_room = flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id)).actions[0]
    assert isinstance(second_room, JoinRoom) and second_room.action != first_room.action
    offer = dict(first_room.action.params)["offer"]
    flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.ANSWERED,
                                             options=(("offer", int(offer)),)))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.OFFERED, None)
    assert EventKind.COMPLETED not in fakes(deps).calls.kinds(SID)


def jan_talked_alone_in_his_room(deps: CallDeps) -> None:
    """Jan's leg heard the whisper, went into the call's room (CF-jan: the record says connected), and left it."""
    routed(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.ROOM_JOIN, StepInput(call_sid=SID, liaison_id=JAN.id, member=LEG))  # the whisper's end
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 0, room_sid="CF-jan"))
    assert state(deps) == (CallState.CONNECTED, JAN.id)


def test_a_caller_whose_redirect_came_after_the_liaison_had_left_the_room_goes_back_in_line_in_front() -> None:
    """The caller's redirect into the room was held up (a failover); meanwhile Jan's leg heard the whisper, joined
    the room (the record: connected) and left it. The late /connect still takes the caller into the room (Jan may
    be waiting there); Jan's room has ended, so the caller waits in a new one (CF-late) that never starts: its
    hold turn, once Jan has left and ROOM_STRAY_SECONDS have passed, sends the caller back to the front of the
    line (not stuck: 'connected' for good)."""
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    jan_talked_alone_in_his_room(deps)
    late = flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    assert isinstance(late.actions[0], JoinRoom), late  # into the room, not the hold loop with a connected record
    telephony = fakes(deps).telephony
    before = list(telephony.redirects)
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS)
    flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID, room_sid="CF-late"))  # Jan is still in his room
    assert state(deps) == (CallState.CONNECTED, JAN.id) and telephony.redirects == before
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.LEFT, LEG, 1, room_sid="CF-jan"))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.ENDED, "", 2, room_sid="CF-jan"))
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.COMPLETED))
    assert state(deps) == (CallState.CONNECTED, JAN.id)  # the caller's room-left would end it: it never comes
    hold = flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID, room_sid="CF-late"))
    assert hold.actions == (Pause(5), Redirect(Goto.to(Step.ROOM_HOLD)))
    assert state(deps) == (CallState.QUEUED, None)
    assert telephony.redirects == [*before, (SID, Goto.to(Step.BACK_IN_LINE))]
    assert EventKind.NOT_BRIDGED in fakes(deps).calls.kinds(SID)
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.answered_at is None


def test_a_late_hold_turn_of_the_room_the_conversation_took_place_in_changes_nothing() -> None:
    """The caller waited in the room, Jan joined, they talked and Jan left; a hold turn the caller's leg had asked
    for before the room started, held up by a failover for longer than the conversation, comes after that: it is
    for Jan's own room, so the conversation took place (the caller's room-left ends it), and the caller is not
    sent back in line (the fault suite's frozen primary: '2 conversations, 2 liaison legs')."""
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, SID, 0, room_sid="CF-1"))
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.ROOM_JOIN, StepInput(call_sid=SID, liaison_id=JAN.id, member=LEG))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 1, room_sid="CF-1"))
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS + 5)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.LEFT, LEG, 2, room_sid="CF-1"))
    telephony = fakes(deps).telephony
    before = list(telephony.redirects)
    for late in (StepInput(call_sid=SID, room_sid="CF-1"), StepInput(call_sid=SID)):  # with or without its room
        flow.run(deps, Step.ROOM_HOLD, late)
        assert state(deps) == (CallState.CONNECTED, JAN.id) and telephony.redirects == before


def test_a_hold_turn_soon_after_the_liaison_joined_leaves_the_conversation_alone() -> None:
    """Only a room that has not started plays its hold (the waitUrl); a late turn of it just after the liaison
    joined (within the stray time) changes nothing."""
    from callrouter.services.calls.steps.connected import ROOM_STRAY_SECONDS

    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, liaison_id=JAN.id))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, SID, 0))
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 1))
    assert state(deps) == (CallState.CONNECTED, JAN.id)
    fakes(deps).clock.advance(ROOM_STRAY_SECONDS - 1)
    flow.run(deps, Step.ROOM_HOLD, StepInput(call_sid=SID))
    assert state(deps) == (CallState.CONNECTED, JAN.id)


def test_a_liaisons_join_report_retried_after_its_handling_died_halfway_still_answers_the_call() -> None:
    """A Redis primary killed: the handling of Jan's join noted the room report, then died before the answer;
    HAProxy sent the same report to the other host. The note is there already (once each), yet the answer is
    made; a third copy changes nothing."""
    deps = conference_deps()
    routed(deps)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, SID, 0))
    fakes(deps).calls.apply(SID, event=EventKind.ROOM, at=deps.clock.now(),
                            detail={"event": "joined", "member": LEG, "sequence": 1}, dedupe=f"room:joined:{LEG}")
    assert state(deps) == (CallState.OFFERED, JAN.id)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 1))
    assert state(deps) == (CallState.CONNECTED, JAN.id)
    flow.run(deps, Step.ROOM_EVENT, room(RoomEvent.JOINED, LEG, 1))
    kinds = fakes(deps).calls.kinds(SID)
    assert kinds.count(EventKind.ANSWERED) == 1 and kinds.count(EventKind.ROOM) == 2
