"""Menu use in the pure domain: which events are answers, per flow and menu, shares and signals, by hand."""

from __future__ import annotations

import pytest

from callrouter.domain.calls import EventKind
from callrouter.domain.menu_usage import (
    DEFINITIONS,
    STEP_NAMES,
    Answer,
    FlowRules,
    MenuEvent,
    MenuRow,
    step_name,
    tally,
)

K = EventKind
PRO, CIT = "professional", "citizen"


def ev(call: int, kind: EventKind, *, line: str = PRO, org: str | None = "UWV", **detail: object) -> MenuEvent:
    return MenuEvent(call_id=call, line_kind=line, organisation=org, kind=kind.value, detail=detail)


# Professional calls (grouped per call, in order):
#  1: organisation: nothing (try 1), *, a wrong key (try 2), UWV;  topic (UWV): 0, then the service's "*" (not counted)
#  2: organisation: 0, then the service's choice of the counter's first organisation (not counted)
#  3: organisation: nothing three times (tries 1-3), then the service's choice (not counted)
#  4: case reference: a BSN (try 1), too short (try 2), then the service's "none" (not counted);
#     organisation: "another organisation" (next page), then DUO, which is closed (a choice)
#  5: a wrong key in the callback offer when closed (only wrong keys are written there)
#  6: a step the page does not know: one choice
# Citizen call 7: the line chooses UWV (not counted); topic: *, then a choice.
EVENTS = [
    ev(1, K.MENU_NO_INPUT, step="organisation", page=0, **{"try": 1}),
    ev(1, K.MENU_REPEAT, step="organisation", page=0),
    ev(1, K.MENU_INVALID, step="organisation", page=0, **{"try": 2}),
    ev(1, K.MENU_CHOICE, step="organisation", choice="UWV"),
    ev(1, K.MENU_PERSON, step="topic", page=0),
    ev(1, K.MENU_CHOICE, step="topic", choice="*"),
    ev(2, K.MENU_PERSON, step="organisation", page=0),
    ev(2, K.MENU_CHOICE, step="organisation", choice="UWV"),
    ev(3, K.MENU_NO_INPUT, step="organisation", page=0, **{"try": 1}),
    ev(3, K.MENU_NO_INPUT, step="organisation", page=0, **{"try": 2}),
    ev(3, K.MENU_NO_INPUT, step="organisation", page=0, **{"try": 3}),
    ev(3, K.MENU_CHOICE, step="organisation", choice="UWV"),
    ev(4, K.MENU_INVALID, org="DUO", step="case_reference", reason="citizen_number", **{"try": 1}),
    ev(4, K.MENU_INVALID, org="DUO", step="case_reference", reason="malformed", **{"try": 2}),
    ev(4, K.MENU_CHOICE, org="DUO", step="case_reference", choice="none"),
    ev(4, K.MENU_CHOICE, org="DUO", step="organisation", page=0, choice="more"),
    ev(4, K.CLOSED, org="DUO", organisation="DUO", opens=None),
    ev(5, K.MENU_INVALID, step="callback-closed", **{"try": 1}),
    ev(6, K.MENU_CHOICE, step="survey", choice="1"),
    ev(7, K.MENU_CHOICE, line=CIT, step="organisation", choice="UWV"),
    ev(7, K.MENU_REPEAT, line=CIT, step="topic", page=0),
    ev(7, K.MENU_CHOICE, line=CIT, step="topic", choice="ww"),
]


def counts(row: MenuRow) -> tuple[int | None, int, int, int, int, int]:
    return row.answers, row.choices, row.person, row.repeat, row.no_input, row.invalid


def test_answers_per_flow_and_menu_leave_out_what_the_service_chose_itself() -> None:
    usage = tally(EVENTS)
    assert [f.line_kind for f in usage.flows] == [PRO, CIT]
    pro, cit = usage.flows
    assert [(r.step, r.organisation) for r in pro.menus] == [
        ("case_reference", ""), ("organisation", ""), ("topic", "UWV"), ("callback-closed", ""), ("survey", "")]
    menus = {(r.step, r.organisation): r for r in pro.menus}
    #                                                answers choices 0  *  none wrong
    assert counts(menus["case_reference", ""]) == (2, 0, 0, 0, 0, 2)
    assert menus["case_reference", ""].citizen_number == 1
    # organisation: call 1 (1 choice, *, none, wrong) + call 2 (0) + call 3 (none x3) + call 4 (next page, DUO closed)
    assert counts(menus["organisation", ""]) == (10, 3, 1, 1, 4, 1)
    assert menus["organisation", ""].next_page == 1
    assert counts(menus["topic", "UWV"]) == (1, 0, 1, 0, 0, 0)
    assert counts(menus["callback-closed", ""]) == (None, 0, 0, 0, 0, 1)
    assert counts(menus["survey", ""]) == (1, 1, 0, 0, 0, 0)
    # The flow's total leaves out the callback menu: 2 + 10 + 1 + 1 answers.
    assert counts(pro.total) == (14, 4, 2, 1, 4, 3)
    # Citizen line: no organisation menu (the line chose), the topic menu: *, then a choice.
    assert [(r.step, r.organisation) for r in cit.menus] == [("topic", "UWV")]
    assert counts(cit.menus[0]) == (2, 1, 0, 1, 0, 0)
    assert counts(usage.total) == (16, 5, 2, 2, 4, 3)


