"""steps/opening.py: an organisation was chosen: open? anybody on duty? then its topic menu or the queue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.directory import Organisation
from callrouter.domain.hours import OpeningHours
from callrouter.domain.queueing import Presence
from callrouter.domain.voice import Enqueue, Hangup
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Next, Stale, StepInput
from callrouter.services.calls.steps import opening
from tests.fakes import (
    AMSTERDAM,
    CIT_LINE,
    EVA,
    JAN,
    SEM,
    SVB,
    UWV,
    FakeClock,
    fakes,
    gather_of,
    make_deps,
    make_directory,
    on_duty,
    said,
    seed_call,
    verbs,
)

SID = "CA-open"
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=AMSTERDAM)


def chosen(org: str = "UWV", **options: object) -> StepInput:
    return StepInput(call_sid=SID, options=(("organisation", org), *options.items()))


def at_menu(deps: CallDeps, **fields: Any) -> None:
    seed_call(deps, SID, state=CallState.MENU, menu_step="organisation", **fields)


def test_an_open_organisation_with_two_topics_asks_its_topic_menu() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    at_menu(deps)
    result = opening.opening(deps, chosen())
    assert isinstance(result, Next) and result.step == Step.MENU
    assert result.options == {"ask": True, "first": False} and result.lead == ()
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.organisation, record.menu_step, record.menu_tries) == (
        CallState.MENU, "UWV", "topic", 0)
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [{"step": "organisation", "choice": "UWV"}]


def test_an_organisation_with_one_topic_goes_straight_into_line() -> None:
    deps = make_deps()
    on_duty(deps, SEM)
    at_menu(deps)
    result = opening.opening(deps, chosen("SVB"))
    assert isinstance(result, Next) and (result.step, result.options, result.lead) == (
        Step.QUEUE, {"topic": "aow"}, ())
    reply = flow.run(deps, Step.OPENING, chosen("SVB"))  # the call is still at the menu: run it through
    assert verbs(reply) == ["Say", "Enqueue"] and "We verbinden u zo met SVB, over AOW." in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.organisation, record.topic) == (
        CallState.QUEUED, "SVB", "aow")


def test_anyone_of_the_organisation_when_the_service_chose_it() -> None:
    deps = make_deps()
    on_duty(deps, EVA)
    at_menu(deps)
    reply = flow.run(deps, Step.OPENING, chosen("UWV", any_topic=True, by_service=True))
    assert said(reply).startswith("We zoeken een medewerker van UWV voor u.")
    assert isinstance(reply.actions[-1], Enqueue)
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.topic == "*"
    assert fakes(deps).calls.details(SID, EventKind.MENU_CHOICE) == [
        {"step": "organisation", "choice": "UWV", "by": "service"}]


def test_closed_says_when_it_opens_and_offers_a_callback() -> None:
    deps = make_deps(clock=FakeClock(SATURDAY_NOON))
    on_duty(deps, JAN)
    at_menu(deps)
    result = opening.opening(deps, chosen())
    assert isinstance(result, Next) and (result.step, result.choice) == (Step.CALLBACK_DIALOGUE, "offer_closed")
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome, record.organisation) == (
        CallState.CALLBACK, Outcome.CLOSED, "UWV")
    assert fakes(deps).calls.details(SID, EventKind.CLOSED) == [
        {"organisation": "UWV", "opens": "2026-11-30T08:00:00+01:00"}]
    reply = flow.run(deps, result.step, result.input_after(chosen()))
    assert gather_of(reply).action == Goto.to(Step.CALLBACK_DIALOGUE, step="closed")
    text = said(reply)
    assert text.startswith("UWV is nu gesloten. We zijn weer open op maandag 30 november om 08:00.")
    assert "Zullen we u dan terugbellen? Toets 1." in text


def test_closed_for_long_gives_the_public_number_and_ends() -> None:
    never = Organisation("UWV", "UWV", "+31880898929", OpeningHours(weekly={}), topics=UWV.topics)
    deps = make_deps(directory=make_directory(organisations=(never, SVB)))
    at_menu(deps)
    reply = flow.run(deps, Step.OPENING, chosen())
    assert verbs(reply) == ["Say", "Hangup"]
    assert "de komende tijd gesloten" in said(reply) and "088 089 892 9" in said(reply)
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.CLOSED)
    assert fakes(deps).calls.details(SID, EventKind.CLOSED) == [{"organisation": "UWV", "opens": None}]


def test_a_public_holiday_closes_the_organisation() -> None:
    deps = make_deps(holidays=lambda day: "Sint-Testdag" if day == date(2026, 11, 25) else None)
    on_duty(deps, JAN)
    at_menu(deps)
    reply = flow.run(deps, Step.OPENING, chosen())
    assert "We zijn weer open op morgen om 08:00." in said(reply)
    assert fakes(deps).calls.kinds(SID) == [EventKind.CLOSED]


def test_nobody_on_duty_offers_a_callback_on_the_professional_line() -> None:
    deps = make_deps()
    on_duty(deps, JAN, status=Presence.OFFLINE)  # offline is not on duty
    at_menu(deps)
    reply = flow.run(deps, Step.OPENING, chosen())
    assert gather_of(reply).action == Goto.to(Step.CALLBACK_DIALOGUE, step="nobody")
    text = said(reply)
    assert text.startswith("Er is nu geen medewerker van UWV aan het werk. U kunt ook 088 089 892 9 bellen.")
    assert "Zullen we u terugbellen zodra er iemand is? Toets 1." in text
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome) == (CallState.CALLBACK, Outcome.NO_LIAISON)
    assert fakes(deps).calls.kinds(SID) == [EventKind.NO_LIAISON]


def test_a_liaison_on_duty_in_the_record_counts_when_the_router_lost_its_state() -> None:
    """A Redis failover lost the router's presence before the reconciler rebuilt it: the record decides."""
    deps = make_deps()
    fakes(deps).presence.save(liaison_id=JAN.id, organisation="UWV", status="available", since=deps.clock.now())
    at_menu(deps)
    result = opening.opening(deps, chosen())
    assert isinstance(result, Next) and result.step == Step.MENU
    assert EventKind.NO_LIAISON not in fakes(deps).calls.kinds(SID)


