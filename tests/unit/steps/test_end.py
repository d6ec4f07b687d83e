"""steps/end.py: the end of a call, however it ended (what it frees), and the caller's leg's status reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callrouter.domain.call_flow import LegStatus, Step
from callrouter.domain.callbacks import CallbackOrigin, CallbackState
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Hangup, VoiceReply
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.calls import flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, StepInput
from callrouter.services.calls.steps import end
from tests.fakes import JAN, PIET, SANNE_PHONE, fakes, make_deps, on_duty, seed_call

SID = "CA-end"


def in_line(deps: CallDeps, *, waited: float = 20, **fields: Any) -> None:
    """A call in line (SQL and the router's line) for `waited` seconds."""
    since = deps.clock.now() - timedelta(seconds=waited)
    values: dict[str, Any] = {"organisation": "UWV", "topic": "ww", "queued_at": since, "received_at": since}
    values.update(fields)
    seed_call(deps, SID, state=CallState.QUEUED, **values)
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    fakes(deps).after.orgs.clear()


def ending(leg: LegStatus = LegStatus.COMPLETED, reason: str = "test") -> StepInput:
    return StepInput(call_sid=SID, options=(("leg", leg), ("reason", reason)))


def status(leg: LegStatus, sequence: int | None = None, at: datetime | None = None) -> StepInput:
    return StepInput(call_sid=SID, leg=leg, sequence=sequence, at=at)


def test_a_hang_up_in_line_is_abandoned_in_the_queue_and_leaves_the_routers_line() -> None:
    deps = make_deps()
    in_line(deps)
    assert flow.run(deps, Step.END, ending(reason="caller hung up")).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None
    assert (record.state, record.outcome, record.ended_at) == (
        CallState.ENDED, Outcome.ABANDONED_IN_QUEUE, deps.clock.now())
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED) == [
        {"status": "completed", "reason": "caller hung up", "talk_seconds": None}]
    assert not fakes(deps).router.known(call_sid=SID, org="UWV") and fakes(deps).router.line("UWV") == []
    assert fakes(deps).after.orgs == []  # nobody was freed: nothing to route


def test_a_hang_up_in_the_menu_is_abandoned_in_the_menu() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.MENU, menu_step="organisation")
    flow.run(deps, Step.END, ending())
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ABANDONED_IN_MENU)


def test_a_failure_before_the_conversation_ends_the_call_as_failed() -> None:
    deps = make_deps()
    in_line(deps)
    flow.run(deps, Step.END, ending(LegStatus.FAILED, "queue failed"))
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.outcome == Outcome.FAILED
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED)[0]["status"] == "failed"


def test_ending_an_offered_call_gives_the_liaison_back_and_routes() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    in_line(deps)
    routing.dispatch(deps, org="UWV")
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY
    flow.run(deps, Step.END, ending())
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.outcome == Outcome.ABANDONED_IN_QUEUE
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None
    assert fakes(deps).after.orgs == ["UWV"]


def test_the_end_of_a_connected_call_is_answered_and_releases_the_liaison() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    in_line(deps)
    routing.dispatch(deps, org="UWV")
    flow.run(deps, Step.LIAISON_LEG, StepInput(call_sid=SID, leg=LegStatus.ANSWERED, liaison_id=JAN.id))
    result = end.end(deps, ending())
    assert result == VoiceReply.of(Hangup())
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    assert fakes(deps).calls.kinds(SID)[-1] == EventKind.COMPLETED
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).presence.status_of(JAN.id) == "available" and fakes(deps).after.orgs == ["UWV"]


def test_ending_twice_ends_once() -> None:
    deps = make_deps()
    in_line(deps)
    flow.run(deps, Step.END, ending(reason="first"))
    assert flow.run(deps, Step.END, ending(reason="again")).actions == (Hangup(),)
    assert fakes(deps).calls.kinds(SID).count(EventKind.ABANDONED) == 1
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED)[0]["reason"] == "first"
    assert flow.run(deps, Step.END, StepInput(call_sid="CA-unknown")).actions == (Hangup(),)


