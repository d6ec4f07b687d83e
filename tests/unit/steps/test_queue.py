"""steps/queue.py: into the line, the hold loop (joining the router's line, announcements, the callback offer),
and leaving it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from callrouter.domain.call_flow import Goto, QueueExit, Step
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.voice import Enqueue, Gather, Pause, Play, VoiceReply
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import queue
from tests.fakes import (
    CIT_LINE,
    JAN,
    FakeGuard,
    fakes,
    gather_of,
    make_deps,
    ms,
    on_duty,
    only,
    said,
    seed_call,
    verbs,
)

SID = "CA-queue"
HOLD = Enqueue(queue="callrouter-UWV", wait=Goto.to(Step.WAIT), action=Goto.to(Step.QUEUE_EXIT))


def queued(deps: CallDeps, sid: str = SID, *, seconds_ago: float = 0, **fields: Any) -> None:
    """A call in line since `seconds_ago` (SQL), not yet in the router's line (no hold turn yet)."""
    since = deps.clock.now() - timedelta(seconds=seconds_ago)
    values: dict[str, Any] = {"organisation": "UWV", "topic": "ww", "queued_at": since, "received_at": since}
    values.update(fields)
    seed_call(deps, sid, state=CallState.QUEUED, **values)


def turn(queue_seconds: float = 0, sid: str = SID) -> StepInput:
    return StepInput(call_sid=sid, queue_seconds=queue_seconds)


def test_a_chosen_topic_enters_the_line_with_the_acknowledgement() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.MENU, menu_step="topic", organisation="UWV")
    reply = flow.run(deps, Step.QUEUE, StepInput(call_sid=SID, options=(("topic", "ww"),)))
    assert reply.actions[-1] == HOLD
    assert said(reply) == ("Dank u. U gaat voor op de wachtende burgers. We verbinden u zo met UWV, "
                           "over WW-uitkering.")
    record = fakes(deps).calls.get(SID)
    assert record is not None
    assert (record.state, record.topic, record.menu_step, record.queued_at) == (
        CallState.QUEUED, "ww", None, deps.clock.now())
    assert fakes(deps).calls.details(SID, EventKind.QUEUED) == [{"organisation": "UWV", "topic": "ww"}]
    assert not fakes(deps).router.known(call_sid=SID, org="UWV")  # joins the router's line at its first hold turn


def test_a_repeated_queue_request_holds_without_a_second_entry() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.MENU, menu_step="topic", organisation="UWV")
    flow.run(deps, Step.QUEUE, StepInput(call_sid=SID, options=(("topic", "ww"),)))
    stale = queue.queue(deps, StepInput(call_sid=SID, options=(("topic", "zw"),)))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.topic == "ww"
    reply = flow.run(deps, Step.QUEUE, StepInput(call_sid=SID, options=(("topic", "zw"),)))
    assert reply.actions == (HOLD,)
    assert fakes(deps).calls.kinds(SID).count(EventKind.QUEUED) == 1


def test_the_first_hold_turn_joins_the_routers_line_once_and_asks_for_routing_then_turns_recheck() -> None:
    deps = make_deps()
    queued(deps, seconds_ago=4)
    reply = flow.run(deps, Step.WAIT, turn(0))
    assert reply.actions == (Gather(action=Goto.to(Step.CALLBACK_OFFER), prompts=(Pause(5),), timeout=1,
                                    num_digits=1, action_on_empty_result=False),)
    router = fakes(deps).router
    assert router.line("UWV") == [SID]
    queued_at = fakes(deps).calls.get(SID).queued_at  # type: ignore[union-attr]
    assert queued_at is not None and router.enqueued_at(call_sid=SID, org="UWV") == ms(queued_at)
    fakes(deps).clock.advance(10)
    flow.run(deps, Step.WAIT, turn(10))
    assert router.line("UWV") == [SID] and router.enqueued_at(call_sid=SID, org="UWV") == ms(queued_at)
    # the call in line asks for routing at once; a later turn only rechecks (coalesced to about once a second)
    assert fakes(deps).after.orgs == ["UWV"] and fakes(deps).after.rechecks == ["UWV"]


def test_after_thirty_seconds_the_wait_is_announced_with_the_callback_offer() -> None:
    deps = make_deps()
    queued(deps, "CA-ahead", seconds_ago=60)
    queued(deps, seconds_ago=31)
    for sid in ("CA-ahead", SID):
        flow.run(deps, Step.WAIT, turn(0, sid))
    reply = flow.run(deps, Step.WAIT, turn(31))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.CALLBACK_OFFER) and gather.prompts[-1] == Pause(5)
    # two calls for one organisation without history: 2 x the default gap of 2 minutes
    assert said(reply) == ("U bent nummer 2. U wacht nog ongeveer 4 minuten. "
                           "Liever teruggebeld worden? U houdt uw plek in de rij. Toets 1.")
    assert fakes(deps).calls.details(SID, EventKind.ANNOUNCED) == [{"estimate_s": 240, "position": 2, "waited_s": 31}]
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.QUEUED
    assert said(flow.run(deps, Step.WAIT, turn(60))) == ""  # not again within 90 s


