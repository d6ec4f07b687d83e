"""services/calls/consult.py and steps/consult.py: the caller on hold in the room, a liaison of another
organisation claimed by the router and rung into the room, then complete (the first liaison leaves) or cancel
(the caller back with the first); no answer, and hang-ups of each party during a consult."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callrouter.domain.call_flow import Goto, LegStatus, RoomEvent, Step, room_of
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import JoinRoom, Pause, Redirect
from callrouter.services.calls import consult, consult_record, flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from callrouter.services.calls.transfer import Refusal, TransferRefused
from tests.fakes import JAN, SEM, fakes, make_deps, ms, on_duty, said, seed_call

SID = "CA-consult"
JAN_LEG, SEM_LEG = "CAout0001", "CAout0002"
ROOM = "CF" + "1" * 32


def in_conversation(deps: CallDeps) -> None:
    """Sanne talks with Jan in the call's room; Sem of SVB is on duty."""
    on_duty(deps, JAN, SEM)
    since = deps.clock.now() - timedelta(seconds=30)
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=since, received_at=since)
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    routing.dispatch(deps, org="UWV")
    report(deps, RoomEvent.JOINED, SID, 1)
    report(deps, RoomEvent.JOINED, JAN_LEG, 2)
    assert state(deps) == (CallState.CONNECTED, JAN.id)


def report(deps: CallDeps, event: RoomEvent, member: str, sequence: int) -> None:
    flow.run(deps, Step.ROOM_EVENT, StepInput(call_sid=SID, choice=event.value, member=member, sequence=sequence,
                                              room_sid=ROOM))


def state(deps: CallDeps) -> tuple[CallState, int | None]:
    record = fakes(deps).calls.get(SID)
    assert record is not None
    return record.state, record.liaison_id


def step(deps: CallDeps) -> str | None:
    record = fakes(deps).calls.get(SID)
    assert record is not None
    now = consult_record.current(deps, record)
    return now.step if now else None


