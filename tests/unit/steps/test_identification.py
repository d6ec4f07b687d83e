"""steps/identification.py: which line, who calls (registered number, else code + PIN), lockouts, citizens."""

from __future__ import annotations

import logging

import pytest

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.privacy import pseudonym
from callrouter.domain.voice import Enqueue, Hangup, Say
from callrouter.services.calls import flow
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import identification
from tests.fakes import (
    CIT_LINE,
    CITIZEN_CALLER,
    EVA,
    JAN,
    PRO_LINE,
    PSEUDONYM_KEY,
    SANNE,
    SANNE_PHONE,
    SVB,
    UNKNOWN_CALLER,
    fakes,
    gather_of,
    make_deps,
    make_directory,
    on_duty,
    only,
    said,
    seed_call,
    verbs,
)

SID = "CA-ident"


def incoming(from_: str = SANNE_PHONE, to: str = PRO_LINE.number) -> StepInput:
    return StepInput(call_sid=SID, from_number=from_, to_number=to)


def pin_input(digits: str) -> StepInput:
    return StepInput(call_sid=SID, from_number=UNKNOWN_CALLER, digits=digits)


def test_a_registered_number_is_greeted_by_its_counter_and_asked_for_a_case_reference() -> None:
    deps = make_deps()
    reply = flow.run(deps, Step.INCOMING, incoming())
    gather = gather_of(reply)
    assert verbs(reply) == ["Gather"]
    assert gather.action == Goto.to(Step.CASE_REFERENCE) and gather.num_digits is None
    assert said(reply).startswith("Welkom bij de professionallijn, loket Amsterdam.")
    assert "Heeft u een eigen dossiernummer?" in said(reply) and "For English, press 9." in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None
    assert (record.state, record.caseworker_id, record.location, record.menu_step) == (
        CallState.MENU, SANNE.id, "AMS", "case_reference")
    assert record.caller_pseudonym == pseudonym(SANNE_PHONE, key=PSEUDONYM_KEY) and SANNE_PHONE not in record.caller_masked
    assert fakes(deps).calls.kinds(SID) == [EventKind.RECEIVED, EventKind.IDENTIFIED]
    assert fakes(deps).calls.details(SID, EventKind.IDENTIFIED) == [
        {"by": "number", "caseworker": SANNE.id, "location": "AMS"}]


def test_the_handler_hands_a_known_caller_on_to_the_case_reference_step_with_the_greeting() -> None:
    deps = make_deps()
    result = identification.incoming(deps, incoming())
    assert isinstance(result, Next)
    assert result.step == Step.CASE_REFERENCE and result.options == {"greeted": True}
    assert [say.text for say in result.lead] == ["Welkom bij de professionallijn, loket Amsterdam."]
    assert result.record is not None and result.record.state == CallState.MENU


def test_an_unknown_number_is_asked_for_code_and_pin_in_both_languages() -> None:
    deps = make_deps()
    reply = flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.PIN) and gather.finish_on_key == "#" and gather.num_digits is None
    assert [p.language for p in gather.prompts if isinstance(p, Say)] == ["nl", "en"]
    text = said(reply)
    assert text.startswith("Welkom bij de professionallijn.") and "medewerkerscode" in text and "staff code" in text
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.IDENTIFYING and record.caseworker_id is None
    assert fakes(deps).calls.kinds(SID) == [EventKind.RECEIVED]


def test_an_unknown_line_is_not_in_use_and_keeps_no_record() -> None:
    deps = make_deps()
    reply = flow.run(deps, Step.INCOMING, incoming(to="+31859999999"))
    assert verbs(reply) == ["Say", "Say", "Hangup"]
    assert "niet in gebruik" in said(reply) and "not in use" in said(reply)
    assert fakes(deps).calls.get(SID) is None


def test_a_locked_out_number_is_refused_with_the_general_public_number() -> None:
    deps = make_deps()
    caller = pseudonym(SANNE_PHONE, key=PSEUDONYM_KEY)
    for _ in range(3):  # the third wrong PIN from this number starts its wait
        deps.guard.record_wrong_pin(caller=caller, code=None, own_number=False, now=deps.clock.now())
    reply = flow.run(deps, Step.INCOMING, incoming())
    assert verbs(reply) == ["Say", "Hangup"]
    assert "geblokkeerd" in said(reply) and "1400" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.REFUSED)
    assert record.caseworker_id is None  # even a registered number is not identified while locked
    assert fakes(deps).calls.kinds(SID) == [EventKind.RECEIVED, EventKind.LOCKED_OUT]


