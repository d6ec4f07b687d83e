"""Callbacks through the webhooks, with a fixed clock, on a real Redis (RQ) and both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from callrouter.domain.callbacks import CallbackState
from callrouter.services.callbacks import lifecycle as service
from callrouter.services.errors import Conflict, NotFound
from tests.integration.conftest import AMSTERDAM, App
from tests.integration.test_voice_webhooks import call_params, new_sid, said, twiml, verbs

SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=AMSTERDAM)
MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=AMSTERDAM)
SANNE = "+31612345601"


def lid(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


def closed_call(app: App, *, caller: str = SANNE) -> str:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=caller)))
    offer = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, from_=caller, Digits="1")))
    assert "Zullen we u dan terugbellen" in said(offer)
    return sid


def dialogue(app: App, sid: str, step: str, caller: str = SANNE, **form: str):  # type: ignore[no-untyped-def]
    return twiml(app.post(f"/twilio/voice/callback/dialogue?step={step}", call_params(sid, from_=caller, **form)))


def only_callback(app: App, sid: str):  # type: ignore[no-untyped-def]
    [callback] = [c for c in app.container.voice.callbacks.in_states(frozenset(CallbackState)) if c.call_sid == sid]
    return callback


def test_closed_the_caller_is_called_back_at_the_next_opening(app_factory, redis) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    sid = closed_call(app)
    number_question = dialogue(app, sid, "closed", Digits="1")
    assert "Bellen we u terug op het nummer waarmee u nu belt" in said(number_question)
    callback = only_callback(app, sid)
    assert callback.state == CallbackState.REQUESTED and callback.due_at == MONDAY_8
    assert callback.phone_number == SANNE and callback.organisation == "UWV"
    record_step = dialogue(app, sid, f"number&cb={callback.id}", Digits="1")
    assert verbs(record_step) == ["Say", "Record", "Redirect"]
    done = dialogue(app, sid, f"recorded&cb={callback.id}", RecordingUrl="https://rec.example/RE1")
    assert "We bellen u terug op maandag 30 november om 08:00" in said(done) and verbs(done)[-1] == "Hangup"
    assert only_callback(app, sid).voice_message_url == "https://rec.example/RE1"
    assert app.container.voice.calls.get(sid).outcome == "callback_requested"  # type: ignore[union-attr]
    # RQ's scheduler holds the job that makes it due at the opening.
    registry = ScheduledJobRegistry("callrouter", connection=redis)
    [job_id] = registry.get_job_ids()
    assert registry.get_scheduled_time(job_id) == MONDAY_8.astimezone(registry.get_scheduled_time(job_id).tzinfo)
    job = Queue("callrouter", connection=redis).fetch_job(job_id)
    assert job is not None and job.func_name == "workers.jobs.make_callback_due" and job.args == (callback.id,)

    # At the opening: due, in line, claimed for the liaison on duty, dialled agent-first, once.
    app.clock.moment = MONDAY_8
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "available"})
    assert service.make_due(app.container.voice, callback_id=callback.id)
    queued = Queue("callrouter", connection=redis).get_jobs()
    [attempt_job] = [j for j in queued if j.func_name == "workers.jobs.start_callback_attempt"]
    assert attempt_job.args == (callback.id, lid(app, "uwv-jan"))
    deps = app.container.voice
    assert service.start_attempt(deps, callback_id=callback.id, liaison_id=lid(app, "uwv-jan")) is True
    assert service.start_attempt(deps, callback_id=callback.id, liaison_id=lid(app, "uwv-jan")) is False
    assert [c["to"] for c in app.telephony.created] == ["client:uwv-jan"]
    dialling = only_callback(app, sid)
    assert dialling.state == CallbackState.DIALLING and dialling.attempts == 1

    leg = new_sid()
    intro = twiml(app.post(f"/twilio/voice/callback/liaison?cb={callback.id}&a=1", call_params(leg, to="client:uwv-jan")))
    assert "Terugbelverzoek. Loket Amsterdam. UWV, een algemene vraag." in said(intro)
    assert intro.find("Gather/Play") is not None
    dial = twiml(app.post(f"/twilio/voice/callback/liaison-choice?cb={callback.id}&a=1", call_params(leg, Digits="1")))
    number = dial.find("Dial/Number")
    assert number is not None and number.text == SANNE
    twiml(app.post(f"/twilio/voice/callback/dialled?cb={callback.id}&a=1",
                   call_params(leg, DialCallStatus="completed", DialCallDuration="60")))
    assert only_callback(app, sid).state == CallbackState.COMPLETED
    moves = [(e.from_state, e.to_state) for e in deps.callbacks.events(callback.id)]
    assert (CallbackState.DIALLING, CallbackState.COMPLETED) in moves


def test_the_caller_can_choose_another_slot(app_factory) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    sid = closed_call(app)
    menu = dialogue(app, sid, "closed", Digits="2")
    assert "Wanneer mogen we u bellen?" in said(menu)
    assert "Voor maandag 30 november om 08:00, toets 1." in said(menu)
    assert "Voor maandag 30 november om 10:00, toets 2." in said(menu)
    assert "Voor dinsdag 1 december om 08:00, toets 3." in said(menu)
    dialogue(app, sid, "slot", Digits="2")
    assert only_callback(app, sid).due_at == MONDAY_8 + timedelta(hours=2)


def test_a_second_request_joins_the_first(app_factory) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    first = closed_call(app)
    dialogue(app, first, "closed", Digits="1")
    second = closed_call(app)
    joined = dialogue(app, second, "closed", Digits="1")
    assert "U vroeg al om teruggebeld te worden" in said(joined) and verbs(joined)[-1] == "Hangup"
    open_ones = [c for c in app.container.voice.callbacks.in_states(frozenset(CallbackState)) if c.is_open]
    assert len(open_ones) == 1


@pytest.mark.parametrize(("keyed", "stored"), [("0201234567", "+31201234567"), ("0049301234567", "+49301234567")])
def test_a_keyed_in_number_is_checked(app_factory, keyed: str, stored: str) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    sid = closed_call(app)
    dialogue(app, sid, "closed", Digits="1")
    callback = only_callback(app, sid)
    ask = dialogue(app, sid, f"number&cb={callback.id}", Digits="2")
    assert "Toets het nummer" in said(ask)
    wrong = dialogue(app, sid, f"enter&cb={callback.id}", Digits="12345")
    assert "Dat nummer klopt niet" in said(wrong)
    assert only_callback(app, sid).phone_number == SANNE
    dialogue(app, sid, f"enter&cb={callback.id}", Digits=keyed)
    assert only_callback(app, sid).phone_number == stored


def test_console_actions_respect_the_organisation_and_the_state(app_factory) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    sid = closed_call(app)
    dialogue(app, sid, "closed", Digits="1")
    callback = only_callback(app, sid)
    deps = app.container.voice
    with pytest.raises(NotFound):
        service.close(deps, callback_id=callback.id, to=CallbackState.CANCELLED, cause="x", organisation="DUO")
    with pytest.raises(NotFound):
        service.close(deps, callback_id=999999, to=CallbackState.CANCELLED, cause="x", organisation="UWV")
    cancelled = service.close(deps, callback_id=callback.id, to=CallbackState.CANCELLED,
                              cause="cancelled: solved by e-mail", organisation="UWV")
    assert cancelled.state == CallbackState.CANCELLED
    with pytest.raises(Conflict):
        service.close(deps, callback_id=callback.id, to=CallbackState.COMPLETED, cause="x", organisation="UWV")
    assert only_callback(app, sid).state == CallbackState.CANCELLED


def test_a_long_wait_that_ends_in_a_hang_up_gets_a_callback_when_set(app_factory) -> None:  # noqa: ANN001
    app = app_factory(auto_callback_after_abandon_seconds=60)
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "away"})
    short, long_wait = new_sid(), new_sid()
    for sid in (short, long_wait):
        twiml(app.post("/twilio/voice/incoming", call_params(sid)))
        twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
        twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    app.clock.moment += timedelta(seconds=30)
    twiml(app.post("/twilio/voice/status", call_params(short, CallStatus="completed")))
    app.clock.moment += timedelta(seconds=60)
    twiml(app.post("/twilio/voice/status", call_params(long_wait, CallStatus="completed")))
    made = [c for c in app.container.voice.callbacks.in_states(frozenset(CallbackState))]
    assert [(c.call_sid, c.origin.value, c.phone_number) for c in made] == [(long_wait, "abandoned", SANNE)]
    assert made[0].state == CallbackState.SCHEDULED


def test_without_the_setting_a_hang_up_is_only_an_abandoned_call(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "away"})
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    app.clock.moment += timedelta(minutes=10)
    twiml(app.post("/twilio/voice/status", call_params(sid, CallStatus="completed")))
    assert app.container.voice.callbacks.in_states(frozenset(CallbackState)) == []
    assert app.container.voice.calls.get(sid).outcome == "abandoned_in_queue"  # type: ignore[union-attr]


def test_a_wrong_key_in_the_offer_or_the_slot_menu_is_asked_again(app_factory) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    sid = closed_call(app)
    again = dialogue(app, sid, "closed", Digits="7")
    assert "Die toets kennen we hier niet" in said(again) and "Zullen we u dan terugbellen" in said(again)
    menu = dialogue(app, sid, "closed", Digits="2")
    wrong_slot = dialogue(app, sid, "slot", Digits="9")
    assert "Die toets kennen we hier niet" in said(wrong_slot) and "Wanneer mogen we u bellen" in said(wrong_slot)
    assert "Wanneer mogen we u bellen" in said(menu)
    dialogue(app, sid, "slot", Digits="1")
    assert only_callback(app, sid).due_at == MONDAY_8


def test_a_callback_counts_in_the_positions_later_callers_hear(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "away"})
    first = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(first)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(first, Digits="1")))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(first, Digits="1")))
    leave = twiml(app.post("/twilio/voice/callback/offer", call_params(first, Digits="1")))
    assert verbs(leave) == ["Leave"]
    callback = only_callback(app, first)
    app.clock.moment += timedelta(seconds=5)
    later = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(later, from_="+31612345602")))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(later, from_="+31612345602", Digits="1")))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(later, from_="+31612345602", Digits="1")))
    # Twilio starts the hold loop once the acknowledgement is said: the call joins the router's line then.
    twiml(app.post("/twilio/voice/wait", call_params(later, from_="+31612345602", QueueTime="0")))
    place = app.container.router.position(call_sid=later, org="UWV")
    assert place is not None and place.position == 2  # the callback, with the first caller's place, is ahead
    assert app.container.router.position(call_sid=f"cb:{callback.id}", org="UWV").position == 1  # type: ignore[union-attr]
    # The first caller left Twilio's queue for the callback dialogue: it is no longer a waiting call.
    assert app.container.router.position(call_sid=first, org="UWV") is None


def test_an_open_callback_expires_and_leaves_the_line(app_factory) -> None:  # noqa: ANN001
    from callrouter.services.calls.reconcile import reconcile

    app = app_factory(callback_expiry_hours=1)
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    dialogue(app, sid, "nobody", Digits="1")
    callback = only_callback(app, sid)
    assert app.container.router.position(call_sid=f"cb:{callback.id}", org="UWV") is not None
    app.clock.moment += timedelta(hours=2)
    reconcile(app.container.voice, live_state_present=True)
    assert only_callback(app, sid).state == CallbackState.EXPIRED
    assert app.container.router.position(call_sid=f"cb:{callback.id}", org="UWV") is None


def test_the_liaison_can_postpone_a_callback_with_key_2(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    dialogue(app, sid, "nobody", Digits="1")
    callback = only_callback(app, sid)
    jan = lid(app, "uwv-jan")
    app.api("PUT", f"/api/liaisons/{jan}/presence", json={"status": "available"})
    assert service.start_attempt(app.container.voice, callback_id=callback.id, liaison_id=jan)
    leg = new_sid()
    said_back = twiml(app.post(f"/twilio/voice/callback/liaison-choice?cb={callback.id}&a=1", call_params(leg, Digits="2")))
    assert "uitgesteld" in said(said_back)
    later = only_callback(app, sid)
    assert later.state == CallbackState.REQUESTED and later.due_at > app.clock.now()
    assert app.api("GET", f"/api/liaisons/{jan}/presence").json()["status"] == "available"
