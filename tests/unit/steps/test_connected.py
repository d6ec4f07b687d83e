"""steps/connected.py: the liaison's leg (picked up) and how the dial ended (talked, not answered, not bridged...)."""

from __future__ import annotations

from datetime import datetime, timedelta

from callrouter.domain.call_flow import DialEnd, LegStatus, Step
from callrouter.domain.calls import CallMove, CallState, EventKind, Outcome
from callrouter.domain.directory import Liaison
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Enqueue, Hangup, VoiceReply
from callrouter.services.calls import flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, StepInput
from callrouter.services.calls.steps import connected
from tests.fakes import EVA, JAN, fakes, make_deps, ms, on_duty, said, seed_call, verbs

SID = "CA-conn"


def offered_to(deps: CallDeps, liaison: Liaison = JAN, *, waited: float = 40) -> None:
    """A call in line (SQL and router) that routing has just offered to `liaison`."""
    on_duty(deps, liaison)
    since = deps.clock.now() - timedelta(seconds=waited)
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=since, received_at=since)
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))  # joins the router's line
    assert routing.dispatch(deps, org=liaison.organisation) == 1
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id) == (CallState.OFFERED, liaison.id)


def leg(status: LegStatus, liaison_id: int = JAN.id, at: datetime | None = None) -> StepInput:
    return StepInput(call_sid=SID, leg=status, liaison_id=liaison_id, at=at)


def dialled(end: DialEnd, liaison_id: int = JAN.id, talk_seconds: int | None = None) -> StepInput:
    return StepInput(call_sid=SID, dial=end, liaison_id=liaison_id, talk_seconds=talk_seconds)


def test_the_liaison_picking_up_connects_the_call_once() -> None:
    deps = make_deps()
    offered_to(deps)
    picked_up = deps.clock.now() + timedelta(seconds=3)
    assert flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED, at=picked_up)) == VoiceReply()
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.answered_at) == (CallState.CONNECTED, picked_up)
    assert fakes(deps).calls.details(SID, EventKind.ANSWERED) == [{"liaison": JAN.id}]
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))  # repeated report
    assert fakes(deps).calls.kinds(SID).count(EventKind.ANSWERED) == 1


def test_other_reports_of_the_liaisons_leg_change_nothing() -> None:
    deps = make_deps()
    offered_to(deps)
    for status in (LegStatus.STARTING, LegStatus.COMPLETED, LegStatus.NOT_ANSWERED):
        assert connected.liaison_leg(deps, leg(status)) == VoiceReply()
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.OFFERED
    assert fakes(deps).calls.kinds(SID) == [EventKind.OFFERED]


def test_a_conversation_that_ended_ends_the_call_answered_and_frees_the_liaison() -> None:
    deps = make_deps()
    offered_to(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    result = connected.dial_result(deps, dialled(DialEnd.TALKED, talk_seconds=95))
    assert isinstance(result, Next) and result.step == Step.CONVERSATION_END and result.options["talk_seconds"] == 95
    settled = connected.conversation_end(deps, dialled(DialEnd.TALKED))
    assert isinstance(settled, Next) and settled.step == Step.END and settled.options["answered"] is True
    assert flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=95)).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert fakes(deps).calls.details(SID, EventKind.COMPLETED) == [
        {"status": "completed", "reason": "conversation ended", "talk_seconds": 95}]
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None and not router.known(call_sid=SID, org="UWV")
    assert fakes(deps).presence.status_of(JAN.id) == "available" and fakes(deps).after.orgs[-1] == "UWV"


def test_with_wrap_up_the_liaison_wraps_up_until_a_timer_ends_it() -> None:
    deps = make_deps(wrap_up_seconds=60)
    offered_to(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=30))
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.WRAP_UP
    assert fakes(deps).presence.status_of(JAN.id) == "wrap_up"
    assert fakes(deps).jobs.wrap_ups == [(JAN.id, deps.clock.now() + timedelta(seconds=60))]


def test_a_conversation_whose_pickup_report_never_came_still_counts_as_answered() -> None:
    deps = make_deps()
    offered_to(deps)
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=30))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert record.answered_at == deps.clock.now() - timedelta(seconds=30)
    assert fakes(deps).calls.details(SID, EventKind.ANSWERED) == [{"liaison": JAN.id, "from": "dial result"}]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE


def test_wrap_up_follows_also_when_the_pickup_report_never_came() -> None:
    """end.py: a call that ends answered while still OFFERED is first `abandon`ed in the router, which makes the
    liaison available at once; the release into wrap-up that follows is then refused (not_this_call), so no
    wrap-up and no timer, while the durable presence says wrap_up."""
    deps = make_deps(wrap_up_seconds=60)
    offered_to(deps)
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=30))
    assert fakes(deps).presence.status_of(JAN.id) == "wrap_up"
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.WRAP_UP
    assert fakes(deps).jobs.wrap_ups == [(JAN.id, deps.clock.now() + timedelta(seconds=60))]


