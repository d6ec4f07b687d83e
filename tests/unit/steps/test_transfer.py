"""services/calls/transfer.py: a blind transfer to another organisation, its refusals, and what the caller and
the new liaison hear (docs/transfer.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callrouter.domain.call_flow import Goto, LegStatus, Step
from callrouter.domain.callbacks import CallbackState
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.directory import Organisation
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Enqueue
from callrouter.services.calls import flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from callrouter.services.calls.transfer import Refusal, TransferRefused, blind_transfer, callback_by_other
from tests.fakes import (
    AMSTERDAM,
    EVA,
    JAN,
    SANNE_PHONE,
    SEM,
    SVB,
    UWV,
    WORKING_HOURS,
    fakes,
    make_deps,
    make_directory,
    ms,
    on_duty,
    said,
    seed_call,
)

SID = "CA-transfer"
TSL = Organisation("TSL", "Dienst Toeslagen", "+31800543", WORKING_HOURS)  # not connected at Amsterdam


def talking(deps: CallDeps, *, waited: float = 40) -> datetime:
    """Sanne (Amsterdam) in conversation with Jan about WW, after waiting `waited` s; Sem of SVB on duty."""
    on_duty(deps, JAN, SEM)
    queued_at = deps.clock.now() - timedelta(seconds=waited)
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=queued_at,
              received_at=queued_at)
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    assert routing.dispatch(deps, org="UWV") == 1
    flow.run(deps, Step.LIAISON_LEG, StepInput(call_sid=SID, liaison_id=JAN.id, leg=LegStatus.ANSWERED))
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.CONNECTED
    return queued_at


def refused(deps: CallDeps, *, liaison_id: int = JAN.id, to: str = "SVB", topic: str | None = None) -> TransferRefused:
    before = fakes(deps).calls.get(SID)
    events = len(fakes(deps).calls.kinds(SID))
    redirects = list(fakes(deps).telephony.redirects)
    with pytest.raises(TransferRefused) as caught:
        blind_transfer(deps, liaison_id=liaison_id, call_sid=SID, to_organisation=to, to_topic=topic)
    # Nothing else changes.
    assert fakes(deps).calls.get(SID) == before and len(fakes(deps).calls.kinds(SID)) == events
    assert fakes(deps).telephony.redirects == redirects
    return caught.value


def test_the_caller_goes_to_the_other_organisations_line_at_the_original_queue_time() -> None:
    deps = make_deps()
    queued_at = talking(deps)
    fakes(deps).clock.advance(120)
    done = blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    assert (done.from_organisation, done.to_organisation, done.to_topic) == ("UWV", "SVB", "aow")
    record = fakes(deps).calls.get(SID)
    assert record is not None
    assert (record.state, record.organisation, record.topic, record.liaison_id, record.queued_at) == (
        CallState.QUEUED, "SVB", "aow", None, queued_at)
    assert fakes(deps).calls.details(SID, EventKind.TRANSFERRED) == [{
        "kind": "blind", "from_organisation": "UWV", "from_topic": "ww", "to_organisation": "SVB", "to_topic": "aow",
        "liaison": JAN.id}]
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).telephony.redirects[-1] == (SID, Goto.to(Step.TRANSFERRED))
    reply = flow.run(deps, Step.TRANSFERRED, StepInput(call_sid=SID))
    assert said(reply) == "U wordt doorverbonden met SVB. Een moment."
    assert reply.actions[-1] == Enqueue(queue="callrouter-SVB", wait=Goto.to(Step.WAIT), action=Goto.to(Step.QUEUE_EXIT))


def test_in_the_new_line_it_goes_before_calls_that_came_later_and_the_whisper_says_who_transferred() -> None:
    deps = make_deps()
    queued_at = talking(deps, waited=300)
    fakes(deps).router.set_presence(liaison_id=SEM.id, org="SVB", topics=SEM.topics, status=Presence.AWAY,
                                    now_ms=ms(deps.clock.now()))
    later = deps.clock.now() - timedelta(seconds=60)  # came after the transferred caller first queued
    seed_call(deps, "CA-later", state=CallState.QUEUED, organisation="SVB", topic="aow", queued_at=later)
    flow.run(deps, Step.WAIT, StepInput(call_sid="CA-later"))
    blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    router = fakes(deps).router
    assert router.line("SVB") == [SID, "CA-later"]
    assert router.enqueued_at(call_sid=SID, org="SVB") == ms(queued_at)
    fakes(deps).clock.advance(30)
    on_duty(deps, SEM)
    routing.dispatch(deps, org="SVB")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.liaison_id) == (CallState.OFFERED, SEM.id)
    whisper = said(flow.run(deps, Step.WHISPER, StepInput(call_sid=SID)))
    assert whisper == "Professionallijn. Loket Amsterdam. Doorverbonden door UWV, over WW-uitkering. Gewacht: een halve minuut."
    # Answered once per offer: Jan's answer and Sem's each count.
    flow.run(deps, Step.LIAISON_LEG, StepInput(call_sid=SID, liaison_id=SEM.id, leg=LegStatus.ANSWERED))
    assert fakes(deps).calls.details(SID, EventKind.ANSWERED) == [{"liaison": JAN.id}, {"liaison": SEM.id}]


def test_a_transferred_caller_who_hangs_up_in_the_new_line_ends_transferred() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).router.set_presence(liaison_id=SEM.id, org="SVB", topics=SEM.topics, status=Presence.AWAY,
                                    now_ms=ms(deps.clock.now()))
    blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=5))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome, record.topic) == (
        CallState.ENDED, Outcome.TRANSFERRED, "*")
    assert not fakes(deps).router.known(call_sid=SID, org="SVB")


def test_the_own_organisation_is_refused() -> None:
    deps = make_deps()
    talking(deps)
    assert refused(deps, to="UWV").reason == Refusal.OWN_ORGANISATION


def test_an_organisation_not_connected_at_the_callers_counter_is_refused_by_name() -> None:
    deps = make_deps(directory=make_directory(organisations=(UWV, SVB, TSL)))
    talking(deps)
    refusal = refused(deps, to="TSL")
    assert refusal.reason == Refusal.NOT_CONNECTED
    assert refusal.message == "Dienst Toeslagen is niet aangesloten bij loket Amsterdam."
    assert refused(deps, to="NOPE").reason == Refusal.NOT_CONNECTED


def test_a_topic_the_other_organisation_does_not_have_is_refused() -> None:
    deps = make_deps()
    talking(deps)
    assert refused(deps, topic="ww").reason == Refusal.UNKNOWN_TOPIC


def test_a_closed_organisation_is_refused_with_its_next_opening() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).clock.set(datetime(2026, 11, 25, 17, 30, tzinfo=AMSTERDAM))
    refusal = refused(deps)
    assert refusal.reason == Refusal.CLOSED and refusal.offer_callback
    assert refusal.message == "SVB is nu gesloten; weer open morgen om 08:00."


def test_nobody_on_duty_is_refused_and_a_callback_offered() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).router.set_presence(liaison_id=SEM.id, org="SVB", topics=SEM.topics, status=Presence.OFFLINE,
                                    now_ms=ms(deps.clock.now()))
    refusal = refused(deps)
    assert refusal.reason == Refusal.NOBODY_ON_DUTY and refusal.offer_callback
    assert "niemand van SVB" in refusal.message and "teruggebeld" in refusal.message


def test_a_call_the_liaison_is_not_on_is_refused() -> None:
    deps = make_deps()
    talking(deps)
    assert refused(deps, liaison_id=EVA.id).reason == Refusal.NOT_YOUR_CALL
    with pytest.raises(TransferRefused) as unknown:
        blind_transfer(deps, liaison_id=JAN.id, call_sid="CA-unknown", to_organisation="SVB")
    assert unknown.value.reason == Refusal.NOT_YOUR_CALL


def test_after_the_caller_hung_up_it_is_refused() -> None:
    deps = make_deps()
    talking(deps)
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=4))
    refusal = refused(deps)
    assert refusal.reason == Refusal.CALLER_GONE and refusal.message == "De beller heeft al opgehangen."


def test_twice_at_once_transfers_once() -> None:
    deps = make_deps()
    talking(deps)
    blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    refusal = refused(deps)
    assert refusal.reason == Refusal.ALREADY_MOVING
    assert len(fakes(deps).calls.details(SID, EventKind.TRANSFERRED)) == 1
    assert [to for _sid, to in fakes(deps).telephony.redirects].count(Goto.to(Step.TRANSFERRED)) == 1


def test_a_caller_gone_at_the_redirect_ends_the_call_and_the_liaison_is_free() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).telephony.fail_with = LookupError("call gone")
    with pytest.raises(TransferRefused) as caught:
        blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    assert caught.value.reason == Refusal.CALLER_GONE
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=6))  # the hang-up's report
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.TRANSFERRED)
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert not fakes(deps).router.known(call_sid=SID, org="SVB")


def test_nobody_on_duty_there_a_callback_by_that_organisation_instead_and_the_call_goes_on() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).router.set_presence(liaison_id=SEM.id, org="SVB", topics=SEM.topics, status=Presence.OFFLINE,
                                    now_ms=ms(deps.clock.now()))
    message = callback_by_other(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB", to_topic="aow")
    assert message == "SVB belt Sanne terug op het vaste nummer, zodra er iemand is."
    [callback] = fakes(deps).callbacks.in_states(frozenset(CallbackState))
    assert (callback.organisation, callback.topic, callback.phone_number, callback.state) == (
        "SVB", "aow", SANNE_PHONE, CallbackState.SCHEDULED)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.organisation, record.liaison_id) == (
        CallState.CONNECTED, "UWV", JAN.id)
    assert fakes(deps).calls.details(SID, EventKind.CALLBACK_BY_OTHER) == [
        {"to_organisation": "SVB", "to_topic": "aow", "callback": callback.id, "liaison": JAN.id}]


def test_closed_there_the_callback_is_due_at_the_next_opening() -> None:
    deps = make_deps()
    talking(deps)
    fakes(deps).clock.set(datetime(2026, 11, 25, 17, 30, tzinfo=AMSTERDAM))
    message = callback_by_other(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    assert message == "SVB belt Sanne terug op het vaste nummer, morgen om 08:00."
    [callback] = fakes(deps).callbacks.in_states(frozenset(CallbackState))
    assert callback.state == CallbackState.REQUESTED and callback.due_at == datetime(2026, 11, 26, 8, 0,
                                                                                      tzinfo=AMSTERDAM)


def test_a_callback_instead_is_refused_when_the_organisation_can_take_the_call_or_for_another_liaison() -> None:
    deps = make_deps()
    talking(deps)
    with pytest.raises(TransferRefused) as open_now:
        callback_by_other(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    assert "verbind door" in open_now.value.message
    with pytest.raises(TransferRefused) as other:
        callback_by_other(deps, liaison_id=EVA.id, call_sid=SID, to_organisation="SVB")
    assert other.value.reason == Refusal.NOT_YOUR_CALL
    assert fakes(deps).callbacks.in_states(frozenset(CallbackState)) == []


def test_a_blind_transfer_cut_off_by_a_dying_process_is_finished_by_the_reconciler(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from callrouter.services.calls import reconcile as reconciler
    from callrouter.services.calls import transfer

    deps = make_deps()
    talking(deps)

    def dies(*args: object, **kwargs: object) -> None:
        raise SystemExit("the web process is killed here")

    monkeypatch.setattr(transfer, "release_after_conversation", dies)
    with pytest.raises(SystemExit):
        blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    monkeypatch.undo()
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.organisation) == (CallState.QUEUED, "SVB")
    router, telephony = fakes(deps).router, fakes(deps).telephony
    before = len(telephony.redirects)  # the routing's, to Jan
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY
    fakes(deps).clock.advance(reconciler.TRANSFER_REPAIR_AFTER_SECONDS - 1)
    reconciler.reconcile(deps, live_state_present=True)
    assert telephony.redirects[before:] == []  # the caller may still be on the way
    fakes(deps).clock.advance(2)
    reconciler.reconcile(deps, live_state_present=True)
    assert telephony.redirects[before:] == [(SID, Goto.to(Step.TRANSFERRED))]
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    flow.run(deps, Step.TRANSFERRED, StepInput(call_sid=SID))
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))  # the caller's hold loop: in SVB's line
    assert router.line("SVB") == [SID]
    reconciler.reconcile(deps, live_state_present=True)  # in a line now: not redirected again, but put through
    assert telephony.redirects[before:] == [(SID, Goto.to(Step.TRANSFERRED)),
                                            (SID, Goto.to(Step.CONNECT, liaison=SEM.id))]


def test_the_reconciler_leaves_a_finished_blind_transfer_alone() -> None:
    from callrouter.services.calls import reconcile as reconciler

    deps = make_deps()
    talking(deps)
    on_duty(deps, SEM, status=Presence.AWAY)  # nobody free at SVB: the caller waits there
    before = len(fakes(deps).telephony.redirects)
    blind_transfer(deps, liaison_id=JAN.id, call_sid=SID, to_organisation="SVB")
    flow.run(deps, Step.TRANSFERRED, StepInput(call_sid=SID))
    flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    fakes(deps).clock.advance(reconciler.TRANSFER_REPAIR_AFTER_SECONDS + 60)
    reconciler.reconcile(deps, live_state_present=True)
    assert fakes(deps).telephony.redirects[before:] == [(SID, Goto.to(Step.TRANSFERRED))]  # the transfer's own only
