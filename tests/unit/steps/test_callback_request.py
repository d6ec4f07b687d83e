"""steps/callback_request.py: asking for a callback while waiting, when closed, when nobody is on duty; the slot,
the number and the voice message."""

from __future__ import annotations

from datetime import datetime, timedelta

from callrouter.domain.call_flow import Goto, QueueExit, Step
from callrouter.domain.callbacks import Callback, CallbackOrigin, CallbackState
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.voice import Enqueue, Hangup, Leave, Record, Redirect, VoiceReply
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Stale, StepInput
from callrouter.services.calls.steps import callback_request
from tests.fakes import (
    AMSTERDAM,
    CIT_LINE,
    CITIZEN_CALLER,
    SANNE_PHONE,
    FakeClock,
    fakes,
    gather_of,
    make_deps,
    ms,
    said,
    seed_call,
    verbs,
)

SID = "CA-cb"
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=AMSTERDAM)
MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=AMSTERDAM)


def in_line(deps: CallDeps, sid: str = SID, *, waited: float = 50) -> None:
    since = deps.clock.now() - timedelta(seconds=waited)
    seed_call(deps, sid, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=since, received_at=since)
    flow.run(deps, Step.WAIT, StepInput(call_sid=sid))


def turned_away(deps: CallDeps) -> None:
    """The caller chose UWV; it is closed or nobody is on duty: the call hears the callback offer."""
    seed_call(deps, SID, state=CallState.MENU, menu_step="organisation")
    flow.run(deps, Step.OPENING, StepInput(call_sid=SID, options=(("organisation", "UWV"),)))
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.CALLBACK


def part(name: str, digits: str | None = None, callback_id: int | None = None, **more: str) -> StepInput:
    return StepInput(call_sid=SID, from_number=SANNE_PHONE, choice=name, digits=digits, callback_id=callback_id,
                     recording_url=more.get("recording_url"))


def the_callback(deps: CallDeps) -> Callback:
    [callback] = fakes(deps).callbacks.callbacks.values()
    return callback


def test_key_one_while_waiting_hands_the_place_in_line_to_a_callback() -> None:
    deps = make_deps()
    in_line(deps, waited=50)
    reply = flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid=SID, digits="1", from_number=SANNE_PHONE))
    assert reply == VoiceReply.of(Leave())
    callback = the_callback(deps)
    assert (callback.state, callback.origin, callback.phone_number, callback.organisation, callback.topic) == (
        CallbackState.SCHEDULED, CallbackOrigin.IN_QUEUE, SANNE_PHONE, "UWV", "ww")
    router = fakes(deps).router
    assert router.line("UWV") == [f"cb:{callback.id}"] and not router.known(call_sid=SID, org="UWV")
    assert router.enqueued_at(call_sid=f"cb:{callback.id}", org="UWV") == ms(callback.place_at)
    assert callback.place_at == deps.clock.now() - timedelta(seconds=50)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.CALLBACK, Outcome.CALLBACK_REQUESTED)
    assert fakes(deps).calls.details(SID, EventKind.CALLBACK_REQUESTED) == [{"callback": callback.id, "joined": False}]
    assert fakes(deps).after.orgs[-1] == "UWV"


def test_any_other_key_or_a_line_without_callbacks_keeps_holding() -> None:
    deps = make_deps()
    in_line(deps)
    assert callback_request.accept_in_queue(deps, StepInput(call_sid=SID, digits="5")) == VoiceReply()
    seed_call(deps, "CA-cit", state=CallState.QUEUED, line=CIT_LINE, organisation="UWV", topic="ww")
    assert flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid="CA-cit", digits="1",
                                                         from_number=CITIZEN_CALLER)) == VoiceReply()
    assert fakes(deps).callbacks.callbacks == {}
    assert fakes(deps).calls.get(SID).state == CallState.QUEUED  # type: ignore[union-attr]


def test_after_leaving_the_line_the_caller_confirms_the_number_and_leaves_a_message() -> None:
    deps = make_deps()
    in_line(deps)
    flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid=SID, digits="1", from_number=SANNE_PHONE))
    cb = the_callback(deps).id
    question = flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid=SID, queue_exit=QueueExit.LEFT))
    assert gather_of(question).action == Goto.to(Step.CALLBACK_DIALOGUE, step="number", cb=cb)
    assert said(question).startswith("Bellen we u terug op het nummer waarmee u nu belt? Toets 1.")
    recording = flow.run(deps, Step.CALLBACK_DIALOGUE, part("number", "1", cb))
    after = Goto.to(Step.CALLBACK_DIALOGUE, step="recorded", cb=cb)
    assert verbs(recording) == ["Say", "Record", "Redirect"]
    assert recording.actions[1:] == (Record(action=after, max_length=30, timeout=5, finish_on_key="#"), Redirect(after))
    done = flow.run(deps, Step.CALLBACK_DIALOGUE, part("recorded", None, cb, recording_url="https://rec/1"))
    assert verbs(done) == ["Say", "Hangup"]
    assert said(done) == "Dank u. We bellen u terug. U houdt uw plek in de rij. Tot ziens."
    assert the_callback(deps).voice_message_url == "https://rec/1"
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CALLBACK_REQUESTED)
    assert fakes(deps).calls.details(SID, EventKind.COMPLETED) == [{"callback": "arranged"}]