def test_a_call_that_arranged_a_callback_keeps_that_outcome() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.CALLBACK, organisation="UWV", outcome=Outcome.CALLBACK_REQUESTED)
    flow.run(deps, Step.END, ending())
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CALLBACK_REQUESTED)


def test_a_long_wait_that_ends_in_a_hang_up_is_called_back_on_the_registered_number() -> None:
    deps = make_deps(callback_policy=CallbackPolicy(auto_after_abandon_seconds=60))
    in_line(deps, waited=90)
    flow.run(deps, Step.END, ending())
    [callback] = fakes(deps).callbacks.callbacks.values()
    assert (callback.origin, callback.state, callback.phone_number, callback.call_sid) == (
        CallbackOrigin.ABANDONED, CallbackState.SCHEDULED, SANNE_PHONE, SID)
    assert callback.place_at == deps.clock.now() - timedelta(seconds=90)
    assert fakes(deps).router.line("UWV") == [f"cb:{callback.id}"] and fakes(deps).after.orgs == ["UWV"]


def test_no_automatic_callback_after_a_short_wait_or_for_a_caseworker_without_a_number() -> None:
    deps = make_deps(callback_policy=CallbackPolicy(auto_after_abandon_seconds=60))
    in_line(deps, waited=30)
    flow.run(deps, Step.END, ending())
    seed_call(deps, "CA-piet", state=CallState.QUEUED, organisation="UWV", topic="ww", caseworker_id=PIET.id,
              location="UTR", queued_at=deps.clock.now() - timedelta(seconds=300))
    flow.run(deps, Step.END, StepInput(call_sid="CA-piet"))
    assert fakes(deps).callbacks.callbacks == {}


def test_the_callers_hang_up_report_ends_the_call_at_the_reported_time() -> None:
    deps = make_deps()
    in_line(deps)
    hung_up = deps.clock.now() - timedelta(seconds=2)
    given = status(LegStatus.COMPLETED, 4, at=hung_up)
    result = end.status(deps, given)
    assert isinstance(result, Next) and result.step == Step.END
    assert fakes(deps).calls.get(SID).state == CallState.QUEUED  # type: ignore[union-attr]  # noted, not ended yet
    flow.run(deps, result.step, result.input_after(given))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.ended_at, record.last_status_seq) == (
        CallState.ENDED, hung_up, 4)
    assert fakes(deps).calls.details(SID, EventKind.STATUS) == [{"status": "completed", "sequence": 4}]
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED)[0]["reason"] == "caller's call ended"


def test_a_repeated_status_report_changes_nothing() -> None:
    deps = make_deps()
    in_line(deps)
    flow.run(deps, Step.STATUS, status(LegStatus.COMPLETED, 4))
    before = (fakes(deps).calls.get(SID), fakes(deps).calls.kinds(SID))
    assert flow.run(deps, Step.STATUS, status(LegStatus.COMPLETED, 4)) == VoiceReply()
    assert (fakes(deps).calls.get(SID), fakes(deps).calls.kinds(SID)) == before


def test_a_report_of_a_live_leg_is_noted_and_a_late_one_does_not_undo_it() -> None:
    deps = make_deps()
    in_line(deps)
    assert flow.run(deps, Step.STATUS, status(LegStatus.ANSWERED, 3)) == VoiceReply()
    late = flow.run(deps, Step.STATUS, status(LegStatus.STARTING, 1))
    assert late == VoiceReply()
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.last_status_seq) == (CallState.QUEUED, 3)
    assert fakes(deps).calls.kinds(SID) == [EventKind.STATUS, EventKind.STATUS]
    assert fakes(deps).router.line("UWV") == [SID]


def test_a_status_report_for_an_unknown_call_or_without_a_status_is_ignored() -> None:
    deps = make_deps()
    in_line(deps)
    assert flow.run(deps, Step.STATUS, StepInput(call_sid="CA-unknown", leg=LegStatus.COMPLETED)) == VoiceReply()
    assert flow.run(deps, Step.STATUS, StepInput(call_sid=SID)) == VoiceReply()
    assert fakes(deps).calls.kinds(SID) == []