def test_shares_are_parts_of_the_menus_answers_and_none_without_answers() -> None:
    organisation = next(r for r in tally(EVENTS).flows[0].menus if r.step == "organisation")
    assert organisation.share(Answer.NO_INPUT) == pytest.approx(4 / 10)
    assert organisation.share(Answer.CHOICE) == pytest.approx(3 / 10)
    assert organisation.share(Answer.PERSON) == pytest.approx(1 / 10)
    callback = next(r for r in tally(EVENTS).flows[0].menus if r.step == "callback-closed")
    assert callback.share(Answer.INVALID) is None and callback.signals() == []
    assert MenuRow(PRO, "topic").share(Answer.PERSON) is None


def test_signals_name_what_stands_out_from_ten_answers_on() -> None:
    organisation = next(r for r in tally(EVENTS).flows[0].menus if r.step == "organisation")
    # 0 at 10 % stays under 15 %; *, none and wrong are at or above 10 %.
    assert [s.answer for s in organisation.signals()] == [Answer.REPEAT, Answer.NO_INPUT, Answer.INVALID]
    assert "niets" in organisation.signals()[1].nl
    nine = MenuRow(PRO, "topic", "UWV", choices=4, person=5)  # 9 answers: not judged, however many 0s
    assert not nine.judged and nine.signals() == []
    ten = MenuRow(PRO, "topic", "UWV", choices=8, person=2)  # 20 % 0 -> a signal; 0 % of the rest -> none
    assert [s.answer for s in ten.signals()] == [Answer.PERSON]
    calm = MenuRow(PRO, "topic", "UWV", choices=9, repeat=1)  # * just at 10 %: a signal (at or above)
    assert [s.answer for s in calm.signals()] == [Answer.REPEAT]


def test_only_the_event_right_after_0_or_the_last_try_of_the_same_call_and_menu_is_the_services() -> None:
    events = [
        ev(1, K.MENU_PERSON, step="organisation"),  # the call ends here (hung up during the transfer)
        ev(2, K.MENU_CHOICE, step="organisation", choice="UWV"),  # another call's own key: counted
        ev(3, K.MENU_NO_INPUT, step="organisation", **{"try": 1}),
        ev(3, K.MENU_CHOICE, step="organisation", choice="UWV"),  # after a try that was not the last: the caller's
        ev(3, K.MENU_CHOICE, step="topic", choice="ww"),
    ]
    menus = {r.step: r for r in tally(events).flows[0].menus}
    assert counts(menus["organisation"]) == (4, 2, 1, 0, 1, 0)  # 0; choices of calls 2 and 3; none of 3
    assert counts(menus["topic"]) == (1, 1, 0, 0, 0, 0)


@pytest.mark.parametrize("max_tries, choices", [(2, 0), (3, 1)])
def test_the_last_try_comes_from_the_flow(max_tries: int, choices: int) -> None:
    events = [ev(1, K.MENU_NO_INPUT, step="topic", **{"try": 1}), ev(1, K.MENU_NO_INPUT, step="topic", **{"try": 2}),
              ev(1, K.MENU_CHOICE, step="topic", choice="*" if max_tries == 2 else "ww")]
    row = tally(events, rules={PRO: FlowRules(max_tries=max_tries)}).flows[0].menus[0]
    assert (row.no_input, row.choices) == (2, choices)


def test_a_professional_flow_without_an_organisation_menu_counts_none() -> None:
    events = [ev(1, K.MENU_CHOICE, step="organisation", choice="UWV"), ev(1, K.MENU_CHOICE, step="topic", choice="ww")]
    usage = tally(events, rules={PRO: FlowRules(organisation_menu=False)})
    assert [r.step for r in usage.flows[0].menus] == ["topic"]
    assert [r.step for r in tally(events).flows[0].menus] == ["organisation", "topic"]


def test_a_choice_marked_as_the_services_is_not_counted() -> None:
    events = [ev(1, K.MENU_CHOICE, step="organisation", choice="UWV", by="service"),
              ev(2, K.NO_LIAISON, organisation="UWV", by="service"), ev(3, K.MENU_CHOICE, step="organisation", choice="UWV")]
    assert counts(tally(events).flows[0].menus[0]) == (1, 1, 0, 0, 0, 0)


def test_events_that_are_no_menu_answer_are_ignored() -> None:
    events = [ev(1, K.QUEUED, step="organisation"), ev(1, K.MENU_CHOICE, choice="UWV")]  # no step: not a menu
    assert tally(events).flows == []


def test_steps_have_names_for_people_and_unknown_ones_their_own() -> None:
    assert step_name("organisation") == "Keuze organisatie"
    assert step_name("topic", "UWV") == "Keuze onderwerp UWV"
    assert step_name("topic", "UWV", language="en") == "Choice of topic UWV"
    assert step_name("case_reference") == "Vraag naar eigen dossiernummer"
    assert step_name("callback-slot") == "Keuze terugbelmoment"
    assert step_name("survey") == "survey"
    assert all(nl and en for nl, en in STEP_NAMES.values())
    assert all(nl and en for nl, en in DEFINITIONS.values())
    assert "15 %" in DEFINITIONS["signal"][0] and "10 beurten" in DEFINITIONS["signal"][0]