def test_another_number_is_keyed_in_and_checked() -> None:
    deps = make_deps()
    in_line(deps)
    flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid=SID, digits="1", from_number=SANNE_PHONE))
    cb = the_callback(deps).id
    enter = flow.run(deps, Step.CALLBACK_DIALOGUE, part("number", "2", cb))
    gather = gather_of(enter)
    assert verbs(enter) == ["Gather"] and gather.action == Goto.to(Step.CALLBACK_DIALOGUE, step="enter", cb=cb)
    assert (gather.timeout, gather.num_digits, gather.finish_on_key) == (10, None, "#")
    assert said(enter) == "Toets het nummer waarop we u kunnen bellen. Sluit af met een hekje."
    wrong = flow.run(deps, Step.CALLBACK_DIALOGUE, part("enter", "123", cb))
    assert said(wrong).startswith("Dat nummer klopt niet. Probeer het nog een keer. Bellen we u terug")
    assert the_callback(deps).phone_number == SANNE_PHONE
    ok = flow.run(deps, Step.CALLBACK_DIALOGUE, part("enter", "0612345678", cb))
    assert verbs(ok) == ["Say", "Record", "Redirect"]
    assert the_callback(deps).phone_number == "+31612345678"
    flow.run(deps, Step.CALLBACK_DIALOGUE, part("enter", "0032470123456#", cb))  # abroad, with 00
    assert the_callback(deps).phone_number == "+32470123456"
    assert the_callback(deps).state == CallbackState.SCHEDULED


def test_a_second_request_joins_the_open_callback() -> None:
    deps = make_deps()
    in_line(deps, "CA-first")
    flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid="CA-first", digits="1", from_number=SANNE_PHONE))
    in_line(deps)
    flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid=SID, digits="1", from_number=SANNE_PHONE))
    callback = the_callback(deps)  # still one
    assert fakes(deps).calls.details(SID, EventKind.CALLBACK_REQUESTED) == [{"callback": callback.id, "joined": True}]
    assert fakes(deps).router.line("UWV") == [f"cb:{callback.id}"]
    reply = flow.run(deps, Step.QUEUE_EXIT, StepInput(call_sid=SID, queue_exit=QueueExit.LEFT))
    assert verbs(reply) == ["Say", "Hangup"] and said(reply).startswith("U vroeg al om teruggebeld te worden.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CALLBACK_REQUESTED)


def test_closed_key_one_asks_a_callback_at_the_next_opening() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    turned_away(deps)
    reply = flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "1"))
    callback = the_callback(deps)
    assert (callback.state, callback.origin, callback.due_at) == (CallbackState.REQUESTED, CallbackOrigin.CLOSED,
                                                                  MONDAY_8)
    assert fakes(deps).jobs.due == [(callback.id, MONDAY_8)] and fakes(deps).router.line("UWV") == []
    assert gather_of(reply).action == Goto.to(Step.CALLBACK_DIALOGUE, step="number", cb=callback.id)
    flow.run(deps, Step.CALLBACK_DIALOGUE, part("number", "1", callback.id))
    done = flow.run(deps, Step.CALLBACK_DIALOGUE, part("recorded", None, callback.id))
    assert said(done) == "Dank u. We bellen u terug op maandag 30 november om 08:00. Tot ziens."
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CALLBACK_REQUESTED)


def test_closed_key_two_offers_three_moments() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    turned_away(deps)
    menu = flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "2"))
    assert gather_of(menu).action == Goto.to(Step.CALLBACK_DIALOGUE, step="slot")
    assert said(menu) == ("Wanneer mogen we u bellen? Voor maandag 30 november om 08:00, toets 1. "
                          "Voor maandag 30 november om 10:00, toets 2. Voor dinsdag 1 december om 08:00, toets 3.")
    wrong = flow.run(deps, Step.CALLBACK_DIALOGUE, part("slot", "5"))
    assert said(wrong).startswith("Die toets kennen we hier niet. Wanneer mogen we u bellen?")
    flow.run(deps, Step.CALLBACK_DIALOGUE, part("slot", "2"))
    assert the_callback(deps).due_at == MONDAY_8 + timedelta(hours=2)