def asked_and_rung(deps: CallDeps) -> None:
    message = consult.start(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    assert message == "De beller staat in de wacht. We zoeken een medewerker van SVB voor overleg."
    routing.dispatch(deps, org="SVB")
    assert step(deps) == "ringing"


def test_the_caller_is_held_and_a_liaison_of_the_other_organisation_is_claimed_and_rung_into_the_room() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    consult.start(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    telephony = fakes(deps).telephony
    assert telephony.holds == [(ROOM, SID, True, Goto.to(Step.CONSULT_HOLD))]
    assert telephony.room_ends == [(ROOM, JAN_LEG, False)]  # Jan may leave without ending the room
    assert step(deps) == "asked" and fakes(deps).router.line("SVB") == [consult_record.member_of(SID)]
    routing.dispatch(deps, org="SVB")
    created = telephony.created[-1]
    assert (created.sid, created.to) == (SEM_LEG, SEM.address)
    assert created.answer == Goto.to(Step.CONSULT_WHISPER, call=SID, liaison=SEM.id)
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.BUSY
    hold = flow.run(deps, Step.CONSULT_HOLD, StepInput(call_sid=SID))
    assert said(hold) == "Een moment alstublieft. De medewerker overlegt even met een collega."
    assert hold.actions[1:] == (Pause(5), Redirect(Goto.to(Step.CONSULT_HOLD, again=1)))
    assert flow.run(deps, Step.CONSULT_HOLD, StepInput(call_sid=SID, choice="again")).actions[0] == Pause(5)
    whisper = flow.run(deps, Step.CONSULT_WHISPER, StepInput(call_sid=SID, liaison_id=SEM.id))
    assert said(whisper) == ("Overleg gevraagd door UWV, over WW-uitkering. Loket Amsterdam. "
                             "De beller staat in de wacht.")
    join = whisper.actions[-1]
    assert isinstance(join, JoinRoom) and (join.room, join.starts, join.ends) == (room_of(SID), True, False)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    assert step(deps) == "answered"
    assert state(deps) == (CallState.CONNECTED, JAN.id)  # still Jan's call until he completes


def test_complete_the_first_liaison_leaves_and_the_caller_goes_on_with_the_second() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    assert consult.complete(deps, liaison_id=JAN.id, call_sid=SID) == "Overleg afgerond: de beller praat nu met SVB."
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id, record.organisation, record.topic) == (
        CallState.CONNECTED, SEM.id, "SVB", "aow")
    [moved] = fakes(deps).calls.details(SID, EventKind.TRANSFERRED)
    assert (moved["kind"], moved["from_organisation"], moved["to_organisation"], moved["to_liaison"]) == (
        "consult", "UWV", "SVB", SEM.id)
    telephony = fakes(deps).telephony
    assert (ROOM, SEM_LEG, True) in telephony.room_ends and (ROOM, SID, False, None) in telephony.holds
    assert JAN_LEG in telephony.hung_up
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    report(deps, RoomEvent.LEFT, JAN_LEG, 6)  # Jan's leave: nothing more
    assert state(deps) == (CallState.CONNECTED, SEM.id)
    # Sem hangs up: the room ends, the caller's Dial action (named for Jan's offer) ends the conversation.
    flow.run(deps, Step.ROOM_LEFT, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.ANSWERED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert [d["liaison"] for d in fakes(deps).calls.details(SID, EventKind.ANSWERED)] == [JAN.id, SEM.id]
    with pytest.raises(TransferRefused):
        consult.complete(deps, liaison_id=JAN.id, call_sid=SID)


def test_cancel_the_caller_is_back_with_the_first_liaison_and_the_second_is_free() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    assert consult.cancel(deps, liaison_id=JAN.id, call_sid=SID) == "Overleg beëindigd: de beller is weer bij u."
    telephony = fakes(deps).telephony
    assert SEM_LEG in telephony.hung_up and (ROOM, SID, False, None) in telephony.holds
    assert telephony.room_ends[-1] == (ROOM, JAN_LEG, True)
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert state(deps) == (CallState.CONNECTED, JAN.id) and step(deps) == "cancelled"
    with pytest.raises(TransferRefused):
        consult.complete(deps, liaison_id=JAN.id, call_sid=SID)


def test_nobody_answers_the_consult_the_first_liaison_is_told_and_may_ask_again() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    flow.run(deps, Step.CONSULT_LEG, StepInput(call_sid=SID, liaison_id=SEM.id, leg=LegStatus.NOT_ANSWERED))
    flow.run(deps, Step.CONSULT_LEG, StepInput(call_sid=SID, liaison_id=SEM.id, leg=LegStatus.NOT_ANSWERED))
    assert step(deps) == "not_answered"
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AWAY
    assert fakes(deps).router.line("SVB") == []
    assert state(deps) == (CallState.CONNECTED, JAN.id)
    on_duty(deps, SEM)
    asked_and_rung(deps)  # a retry
    assert fakes(deps).calls.kinds(SID).count(EventKind.CONSULT) == 5  # asked, ringing, not_answered, asked, ringing


def test_the_caller_hanging_up_during_a_consult_cancels_the_second_liaisons_leg_and_frees_both() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=9))
    assert state(deps)[0] == CallState.ENDED and step(deps) == "cancelled"
    assert SEM_LEG in fakes(deps).telephony.hung_up
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_the_first_liaison_hanging_up_after_the_second_answered_hands_the_caller_over() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    report(deps, RoomEvent.LEFT, JAN_LEG, 6)
    assert state(deps) == (CallState.CONNECTED, SEM.id) and step(deps) == "completed"
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_the_first_liaison_hanging_up_before_the_second_answered_puts_the_caller_back_in_front() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.LEFT, JAN_LEG, 6)
    assert state(deps) == (CallState.QUEUED, None) and step(deps) == "cancelled"
    telephony = fakes(deps).telephony
    assert SEM_LEG in telephony.hung_up and telephony.redirects[-1] == (SID, Goto.to(Step.BACK_IN_LINE))
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    record = fakes(deps).calls.get(SID)
    assert record is not None and router.enqueued_at(call_sid=SID, org="UWV") == ms(record.queued_at)  # type: ignore[arg-type]