def test_nobody_on_duty_in_the_router_and_the_record_is_told_so() -> None:
    deps = make_deps()
    presence = fakes(deps).presence
    presence.save(liaison_id=JAN.id, organisation="UWV", status="offline", since=deps.clock.now())
    presence.save(liaison_id=SEM.id, organisation=SEM.organisation, status="available", since=deps.clock.now())
    presence.save(liaison_id=999, organisation="UWV", status="available", since=deps.clock.now())  # not in the directory
    assert SEM.organisation != "UWV" and deps.directory.liaison(999) is None
    at_menu(deps)
    reply = flow.run(deps, Step.OPENING, chosen())
    assert gather_of(reply).action == Goto.to(Step.CALLBACK_DIALOGUE, step="nobody")
    assert fakes(deps).calls.kinds(SID) == [EventKind.NO_LIAISON]


def test_an_away_liaison_counts_as_on_duty() -> None:
    deps = make_deps()
    on_duty(deps, JAN, status=Presence.AWAY)
    at_menu(deps)
    result = opening.opening(deps, chosen())
    assert isinstance(result, Next) and result.step == Step.MENU


def test_nobody_on_duty_on_the_citizen_line_ends_the_call() -> None:
    deps = make_deps()
    seed_call(deps, SID, state=CallState.MENU, line=CIT_LINE, menu_step="organisation")
    reply = flow.run(deps, Step.OPENING, chosen())
    assert verbs(reply) == ["Say", "Hangup"]
    assert said(reply) == "Er is nu niemand aan het werk. Bel later opnieuw. Tot ziens."
    record = fakes(deps).calls.get(SID)
    assert record is not None and (record.state, record.outcome, record.organisation) == (
        CallState.ENDED, Outcome.NO_LIAISON, "UWV")


def test_an_unknown_organisation_resumes_the_menu() -> None:
    deps = make_deps()
    at_menu(deps)
    stale = opening.opening(deps, chosen("XYZ"))
    assert isinstance(stale, Stale) and stale.record is not None and stale.record.state == CallState.MENU
    reply = flow.run(deps, Step.OPENING, chosen("XYZ"))
    assert gather_of(reply).action == Goto.to(Step.MENU, step="organisation")
    assert fakes(deps).calls.kinds(SID) == []


def test_a_late_choice_for_a_queued_or_ended_call_changes_nothing() -> None:
    deps = make_deps()
    on_duty(deps, JAN)
    seed_call(deps, SID, state=CallState.QUEUED, organisation="SVB", topic="aow")
    reply = flow.run(deps, Step.OPENING, chosen())
    assert verbs(reply) == ["Enqueue"] and reply.actions[0] == Enqueue(
        queue="callrouter-SVB", wait=Goto.to(Step.WAIT), action=Goto.to(Step.QUEUE_EXIT))
    seed_call(deps, SID, state=CallState.ENDED)
    assert flow.run(deps, Step.OPENING, chosen()).actions == (Hangup(),)
    assert fakes(deps).calls.kinds(SID) == []