def test_a_short_expected_wait_is_said_without_the_callback_offer() -> None:
    deps = make_deps()
    now = ms(deps.clock.now())
    fakes(deps).router.org("UWV").claims = [now - i * 20_000 for i in range(1, 7)]  # a claim every 20 s
    queued(deps, seconds_ago=31)
    flow.run(deps, Step.WAIT, turn(0))
    reply = flow.run(deps, Step.WAIT, turn(31))
    assert said(reply) == "U bent nummer 1. U wacht nog ongeveer een halve minuut."
    assert fakes(deps).calls.details(SID, EventKind.ANNOUNCED)[0]["estimate_s"] == 30


def test_the_same_announcement_request_twice_is_recorded_once() -> None:
    deps = make_deps(guard=FakeGuard(announce_always=True))
    queued(deps, seconds_ago=40)
    first = flow.run(deps, Step.WAIT, turn(40))
    again = flow.run(deps, Step.WAIT, turn(40))
    assert said(first) == said(again) and "U bent nummer 1." in said(again)
    assert fakes(deps).calls.kinds(SID).count(EventKind.ANNOUNCED) == 1
    flow.run(deps, Step.WAIT, turn(41))
    assert fakes(deps).calls.kinds(SID).count(EventKind.ANNOUNCED) == 2


def test_the_citizen_line_holds_without_a_callback_key() -> None:
    deps = make_deps(hold_music_url="https://example.org/hold.mp3")
    queued(deps, line=CIT_LINE, caseworker_id=None, location=None, seconds_ago=35)
    reply = flow.run(deps, Step.WAIT, turn(35))
    assert verbs(reply) == ["Say", "Play"] and reply.actions[-1] == Play("https://example.org/hold.mp3")
    assert said(reply).startswith("U bent nummer 1.") and "terugbellen" not in said(reply)
    assert fakes(deps).router.line("UWV") == [SID]


def test_a_hold_turn_of_a_call_that_is_not_waiting_only_holds() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    seed_call(deps, SID, state=CallState.OFFERED, organisation="UWV", topic="ww", liaison_id=JAN.id)
    assert flow.run(deps, Step.WAIT, turn(50)).actions == (Pause(5),)
    assert not fakes(deps).router.known(call_sid=SID, org="UWV") and fakes(deps).after.orgs == []
    assert flow.run(deps, Step.WAIT, turn(0, "CA-unknown")).actions == (Pause(5),)


def test_a_hang_up_in_the_hold_loop_ends_the_call_and_leaves_the_routers_line() -> None:
    deps = make_deps()
    queued(deps, seconds_ago=20)
    flow.run(deps, Step.WAIT, turn(0))
    reply = flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid=SID, queue_exit=QueueExit.HUNG_UP, choice="hangup"))
    assert verbs(reply) == ["Hangup"]
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ABANDONED_IN_QUEUE)
    assert fakes(deps).calls.details(SID, EventKind.ABANDONED) == [
        {"status": "completed", "reason": "queue result hangup", "talk_seconds": None}]
    assert fakes(deps).router.line("UWV") == [] and not fakes(deps).router.known(call_sid=SID, org="UWV")


def test_a_failed_queue_ends_the_call_as_failed() -> None:
    deps = make_deps()
    queued(deps)
    result = queue.queue_exit(deps, StepInput(call_sid=SID, queue_exit=QueueExit.FAILED, choice="queue-full"))
    assert isinstance(result, Next) and result.step == Step.END
    flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid=SID, queue_exit=QueueExit.FAILED, choice="queue-full"))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.FAILED)


def test_leaving_for_a_callback_goes_on_with_the_callback_dialogue() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.CALLBACK, organisation="UWV", topic="ww")
    result = queue.queue_exit(deps, StepInput(call_sid=SID, queue_exit=QueueExit.LEFT))
    assert isinstance(result, Next) and (result.step, result.choice) == (Step.CALLBACK_DIALOGUE, "after_queue")


def test_a_call_that_moved_on_or_is_unknown_gets_an_empty_document() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.OFFERED, organisation="UWV", topic="ww", liaison_id=JAN.id)
    assert flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid=SID, queue_exit=QueueExit.MOVED_ON)) == VoiceReply()
    assert flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid="CA-x", queue_exit=QueueExit.HUNG_UP)) == VoiceReply()
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.OFFERED and fakes(deps).calls.kinds(SID) == []
    assert only(flow.run(deps, Step.QUEUE, StepInput(call_sid=SID, options=(("hold", True),))), Enqueue) == HOLD
