"""steps/offer.py: a liaison was claimed for the call: ring them (whisper first), and what the whisper says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from callrouter.domain.call_flow import DialEnd, Goto, Step
from callrouter.domain.calls import CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Dial, Enqueue, Hangup, Say
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import offer
from tests.fakes import (
    CIT_LINE,
    JAN,
    PRO_LINE,
    fakes,
    make_deps,
    on_duty,
    only,
    said,
    seed_call,
    verbs,
)

SID = "CA-offer"


def offered(deps: CallDeps, *, liaison_id: int = JAN.id, waited: float = 75, **fields: Any) -> None:
    """A call in line for `waited` seconds, just claimed for a liaison (as routing leaves it)."""
    now = deps.clock.now()
    values: dict[str, Any] = {"organisation": "UWV", "topic": "ww", "liaison_id": liaison_id,
                                 "queued_at": now - timedelta(seconds=waited), "offered_at": now}
    values.update(fields)
    seed_call(deps, SID, state=CallState.OFFERED, **values)


def connect(liaison_id: int | None = JAN.id) -> StepInput:
    return StepInput(call_sid=SID, liaison_id=liaison_id)


def test_connect_rings_the_liaison_with_the_whisper_and_the_leg_reports() -> None:
    deps = make_deps()
    offered(deps)
    reply = flow.run(deps, Step.CONNECT, connect())
    assert reply.actions == (Dial(
        address=JAN.address, action=Goto.to(Step.DIAL_RESULT, liaison=JAN.id), whisper=Goto.to(Step.WHISPER, call=SID),
        status_callback=Goto.to(Step.LIAISON_LEG, call=SID, liaison=JAN.id), timeout=20,
        caller_id=PRO_LINE.number),)
    assert fakes(deps).calls.kinds(SID) == []  # ringing changes nothing: the answer does


def test_the_dial_timeout_is_the_setting() -> None:
    deps = make_deps(dial_timeout_seconds=35)
    offered(deps)
    assert only(flow.run(deps, Step.CONNECT, connect()), Dial).timeout == 35


def test_a_connect_for_another_liaison_than_the_claimed_one_puts_the_caller_back_on_hold() -> None:
    deps = make_deps()
    offered(deps)
    stale = offer.connect(deps, connect(99))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.liaison_id == JAN.id
    reply = flow.run(deps, Step.CONNECT, connect(99))
    assert reply.actions == (Enqueue(queue="callrouter-UWV", wait=Goto.to(Step.WAIT), action=Goto.to(Step.QUEUE_EXIT)),)
    assert isinstance(offer.connect(deps, connect(None)), Stale)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id) == (CallState.OFFERED, JAN.id)


def test_a_late_connect_for_a_call_back_in_line_holds_and_for_an_ended_call_hangs_up() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww")
    assert verbs(flow.run(deps, Step.CONNECT, connect())) == ["Enqueue"]
    seed_call(deps, SID, state=CallState.ENDED, organisation="UWV", liaison_id=JAN.id)
    assert flow.run(deps, Step.CONNECT, connect()).actions == (Hangup(),)
    assert flow.run(deps, Step.CONNECT, StepInput(call_sid="CA-unknown", liaison_id=JAN.id)).actions == (Hangup(),)


def test_a_liaison_gone_from_the_directory_counts_as_a_failed_dial_and_the_call_goes_back_in_line() -> None:
    deps = make_deps()
    offered(deps, liaison_id=77)
    result = offer.connect(deps, connect(77))
    assert isinstance(result, Next) and (result.step, result.options) == (Step.DIAL_RESULT, {"dial": DialEnd.FAILED})
    reply = flow.run(deps, Step.CONNECT, connect(77))
    assert verbs(reply) == ["Say", "Enqueue"] and said(reply) == (
        "De medewerker neemt niet op. U blijft vooraan in de rij.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id) == (CallState.QUEUED, None)
    assert fakes(deps).calls.details(SID, EventKind.LIAISON_NO_ANSWER) == [{"liaison": 77, "status": "failed"}]
    assert fakes(deps).presence.saved == {}  # no such liaison to mark away


def test_the_whisper_tells_the_liaison_where_from_what_about_and_how_long() -> None:
    deps = make_deps()
    offered(deps, waited=75)
    reply = flow.run(deps, Step.WHISPER, StepInput(call_sid=SID))
    assert reply.actions == (Say(
        "Professionallijn. Loket Amsterdam. UWV, WW-uitkering. Gewacht: anderhalve minuut.", "nl"),)


def test_the_whisper_of_a_citizen_call_for_anyone() -> None:
    deps = make_deps()
    offered(deps, waited=200, line=CIT_LINE, caseworker_id=None, location=None, topic="*")
    assert said(flow.run(deps, Step.WHISPER, StepInput(call_sid=SID))) == (
        "Burgerlijn. UWV, een algemene vraag. Gewacht: 4 minuten.")


def test_the_whisper_of_an_unknown_call_hangs_up_the_liaisons_leg() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    assert flow.run(deps, Step.WHISPER, StepInput(call_sid="CA-unknown")).actions == (Hangup(),)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