def test_a_citizen_line_needs_no_identity_and_asks_its_topic_menu() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    reply = flow.run(deps, Step.INCOMING, incoming(from_=CITIZEN_CALLER, to=CIT_LINE.number))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.MENU, step="topic")
    text = said(reply)
    assert text.startswith("Welkom bij UWV. Waar gaat uw vraag over?")
    assert "Voor WW-uitkering, toets 1." in text and "Voor Ziektewet, toets 2." in text
    assert "medewerkerscode" not in text and "For English, press 9." in text
    record = fakes(deps).calls.get(SID)
    assert record is not None
    assert (record.state, record.organisation, record.menu_step, record.caseworker_id) == (
        CallState.MENU, "UWV", "topic", None)
    assert fakes(deps).calls.details(SID, EventKind.IDENTIFIED) == [{"as": "citizen"}]


def test_a_citizen_line_with_nobody_on_duty_says_so_and_ends() -> None:
    deps = make_deps()
    result = identification.incoming(deps, incoming(from_=CITIZEN_CALLER, to=CIT_LINE.number))
    assert isinstance(result, Next) and result.step == Step.OPENING and result.options == {"organisation": "UWV"}
    reply = flow.run(deps, result.step, result.input_after(incoming(from_=CITIZEN_CALLER, to=CIT_LINE.number)))
    assert verbs(reply)[-1] == "Hangup" and "Er is nu niemand aan het werk" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.NO_LIAISON)


def test_the_right_code_and_pin_identify_the_caseworker() -> None:
    deps = make_deps()
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    reply = flow.run(deps, Step.PIN, pin_input("1001*4321"))  # anything but digits is left out
    assert gather_of(reply).action == Goto.to(Step.CASE_REFERENCE)
    assert said(reply).startswith("Welkom bij de professionallijn, loket Amsterdam.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.caseworker_id, record.location) == (
        CallState.MENU, SANNE.id, "AMS")
    assert fakes(deps).calls.details(SID, EventKind.IDENTIFIED) == [
        {"by": "pin", "caseworker": SANNE.id, "location": "AMS"}]
    assert fakes(deps).pins.checked == [SANNE.pin_hash]


def test_a_wrong_pin_counts_a_try_and_a_failed_pin_but_records_no_digits() -> None:
    deps = make_deps()
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    reply = flow.run(deps, Step.PIN, pin_input("10019999"))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.PIN)
    assert said(reply).startswith("Die code klopt niet. Probeer het nog een keer.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.pin_tries) == (CallState.IDENTIFYING, 1)
    assert fakes(deps).calls.details(SID, EventKind.PIN_FAILED) == [{"try": 1, "length": 8}]
    assert fakes(deps).guard.wrong[("code", "1001")] == 1
    unknown_code = flow.run(deps, Step.PIN, pin_input("77774321"))
    assert gather_of(unknown_code).action == Goto.to(Step.PIN)
    # An unknown code counts like a known one (and is checked against a dummy hash), so codes cannot be told apart.
    assert fakes(deps).guard.wrong[("code", "7777")] == 1 and fakes(deps).pins.checked[-1] == "dummy"


def test_the_third_wrong_pin_refuses_the_call_and_counts_against_the_number() -> None:
    deps = make_deps()
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    for _ in range(2):
        assert verbs(flow.run(deps, Step.PIN, pin_input("1001"))) == ["Gather"]  # a code without a PIN
    reply = flow.run(deps, Step.PIN, pin_input(""))
    assert verbs(reply) == ["Say", "Hangup"]
    assert "We herkennen u niet" in said(reply) and "1400" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome, record.pin_tries) == (
        CallState.ENDED, Outcome.REFUSED, 3)
    assert fakes(deps).guard.wrong[("number", pseudonym(UNKNOWN_CALLER, key=PSEUDONYM_KEY))] == 3
    assert fakes(deps).calls.kinds(SID)[-1] == EventKind.REFUSED


