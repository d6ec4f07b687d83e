"""The reconciler frees a liaison whose release was lost, or whose claim never became an offer, and only then."""

from __future__ import annotations

import pytest

from callrouter.domain.calls import CallState, EventKind
from callrouter.domain.queueing import CallClass, Presence
from callrouter.services.calls.reconcile import (
    UNOFFERED_CLAIM_SECONDS,
    release_liaisons_of_ended_calls,
    return_unoffered_claims,
)
from callrouter.services.calls.speech import ms
from tests.fakes import EVA, JAN, FakeClock, make_deps, on_duty, seed_call

SID = "CA" + "1" * 32


def claimed_for_jan(state: CallState, **fields: object):  # type: ignore[no-untyped-def]
    deps = make_deps()
    on_duty(deps, JAN)
    deps.presence.save(liaison_id=JAN.id, organisation="UWV", status=Presence.AVAILABLE.value, since=deps.clock.now())
    deps.router.enqueue(call_sid=SID, org="UWV", topic="ww", klass=CallClass.PRO, enqueued_at_ms=ms(deps.clock.now()))
    [claim] = deps.router.dispatch(org="UWV", now_ms=ms(deps.clock.now()))
    assert (claim.call_sid, claim.liaison_id) == (SID, JAN.id)
    seed_call(deps, SID, state=state, organisation="UWV", topic="ww", **fields)
    return deps


def test_a_liaison_held_for_an_ended_call_is_available_again() -> None:
    deps = claimed_for_jan(CallState.ENDED, liaison_id=JAN.id)
    assert release_liaisons_of_ended_calls(deps) == {"UWV"}
    assert deps.router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None
    assert release_liaisons_of_ended_calls(deps) == set()  # once


@pytest.mark.parametrize("state", [CallState.QUEUED, CallState.OFFERED, CallState.CONNECTED])
def test_a_call_that_goes_on_keeps_its_liaison(state: CallState) -> None:
    """QUEUED: the router claimed it a moment ago and the offer is not in SQL yet."""
    deps = claimed_for_jan(state, liaison_id=JAN.id if state != CallState.QUEUED else None)
    assert release_liaisons_of_ended_calls(deps) == set()
    assert deps.router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY


def test_liaisons_without_a_call_are_left_as_they_are() -> None:
    deps = make_deps()
    on_duty(deps, EVA, status=Presence.AWAY)
    deps.presence.save(liaison_id=EVA.id, organisation="UWV", status=Presence.AWAY.value, since=deps.clock.now())
    assert release_liaisons_of_ended_calls(deps) == set()
    assert deps.router.liaison_status(liaison_id=EVA.id, org="UWV") == Presence.AWAY


def test_a_claim_never_offered_goes_back_in_line_after_the_margin_and_frees_the_liaison() -> None:
    """The process died between the router's claim and the record's offer (the record still has it queued)."""
    deps = claimed_for_jan(CallState.QUEUED, queued_at=None)
    assert return_unoffered_claims(deps) == set()  # a moment old: the offer may be on its way
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    clock.advance(UNOFFERED_CLAIM_SECONDS + 1)
    assert return_unoffered_claims(deps) == {"UWV"}
    assert deps.router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert deps.router.position(call_sid=SID, org="UWV") is not None  # in line again
    assert return_unoffered_claims(deps) == set()  # once


def test_a_return_after_a_no_answer_stopped_halfway_is_finished_with_the_liaison_away() -> None:
    deps = claimed_for_jan(CallState.QUEUED)
    deps.calls.apply(SID, event=EventKind.LIAISON_NO_ANSWER, at=deps.clock.now(), detail={"liaison": JAN.id,
                                                                                        "status": "no-answer"})
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    clock.advance(UNOFFERED_CLAIM_SECONDS + 1)
    assert return_unoffered_claims(deps) == {"UWV"}
    assert deps.router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY
    assert deps.router.position(call_sid=SID, org="UWV") is not None
