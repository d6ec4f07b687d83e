"""steps/menus.py: the organisation and topic menus; keys, more, repeat, language, 0, tries on silence."""

from __future__ import annotations

from typing import Any

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.directory import Location, Organisation
from callrouter.domain.voice import Enqueue, Hangup
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import menus
from tests.fakes import (
    EVA,
    SEM,
    SVB,
    UWV,
    WORKING_HOURS,
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

SID = "CA-menu"


def at_organisation_menu(deps: CallDeps, **fields: Any) -> None:
    seed_call(deps, SID, state=CallState.MENU, menu_step="organisation", **fields)


def at_topic_menu(deps: CallDeps, **fields: Any) -> None:
    seed_call(deps, SID, state=CallState.MENU, menu_step="topic", organisation="UWV", **fields)


def key(digits: str, step: str) -> StepInput:
    return StepInput(call_sid=SID, digits=digits, choice=step)


def test_the_first_menu_lists_the_counters_organisations_and_english() -> None:
    deps = make_deps()
    at_organisation_menu(deps)
    reply = flow.run(deps, Step.MENU, StepInput(call_sid=SID, options=(("first_menu", True),)))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.MENU, step="organisation") and gather.num_digits == 1
    assert gather.timeout == 8 and gather.action_on_empty_result
    assert [getattr(p, "text", "") for p in gather.prompts] == [
        "Met welke organisatie wilt u spreken?", "Voor UWV, toets 1.", "Voor SVB, toets 2.",
        "Voor een medewerker, toets 0.", "For English, press 9."]


def test_a_counter_with_one_organisation_skips_the_menu() -> None:
    deps = make_deps()
    at_organisation_menu(deps, location="UTR", caseworker_id=2)
    result = menus.menu(deps, StepInput(call_sid=SID, options=(("first_menu", True),)))
    assert isinstance(result, Next) and result.step == Step.OPENING
    assert result.options == {"organisation": "UWV", "by_service": True}


def test_an_organisation_key_opens_that_organisation_and_its_topic_menu() -> None:
    deps = make_deps()
    on_duty(deps, EVA)
    at_organisation_menu(deps)
    direct = menus.menu(deps, key("1", "organisation"))
    assert isinstance(direct, Next) and (direct.step, direct.options) == (Step.OPENING, {"organisation": "UWV"})
    reply = flow.run(deps, Step.MENU, key("1", "organisation"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="topic")
    assert said(reply).startswith("Waar gaat uw vraag over? Voor WW-uitkering, toets 1. Voor Ziektewet, toets 2.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.organisation, record.menu_step) == ("UWV", "topic")


def test_a_topic_key_puts_the_call_in_line() -> None:
    deps = make_deps()
    at_topic_menu(deps)
    reply = flow.run(deps, Step.MENU, key("2", "topic"))
    assert verbs(reply) == ["Say", "Enqueue"]
    assert "We verbinden u zo met UWV, over Ziektewet." in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.topic) == (CallState.QUEUED, "zw")
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [{"step": "topic", "choice": "zw"}]


def test_an_unknown_key_is_counted_and_the_menu_asked_again_with_repeat() -> None:
    deps = make_deps()
    at_organisation_menu(deps)
    reply = flow.run(deps, Step.MENU, key("7", "organisation"))
    assert verbs(reply) == ["Gather"] and gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    text = said(reply)
    assert text.startswith("Die toets kennen we hier niet.") and "Om te herhalen, toets sterretje." in text
    assert "For English" not in text  # the language offer belongs to the first time only
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.menu_tries, record.organisation) == (1, None)
    assert fakes(deps).calls.details(SID, EventKind.MENU_INVALID) == [{"step": "organisation", "page": 0, "try": 1}]