def test_silence_in_the_slot_menu_ends_the_call_without_a_callback() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    turned_away(deps)
    flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "2"))
    assert flow.run(deps, Step.CALLBACK_DIALOGUE, part("slot", "")).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CLOSED)
    assert fakes(deps).callbacks.callbacks == {}


def test_a_caller_who_already_has_an_open_callback_hears_that_it_stands() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    turned_away(deps)
    flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "1"))
    first = the_callback(deps)
    seed_call(deps, SID, state=CallState.MENU, menu_step="organisation")  # she calls again, as a new call would
    flow.run(deps, Step.OPENING, StepInput(call_sid=SID, options=(("organisation", "UWV"),)))
    reply = flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "1"))
    assert verbs(reply) == ["Say", "Hangup"]
    assert said(reply) == "U vroeg al om teruggebeld te worden. Die vraag blijft staan. Tot ziens."
    assert the_callback(deps) == first and fakes(deps).jobs.due == [(first.id, MONDAY_8)]
    assert fakes(deps).calls.details(SID, EventKind.CALLBACK_REQUESTED)[-1] == {"callback": first.id, "joined": True}


def test_silence_to_the_offer_ends_the_call_as_it_would_have() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    turned_away(deps)
    assert flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "")).actions == (Hangup(),)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CLOSED)
    assert fakes(deps).calls.details(SID, EventKind.COMPLETED) == [{"callback": "declined"}]
    assert fakes(deps).callbacks.callbacks == {}


def test_wrong_keys_are_asked_again_until_the_tries_are_used_up() -> None:
    deps = make_deps()
    turned_away(deps)  # nobody on duty
    for _ in range(2):
        again = flow.run(deps, Step.CALLBACK_DIALOGUE, part("nobody", "2"))  # 2 is for the closed offer only
        assert gather_of(again).action == Goto.to(Step.CALLBACK_DIALOGUE, step="nobody")
        assert said(again).startswith("Die toets kennen we hier niet. Zullen we u terugbellen zodra er iemand is?")
    assert flow.run(deps, Step.CALLBACK_DIALOGUE, part("nobody", "7")).actions == (Hangup(),)
    assert [d["try"] for d in fakes(deps).calls.details(SID, EventKind.MENU_INVALID)] == [1, 2, 3]
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.NO_LIAISON)


def test_nobody_on_duty_key_one_waits_in_line_for_the_first_liaison() -> None:
    deps = make_deps()
    turned_away(deps)
    reply = flow.run(deps, Step.CALLBACK_DIALOGUE, part("nobody", "1"))
    callback = the_callback(deps)
    assert (callback.state, callback.origin, callback.place_at) == (
        CallbackState.SCHEDULED, CallbackOrigin.NO_LIAISON, deps.clock.now())
    assert fakes(deps).router.line("UWV") == [f"cb:{callback.id}"] and fakes(deps).after.orgs == ["UWV"]
    assert gather_of(reply).action == Goto.to(Step.CALLBACK_DIALOGUE, step="number", cb=callback.id)
    assert fakes(deps).calls.details(SID, EventKind.CALLBACK_REQUESTED) == [{"callback": callback.id, "joined": False}]


def test_a_dialogue_request_that_does_not_fit_the_call() -> None:
    deps = make_deps()
    in_line(deps)
    stale = callback_request.dialogue(deps, part("closed", "1"))
    assert isinstance(stale, Stale)
    reply = flow.run(deps, Step.CALLBACK_DIALOGUE, part("closed", "1"))  # queued: back on hold
    assert verbs(reply) == ["Enqueue"] and isinstance(reply.actions[0], Enqueue)
    assert fakes(deps).callbacks.callbacks == {}
    turned_away_deps = make_deps()
    turned_away(turned_away_deps)
    # a number step without (or with another call's) callback: a call arranging a callback resumes nowhere
    assert flow.run(turned_away_deps, Step.CALLBACK_DIALOGUE, part("number", "1", 42)).actions == (Hangup(),)
    assert flow.run(turned_away_deps, Step.CALLBACK_DIALOGUE, part("bogus", "1")).actions == (Hangup(),)
    record = fakes(turned_away_deps).calls.get(SID)
    assert record is not None and record.state == CallState.CALLBACK  # nothing changed
    seed_call(deps, SID, state=CallState.ENDED)
    assert flow.run(deps, Step.CALLBACK_DIALOGUE, part("recorded", None, 1)).actions == (Hangup(),)