def test_a_consult_is_refused_twice_at_once_and_on_the_dial_bridge() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    consult.start(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    with pytest.raises(TransferRefused) as twice:
        consult.start(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    assert twice.value.reason == Refusal.ALREADY_MOVING
    dial = make_deps()
    on_duty(dial, JAN, SEM)
    seed_call(dial, SID, state=CallState.CONNECTED, organisation="UWV", topic="ww", liaison_id=JAN.id)
    with pytest.raises(TransferRefused) as no_room:
        consult.start(dial, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    assert "conferentie" in no_room.value.message


def test_three_way_all_talk_and_whoever_of_the_liaisons_leaves_the_conversation_goes_on() -> None:
    # The first liaison leaves: the caller goes on with the second.
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    assert consult.three_way(deps, liaison_id=JAN.id, call_sid=SID).startswith("De beller hoort u nu allebei")
    assert fakes(deps).telephony.holds[-1] == (ROOM, SID, False, None)
    kinds = [d["kind"] for d in fakes(deps).calls.details(SID, EventKind.TRANSFERRED)]
    assert kinds == ["three_way"] and step(deps) == "three_way"
    report(deps, RoomEvent.LEFT, JAN_LEG, 6)
    assert state(deps) == (CallState.CONNECTED, SEM.id)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert (ROOM, SEM_LEG, True) in fakes(deps).telephony.room_ends
    # The second liaison leaves instead: the first goes on, and ends the room when they leave.
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    consult.three_way(deps, liaison_id=JAN.id, call_sid=SID)
    report(deps, RoomEvent.LEFT, SEM_LEG, 6)
    assert state(deps) == (CallState.CONNECTED, JAN.id)
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert fakes(deps).telephony.room_ends[-1] == (ROOM, JAN_LEG, True)


def test_the_caseworker_hanging_up_in_a_three_way_call_frees_both_liaisons() -> None:
    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    consult.three_way(deps, liaison_id=JAN.id, call_sid=SID)
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=9))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_a_consult_ring_whose_reports_were_lost_is_ended_by_the_reconciler() -> None:
    from callrouter.services.calls.reconcile import reconcile

    deps = make_deps(bridge="conference")
    in_conversation(deps)
    asked_and_rung(deps)
    fakes(deps).clock.advance(deps.dial_timeout_seconds + deps.reconcile_margin_seconds - 1)
    reconcile(deps, live_state_present=True)
    assert step(deps) == "ringing"
    fakes(deps).clock.advance(2)
    reconcile(deps, live_state_present=True)
    assert step(deps) == "not_answered" and SEM_LEG in fakes(deps).telephony.hung_up
    assert fakes(deps).router.liaison_status(liaison_id=SEM.id, org="SVB") == Presence.AVAILABLE
    assert state(deps) == (CallState.CONNECTED, JAN.id)  # the caller still with Jan, who decides


def test_a_consult_nobody_was_free_for_ends_after_the_wait_limit_and_the_first_liaison_may_ask_again() -> None:
    from callrouter.services.calls.reconcile import reconcile

    deps = make_deps(bridge="conference")
    in_conversation(deps)
    on_duty(deps, SEM, status=Presence.AWAY)  # nobody of SVB free
    consult.start(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    routing.dispatch(deps, org="SVB")
    fakes(deps).clock.advance(deps.consult_wait_seconds - 1)
    reconcile(deps, live_state_present=True)
    assert step(deps) == "asked" and fakes(deps).router.line("SVB") == [consult_record.member_of(SID)]
    fakes(deps).clock.advance(2)
    reconcile(deps, live_state_present=True)
    record = fakes(deps).calls.get(SID)
    assert record is not None
    ended = consult_record.current(deps, record)
    assert ended is not None and (ended.step, ended.reason) == ("not_answered", consult_record.NOBODY_FREE)
    assert fakes(deps).router.line("SVB") == []  # out of SVB's line: Sem coming free rings nobody
    assert state(deps) == (CallState.CONNECTED, JAN.id)  # the caller still on hold with Jan, who decides
    reconcile(deps, live_state_present=True)  # a second run: nothing more
    assert fakes(deps).calls.kinds(SID).count(EventKind.CONSULT) == 2
    on_duty(deps, SEM)
    routing.dispatch(deps, org="SVB")
    assert fakes(deps).telephony.created[-1].to != SEM.address
    asked_and_rung(deps)  # Jan asks again and Sem, now free, is rung