def test_three_silences_never_hang_up_but_bring_a_person_of_the_first_organisation() -> None:
    deps = make_deps()
    on_duty(deps, EVA)
    at_organisation_menu(deps)
    for _ in range(2):
        reply = flow.run(deps, Step.MENU, key("", "organisation"))
        assert verbs(reply) == ["Gather"] and said(reply).startswith("We hoorden geen toets.")
    reply = flow.run(deps, Step.MENU, key("", "organisation"))
    assert verbs(reply) == ["Say", "Say", "Enqueue"]
    assert said(reply).startswith("We zoeken een medewerker van UWV voor u.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.organisation, record.topic) == (CallState.QUEUED, "UWV", "*")
    assert fakes(deps).calls.kinds(SID).count(EventKind.MENU_NO_INPUT) == 3
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [
        {"step": "organisation", "choice": "UWV", "by": "service"}]


def test_zero_in_the_topic_menu_asks_for_anyone_of_the_organisation() -> None:
    deps = make_deps()
    at_topic_menu(deps)
    reply = flow.run(deps, Step.MENU, key("0", "topic"))
    assert said(reply).startswith("We zoeken een medewerker van UWV voor u.") and "een algemene vraag" in said(reply)
    assert isinstance(reply.actions[-1], Enqueue)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.topic) == (CallState.QUEUED, "*")
    kinds = fakes(deps).calls.kinds(SID)
    assert kinds == [EventKind.MENU_PERSON, EventKind.MENU_CHOICE, EventKind.QUEUED]


def test_star_repeats_and_nine_switches_to_english() -> None:
    deps = make_deps()
    at_organisation_menu(deps)
    repeated = flow.run(deps, Step.MENU, key("*", "organisation"))
    assert said(repeated).startswith("Met welke organisatie") and "Om te herhalen, toets sterretje." in said(repeated)
    english = flow.run(deps, Step.MENU, key("9", "organisation"))
    assert said(english).startswith("Which organisation do you want to speak to? For UWV, press 1.")
    assert all(p.language == "en" for p in gather_of(english).prompts if hasattr(p, "language"))
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.language, record.menu_tries) == ("en", 0)
    assert fakes(deps).calls.kinds(SID) == [EventKind.MENU_REPEAT, EventKind.LANGUAGE]


def test_more_organisations_than_fit_come_on_pages() -> None:
    extra = [Organisation(code, code, "+31201234567", WORKING_HOURS) for code in ("CAK", "DUO", "IND")]
    directory = make_directory(organisations=(UWV, SVB, *extra),
                               locations=(Location("AMS", "Amsterdam", ("UWV", "SVB", "CAK", "DUO", "IND")),))
    deps = make_deps(directory=directory)
    at_organisation_menu(deps)
    first = flow.run(deps, Step.MENU, StepInput(call_sid=SID, options=(("first_menu", True),)))
    assert "Voor CAK, toets 3." in said(first) and "Voor een andere organisatie, toets 4." in said(first)
    assert "DUO" not in said(first)
    second = flow.run(deps, Step.MENU, key("4", "organisation"))
    assert said(second).startswith("Met welke organisatie wilt u spreken? Voor DUO, toets 1. Voor IND, toets 2.")
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.menu_page == 1
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [
        {"step": "organisation", "page": 0, "choice": "more"}]
    chosen = menus.menu(deps, key("2", "organisation"))
    assert isinstance(chosen, Next) and chosen.options == {"organisation": "IND"}


def test_a_counter_without_organisations_ends_with_an_apology_when_a_person_is_asked() -> None:
    deps = make_deps()
    at_organisation_menu(deps, location="NOWHERE")
    reply = flow.run(deps, Step.MENU, key("0", "organisation"))
    assert verbs(reply) == ["Say", "Hangup"] and "Sorry, er ging iets mis" in said(reply) and "1400" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.FAILED)


def test_a_key_for_another_menu_than_the_calls_resumes_the_calls_menu() -> None:
    deps = make_deps()
    on_duty(deps, SEM)
    at_organisation_menu(deps)
    stale = menus.menu(deps, key("1", "topic"))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.menu_step == "organisation"
    reply = flow.run(deps, Step.MENU, key("1", "topic"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    assert said(reply).startswith("Met welke organisatie") and fakes(deps).calls.kinds(SID) == []
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.organisation is None  # key 1 of the topic menu did not choose SVB


def test_a_repeated_topic_key_of_a_queued_call_keeps_it_on_hold_once() -> None:
    deps = make_deps()
    at_topic_menu(deps)
    flow.run(deps, Step.MENU, key("1", "topic"))
    again = flow.run(deps, Step.MENU, key("1", "topic"))
    assert verbs(again) == ["Enqueue"] and only(again, Enqueue).wait == Goto.to(Step.WAIT)
    assert fakes(deps).calls.kinds(SID).count(EventKind.QUEUED) == 1
    seed_call(deps, SID, state=CallState.ENDED)
    assert flow.run(deps, Step.MENU, key("1", "topic")).actions == (Hangup(),)
