"""steps/case_reference.py: the optional case reference after identification, and grouping the call into a case."""

from __future__ import annotations

import dataclasses
from typing import Any

from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallState, EventKind
from callrouter.domain.cases import reference_pseudonym
from callrouter.domain.voice import Hangup, Say
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import case_reference
from tests.fakes import (
    PSEUDONYM_KEY,
    SANNE,
    SANNE_PHONE,
    FakeCases,
    fakes,
    gather_of,
    make_deps,
    real_flows,
    said,
    seed_call,
)

SID = "CA-case"
BSN = "123456782"  # passes the eleven-test: a citizen service number


def identified(cases: FakeCases | None = None, **overrides: Any) -> CallDeps:
    """A registered caseworker called: the call waits at the case-reference question."""
    deps = make_deps(cases=cases, **overrides)
    flow.run(deps, Step.INCOMING, StepInput(call_sid=SID, from_number=SANNE_PHONE, to_number="+31850001000"))
    return deps


def entered(digits: str | None) -> StepInput:
    return StepInput(call_sid=SID, digits=digits)


def test_the_first_question_has_a_short_timeout_and_the_language_offer() -> None:
    deps = make_deps()
    record = seed_call(deps, SID, state=CallState.MENU, menu_step=ivr.CASE_REFERENCE_STEP)
    reply = case_reference.case_reference(deps, StepInput(call_sid=SID, record=record, options=(("greeted", True),)))
    assert not isinstance(reply, Next | Stale)
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.CASE_REFERENCE)
    assert (gather.timeout, gather.num_digits, gather.finish_on_key) == (ivr.CASE_REFERENCE_TIMEOUT, None, "#")
    assert [p.language for p in gather.prompts if isinstance(p, Say)] == ["nl", "en"] and "For English, press 9." in said(reply)


def test_a_line_without_the_question_goes_straight_to_the_organisation_menu() -> None:
    flows = {kind: dataclasses.replace(f, case_reference=False) for kind, f in real_flows().items()}
    cases = FakeCases()
    deps = identified(cases, flows=flows)
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.menu_step == "organisation"
    assert cases.attached == [(SID, SANNE.id, "AMS", None)]
    reply = flow.run(deps, Step.CASE_REFERENCE, StepInput(call_sid=SID, record=record, options=(("greeted", True),)))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    assert said(reply).startswith("Met welke organisatie wilt u spreken?")


def test_no_reference_goes_on_to_the_organisation_menu_and_a_case_without_reference() -> None:
    cases = FakeCases()
    deps = identified(cases)
    reply = flow.run(deps, Step.CASE_REFERENCE, entered(""))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.MENU, step="organisation")
    assert "Voor UWV, toets 1." in said(reply) and "Voor SVB, toets 2." in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.menu_step, record.menu_tries) == (
        CallState.MENU, "organisation", 0)
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [{"step": "case_reference", "choice": "none"}]
    assert cases.attached == [(SID, SANNE.id, "AMS", None)]


def test_a_valid_reference_is_kept_only_as_a_keyed_pseudonym() -> None:
    cases = FakeCases()
    deps = identified(cases)
    result = case_reference.case_reference(deps, entered("12345"))
    assert isinstance(result, Next) and result.step == Step.MENU and result.options == {"first_menu": True}
    expected = reference_pseudonym(caseworker_id=SANNE.id, reference="12345", key=PSEUDONYM_KEY)
    assert cases.attached == [(SID, SANNE.id, "AMS", expected)]
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [
        {"step": "case_reference", "choice": "reference"}]
    assert all("12345" not in str(event.detail) for event in fakes(deps).calls.events(SID))


def test_a_citizen_service_number_is_refused_and_asked_again() -> None:
    cases = FakeCases()
    deps = identified(cases)
    reply = flow.run(deps, Step.CASE_REFERENCE, entered(BSN))
    assert gather_of(reply).action == Goto.to(Step.CASE_REFERENCE)
    assert said(reply).startswith("Dat lijkt op een BSN") and "Heeft u een eigen dossiernummer?" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.menu_step, record.menu_tries) == (ivr.CASE_REFERENCE_STEP, 1)
    assert fakes(deps).calls.details(SID, EventKind.MENU_INVALID) == [
        {"step": "case_reference", "reason": "citizen_number", "try": 1}]
    assert cases.attached == [] and all(BSN not in str(e.detail) for e in fakes(deps).calls.events(SID))


def test_two_wrong_references_go_on_without_one() -> None:
    cases = FakeCases()
    deps = identified(cases)
    first = flow.run(deps, Step.CASE_REFERENCE, entered("1"))
    assert said(first).startswith("Dat nummer klopt niet. Een dossiernummer heeft 2 tot 12 cijfers.")
    reply = flow.run(deps, Step.CASE_REFERENCE, entered("1234567890123"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    text = said(reply)
    assert text.index("Dat nummer klopt niet") < text.index("We gaan verder zonder dossiernummer.") < text.index(
        "Met welke organisatie")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.menu_step, record.menu_tries) == ("organisation", 0)
    assert fakes(deps).calls.kinds(SID)[-3:] == [EventKind.MENU_INVALID, EventKind.MENU_INVALID, EventKind.MENU_CHOICE]
    assert cases.attached == [(SID, SANNE.id, "AMS", None)]


def test_nine_switches_the_question_to_english() -> None:
    deps = identified()
    reply = flow.run(deps, Step.CASE_REFERENCE, entered("9"))
    assert gather_of(reply).action == Goto.to(Step.CASE_REFERENCE)
    assert said(reply) == ("Do you have your own case number? Enter it, then press hash. No number? Press hash.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.language, record.menu_tries) == ("en", 0)
    assert fakes(deps).calls.details(SID, EventKind.LANGUAGE) == [{"language": "en"}]


def test_a_failing_case_store_costs_the_caller_nothing() -> None:
    deps = identified(FakeCases(fail_with=RuntimeError("database busy")))
    reply = flow.run(deps, Step.CASE_REFERENCE, entered("12345"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")


def test_a_resumed_question_is_asked_again_without_the_language_offer() -> None:
    deps = identified()
    reply = case_reference.case_reference(deps, StepInput(call_sid=SID, resume=True))
    assert not isinstance(reply, Next | Stale)
    assert said(reply) == ("Heeft u een eigen dossiernummer? Toets het nummer en dan hekje. Geen nummer? Toets hekje.")
    assert fakes(deps).calls.kinds(SID).count(EventKind.MENU_CHOICE) == 0


def test_a_late_answer_for_a_call_past_the_question_resumes_its_menu() -> None:
    deps = identified()
    flow.run(deps, Step.CASE_REFERENCE, entered(""))
    stale = case_reference.case_reference(deps, entered("12345"))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.menu_step == "organisation"
    reply = flow.run(deps, Step.CASE_REFERENCE, entered("12345"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    assert fakes(deps).calls.kinds(SID).count(EventKind.MENU_CHOICE) == 1


def test_an_answer_for_an_unknown_or_ended_call_hangs_up() -> None:
    deps = make_deps()
    assert flow.run(deps, Step.CASE_REFERENCE, entered("12345")).actions == (Hangup(),)
    seed_call(deps, SID, state=CallState.ENDED, menu_step=ivr.CASE_REFERENCE_STEP)
    assert flow.run(deps, Step.CASE_REFERENCE, entered("12345")).actions == (Hangup(),)
    assert fakes(deps).calls.kinds(SID) == []