def test_no_answer_puts_the_call_back_in_front_and_the_liaison_away() -> None:
    deps = make_deps()
    offered_to(deps, waited=40)
    seed_call(deps, "CA-later", state=CallState.QUEUED, organisation="UWV", topic="ww",
              queued_at=deps.clock.now() - timedelta(seconds=5))
    flow.run(deps, Step.WAIT, StepInput(call_sid="CA-later"))
    reply = flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_ANSWERED))
    assert verbs(reply) == ["Say", "Enqueue"] and isinstance(reply.actions[-1], Enqueue)
    assert said(reply) == "De medewerker neemt niet op. U blijft vooraan in de rij."
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id, record.answered_at) == (
        CallState.QUEUED, None, None)
    assert fakes(deps).calls.details(SID, EventKind.LIAISON_NO_ANSWER) == [
        {"liaison": JAN.id, "status": "not_answered"}]
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY
    assert fakes(deps).presence.status_of(JAN.id) == "away"
    assert router.line("UWV") == ["CA-later"]  # out of the router's line until the caller holds again
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    assert router.line("UWV") == [SID, "CA-later"]  # back with its first place
    assert router.enqueued_at(call_sid=SID, org="UWV") == ms(record.queued_at)  # type: ignore[arg-type]


def test_a_liaison_who_hangs_up_in_the_whisper_did_not_answer() -> None:
    deps = make_deps()
    offered_to(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_BRIDGED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id, record.answered_at) == (
        CallState.QUEUED, None, None)
    assert fakes(deps).calls.details(SID, EventKind.NOT_BRIDGED) == [{"liaison": JAN.id, "status": "not_bridged"}]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY


def test_the_next_liaisons_pickup_after_a_whisper_hang_up_is_recorded() -> None:
    """connected.py liaison_leg / end.py: the ANSWERED event's dedupe key is "answered" for the whole call, so after
    a return from CONNECTED (the first liaison hung up in the whisper) the second liaison's pickup is dropped: the
    call stays OFFERED while they talk (the reconciler returns it as a lost offer; a hang-up counts as abandoned)."""
    deps = make_deps()
    offered_to(deps, JAN)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_BRIDGED))
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    on_duty(deps, EVA)
    assert routing.dispatch(deps, org="UWV") == 1
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED, liaison_id=EVA.id))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id) == (CallState.CONNECTED, EVA.id)


def test_the_caller_hanging_up_while_it_rang_ends_the_call_and_frees_the_liaison() -> None:
    deps = make_deps()
    offered_to(deps)
    assert flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.CANCELLED)).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ABANDONED_IN_QUEUE)
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED)[0]["reason"] == "caller hung up while ringing"
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).after.orgs[-1] == "UWV"


def test_a_late_or_foreign_dial_result_hangs_up_and_changes_nothing() -> None:
    deps = make_deps()
    offered_to(deps)
    assert flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_ANSWERED, liaison_id=EVA.id)).actions == (Hangup(),)
    flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_ANSWERED))
    events = fakes(deps).calls.kinds(SID)
    # Repeated (HAProxy's retry of a report whose first handling died: a finished one is answered by the replay
    # guard): the caller hears they are back in line, as the first answer would have said; nothing twice.
    repeated = flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_ANSWERED)).actions
    assert any(isinstance(a, Enqueue) for a in repeated), repeated
    assert fakes(deps).calls.kinds(SID) == events and events.count(EventKind.LIAISON_NO_ANSWER) == 1
    assert flow.run(deps, Step.DIAL_RESULT, StepInput(call_sid="CA-x", dial=DialEnd.TALKED,
                                                      liaison_id=JAN.id)).actions == (Hangup(),)


def test_a_no_answer_whose_handling_died_after_the_record_is_finished_by_the_retried_report() -> None:
    """The web process died between the record's return and the router's (HAProxy retries the webhook)."""
    deps = make_deps()
    offered_to(deps)
    deps.calls.apply(SID, event=EventKind.LIAISON_NO_ANSWER, at=deps.clock.now(), move=CallMove.RETURN,
                     detail={"liaison": JAN.id, "status": "no-answer"}, liaison_id=None, answered_at=None)
    assert fakes(deps).router.call_of_liaison(liaison_id=JAN.id, org="UWV") == SID  # the router's part not done
    retried = flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.NOT_ANSWERED)).actions
    assert any(isinstance(a, Enqueue) for a in retried), retried  # back in line, and told so
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY
    assert fakes(deps).router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None
    assert fakes(deps).calls.kinds(SID).count(EventKind.LIAISON_NO_ANSWER) == 1