def test_a_locked_code_refuses_even_the_right_pin() -> None:
    deps = make_deps()
    for other in range(3):  # others' guessing on the code starts its wait
        deps.guard.record_wrong_pin(caller=f"other-{other}", code="1001", own_number=False, now=deps.clock.now())
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    reply = flow.run(deps, Step.PIN, pin_input("10014321"))
    assert gather_of(reply).action == Goto.to(Step.PIN) and "Die code klopt niet" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.caseworker_id, record.pin_tries) == (
        CallState.IDENTIFYING, None, 1)
    assert fakes(deps).pins.checked == []  # not even checked


def test_a_late_pin_for_an_identified_call_resumes_at_its_question() -> None:
    deps = make_deps()
    flow.run(deps, Step.INCOMING, incoming())  # identified by number: now at the case-reference question
    stale = identification.pin(deps, pin_input("10014321"))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.state == CallState.MENU
    reply = flow.run(deps, Step.PIN, pin_input("10014321"))
    assert gather_of(reply).action == Goto.to(Step.CASE_REFERENCE)
    assert "Heeft u een eigen dossiernummer?" in said(reply) and "Welkom" not in said(reply)
    assert fakes(deps).calls.kinds(SID).count(EventKind.IDENTIFIED) == 1


def test_a_pin_for_an_unknown_or_ended_call_hangs_up() -> None:
    deps = make_deps()
    assert flow.run(deps, Step.PIN, pin_input("10014321")).actions == (Hangup(),)
    seed_call(deps, SID, state=CallState.ENDED)
    assert flow.run(deps, Step.PIN, pin_input("10014321")).actions == (Hangup(),)
    assert fakes(deps).calls.kinds(SID) == []


def test_a_repeated_incoming_webhook_goes_on_where_the_call_is() -> None:
    deps = make_deps()
    on_duty(deps, EVA)
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    again = flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))  # still identifying: asked again
    assert verbs(again) == ["Say", "Gather"] and gather_of(again).action == Goto.to(Step.PIN)
    assert fakes(deps).calls.kinds(SID) == [EventKind.RECEIVED]
    seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww")
    resumed = flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))  # queued: back on hold
    assert verbs(resumed) == ["Enqueue"] and only(resumed, Enqueue).queue == "callrouter-UWV"


def test_a_repeated_incoming_webhook_of_a_registered_number_greets_again_without_a_second_identification() -> None:
    deps = make_deps()
    flow.run(deps, Step.INCOMING, incoming())
    again = flow.run(deps, Step.INCOMING, incoming())
    assert gather_of(again).action == Goto.to(Step.CASE_REFERENCE)
    assert said(again).startswith("Welkom bij de professionallijn, loket Amsterdam.")
    assert fakes(deps).calls.kinds(SID) == [EventKind.RECEIVED, EventKind.IDENTIFIED]


def test_a_citizen_line_whose_organisation_is_unknown_is_not_in_use() -> None:
    deps = make_deps(directory=make_directory(organisations=(SVB,)))
    reply = flow.run(deps, Step.INCOMING, incoming(from_=CITIZEN_CALLER, to=CIT_LINE.number))
    assert verbs(reply) == ["Say", "Say", "Hangup"] and "niet in gebruik" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.IDENTIFYING  # the caller's hang-up report ends it


def test_lockouts_are_logged_as_security_events_with_the_masked_number(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="callrouter.security")
    deps = make_deps()
    for other in range(3):
        deps.guard.record_wrong_pin(caller=f"other-{other}", code="1001", own_number=False, now=deps.clock.now())
    flow.run(deps, Step.INCOMING, incoming(from_=UNKNOWN_CALLER))
    flow.run(deps, Step.PIN, pin_input("10014321"))
    refused = [r.getMessage() for r in caplog.records if r.name == "callrouter.security"]
    assert len(refused) == 1 and refused[0].startswith("security.pin_refused_while_waiting")
    assert UNKNOWN_CALLER not in refused[0] and "origin=" in refused[0]
    caller = pseudonym(SANNE_PHONE, key=PSEUDONYM_KEY)
    for _ in range(3):
        deps.guard.record_wrong_pin(caller=caller, code=None, own_number=False, now=deps.clock.now())
    flow.run(deps, Step.INCOMING, StepInput(call_sid="CA" + "e" * 32, from_number=SANNE_PHONE,
                                            to_number=PRO_LINE.number))
    assert any(r.getMessage().startswith("security.number_locked") and SANNE_PHONE not in r.getMessage()
               for r in caplog.records if r.name == "callrouter.security")
