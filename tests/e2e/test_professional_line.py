"""A caseworker's call through the Twilio emulator against the real app, Redis and database.

Every test runs on both bridges: the conference room (the default) and the two-party <Dial> (an option)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.domain.calls import EventKind
from tests.e2e.stack import AMSTERDAM_CASEWORKER, UWV_CITIZEN_LINE, Stack
from twilio_emulator.calls import Event
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import Phone

UWV_WW = ["#", "1", "1"]  # no case reference (#); Amsterdam menu: 1 = UWV (first of the counter's list); UWV topics: 1 = WW


def store(stack: Stack) -> SqlCallStore:
    return SqlCallStore(make_session_factory(make_engine(stack.database_url)))


@pytest.fixture(params=["conference", "dial"])
def live(request: pytest.FixtureRequest, redis) -> Iterator[Stack]:  # noqa: ANN001 - the flushed-Redis fixture
    """The running stack on each bridge, Redis flushed."""
    stack: Stack = request.getfixturevalue("stack" if request.param == "conference" else "dial_stack")
    assert stack.bridge == request.param
    stack.emulator.duplicate_status_callbacks = False
    stack.emulator.reorder_status_callbacks = False
    yield stack
    stack.emulator.wait_until_idle(timeout=30)


def _with_someone(event: Event) -> bool:
    return event.kind == "bridged" or (event.kind == "hearing" and bool(event.get("with")))


def bridged_with(call: CallHandle) -> list[str]:
    """Whom the caller talked with, in order: bridged by <Dial>, or heard in the conference room."""
    people: list[str] = []
    for event in call.transcript:
        if event.kind == "bridged":
            people.append(event["with"])
        elif event.kind == "hearing":
            people.extend(who for who in event.get("with") or [] if not people or people[-1] != who)
    return people


def bridged_at(call: CallHandle) -> float | None:
    """When the caller first talked with a liaison (either bridge)."""
    return next((e.t for e in call.transcript if _with_someone(e)), None)


def liaison_legs(stack: Stack, call: CallHandle) -> list[CallHandle]:
    """The liaison legs the caller talked with: the <Dial>'s children, or the REST legs heard in the room."""
    heard = [sid for e in call.events("hearing") for sid in e.get("hears") or [] if sid.startswith("CA")]
    legs = [c for c in stack.emulator.calls if c.parent_sid == call.sid or c.sid in heard]
    return [leg for leg in legs if leg.events("bridged") or leg.sid in heard]


def wait_queued(*calls: CallHandle, timeout: float = 15) -> None:
    for call in calls:
        call.wait_for_event("enqueued", timeout=timeout)


def assert_no_application_error(*calls: CallHandle) -> None:
    for call in calls:
        assert not call.events("application_error"), call.format()


def test_amsterdam_caseworker_reaches_a_uwv_liaison_for_unemployment_benefit(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer", answer_after=1, talk_seconds=10))
    assert live.set_presence("uwv-jan", "available").status_code == 200

    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=30)

    assert_no_application_error(call)
    said = " ".join(call.said())
    assert "loket Amsterdam" in said
    assert bridged_with(call) == ["client:uwv-jan"]
    [liaison_leg] = liaison_legs(live, call)
    assert liaison_leg.to == "client:uwv-jan"
    whisper = " ".join(liaison_leg.said())
    assert "Amsterdam" in whisper and "UWV" in whisper and "WW-uitkering" in whisper

    record = store(live).get(call.sid)
    assert record is not None and record.outcome == "answered"
    assert record.organisation == "UWV" and record.topic == "ww" and record.location == "AMS"
    kinds = [e.kind for e in store(live).events(call.sid)]
    for expected in (EventKind.RECEIVED, EventKind.IDENTIFIED, EventKind.MENU_CHOICE, EventKind.QUEUED,
                     EventKind.OFFERED, EventKind.ANSWERED, EventKind.COMPLETED):
        assert expected in kinds, kinds
    assert kinds.index(EventKind.QUEUED) < kinds.index(EventKind.OFFERED) < kinds.index(EventKind.COMPLETED)
    # The liaison is free again afterwards.
    presence = live.set_presence("uwv-jan", "available").json()
    assert presence["status"] == "available" and presence["call_sid"] is None


def test_a_professional_call_after_three_citizen_calls_is_answered_first(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2))
    live.set_presence("uwv-jan", "away")  # on duty, not yet free: calls wait
    citizens = []
    for i in range(3):
        citizens.append(live.call(from_=f"+3161111000{i}", to=UWV_CITIZEN_LINE, digits=["1"]))
        wait_queued(citizens[-1])
    professional = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    wait_queued(professional)

    assert live.set_presence("uwv-jan", "available").status_code == 200
    professional.wait_until_ended(timeout=40)
    first_bridge = min((bridged_at(c), c.sid) for c in [professional, *citizens] if bridged_at(c) is not None)
    assert first_bridge[1] == professional.sid
    for citizen in citizens:
        citizen.wait_until_ended(timeout=60)
    order = sorted((bridged_at(c), c.sid) for c in citizens)
    assert [sid for _, sid in order] == [c.sid for c in citizens]  # then oldest first
    assert_no_application_error(professional, *citizens)


def test_an_unknown_caller_is_refused_and_never_reaches_a_liaison(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer"))
    live.set_presence("uwv-jan", "available")
    dials_before = live.emulator.dials_to("client:uwv-jan")
    call = live.call(from_="+31698765432", digits=["1001", "10010000", "99999999"])
    call.wait_until_ended(timeout=30)
    said = " ".join(call.said())
    assert "Toets uw medewerkerscode" in said and "Die code klopt niet" in said
    assert "Deze lijn is voor loketten" in said and "1400" in said
    assert not call.events("dial_started") and not call.events("enqueued")
    assert live.emulator.dials_to("client:uwv-jan") == dials_before
    record = store(live).get(call.sid)
    assert record is not None and record.outcome == "refused" and record.caseworker_id is None
    assert "98765432" not in record.caller_masked  # masked, never the whole number


def test_a_caseworker_on_an_unregistered_phone_gets_in_with_code_and_pin(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2))
    live.set_presence("uwv-jan", "available")
    call = live.call(from_="+31698760001", digits=["100486420531", *UWV_WW])  # Kees Bakker, AMS
    call.wait_until_ended(timeout=30)
    assert bridged_with(call) == ["client:uwv-jan"]
    record = store(live).get(call.sid)
    assert record is not None and record.location == "AMS" and record.outcome == "answered"


def test_repeated_failures_lock_the_number_out(live: Stack) -> None:
    caller = "+31698760002"
    for _ in range(3):
        live.call(from_=caller, digits=["0000", "0000", "0000"]).wait_until_ended(timeout=30)
    locked = live.call(from_=caller, digits=["100486420531"])
    locked.wait_until_ended(timeout=30)
    said = " ".join(locked.said())
    assert "geblokkeerd" in said and not locked.events("gather_started")


def test_a_liaison_who_does_not_answer_loses_the_call_to_the_next(live: Stack) -> None:
    live.phone("uwv-jan", Phone("no-answer"))
    live.phone("uwv-hasan", Phone("answer", answer_after=0.5, talk_seconds=2))
    live.set_presence("uwv-jan", "available")
    time.sleep(0.05)
    live.set_presence("uwv-hasan", "available")  # jan has been idle longer: offered first
    dials_before = live.emulator.dials_to("client:uwv-jan")
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=60)
    assert bridged_with(call) == ["06-12345701".replace("06-", "+316")]
    assert live.emulator.dials_to("client:uwv-jan") == dials_before + 1
    assert "neemt niet op" in " ".join(call.said())
    jan = live.set_presence("uwv-jan", "away").json()
    assert jan["call_sid"] is None
    kinds = [e.kind for e in store(live).events(call.sid)]
    assert kinds.count(EventKind.OFFERED) == 2 and EventKind.LIAISON_NO_ANSWER in kinds


def test_a_caller_who_hangs_up_while_waiting_leaves_the_queue(live: Stack) -> None:
    live.set_presence("uwv-jan", "away")
    dials_before = live.emulator.dials_to("client:uwv-jan")
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW, hangup_when="queued", hangup_delay=2)
    call.wait_until_ended(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (store(live).get(call.sid) or None) and store(live).get(call.sid).outcome is None:
        time.sleep(0.1)
    record = store(live).get(call.sid)
    assert record is not None and record.outcome == "abandoned_in_queue"
    live.phone("uwv-jan", Phone("answer"))
    live.set_presence("uwv-jan", "available")
    time.sleep(1)
    assert live.emulator.dials_to("client:uwv-jan") == dials_before


def test_a_caller_who_hangs_up_while_the_liaison_rings_frees_the_liaison(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer", answer_after=30))
    live.set_presence("uwv-jan", "available")
    before = live.emulator.dials_to("client:uwv-jan")
    # <Dial>: the caller's transcript shows the liaison's phone ringing; the room: the REST leg rings meanwhile
    # (placed as the caller joins the room; its phone answers only after 30 s)
    when, delay = ("ringing", 1.0) if live.bridge == "dial" else ("conference_joined", 3.0)
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW, hangup_when=when, hangup_delay=delay)
    call.wait_until_ended(timeout=30)
    assert live.emulator.dials_to("client:uwv-jan") == before + 1  # the liaison was rung
    [leg] = [c for c in live.emulator.calls if c.to == "client:uwv-jan"][before:]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not leg.done:
        time.sleep(0.1)
    assert leg.done and leg.status in ("canceled", "completed") and not bridged_with(call), leg.format()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        presence = live.set_presence("uwv-jan", "available")
        if presence.status_code == 200:
            break
        time.sleep(0.2)
    assert presence.status_code == 200 and presence.json()["call_sid"] is None
    record = store(live).get(call.sid)
    assert record is not None and record.outcome == "abandoned_in_queue"


def test_duplicated_and_reordered_status_callbacks_have_one_effect(live: Stack) -> None:
    live.emulator.duplicate_status_callbacks = True
    live.emulator.reorder_status_callbacks = True
    live.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2))
    live.set_presence("uwv-jan", "available")
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=30)
    live.emulator.wait_until_idle(timeout=30)
    events = store(live).events(call.sid)
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.COMPLETED) == 1 and kinds.count(EventKind.ANSWERED) == 1
    assert EventKind.ABANDONED not in kinds
    engine = make_engine(live.database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(CallRow.outcome).where(CallRow.sid == call.sid)).all()
    assert rows == [("answered",)]


def test_the_readme_s_demo_call_reaches_a_liaison(live: Stack) -> None:
    """`callrouter demo call` with its defaults (as the README tells a newcomer) gets through every question."""
    from typer.testing import CliRunner

    from callrouter.cli import app

    live.phone("uwv-jan", Phone("answer", answer_after=1, talk_seconds=2))
    assert live.set_presence("uwv-jan", "available").status_code == 200
    result = CliRunner().invoke(app, ["demo", "call", "--emulator", live.emulator.base_url, "--timeout", "30"])
    assert result.exit_code == 0, result.output
    assert "client:uwv-jan" in result.output and "still going on" not in result.output, result.output
    assert "gather_timeout" not in result.output, result.output  # every question answered, none timed out


def test_after_the_liaison_hangs_up_the_caseworker_hears_the_verdict_question_and_answers_it(live: Stack) -> None:
    """The demo directory's professional line asks the verdict question: the emulator requests the caller's
    Dial action when the liaison hangs up (the <Dial>'s, or the room's, which the liaison's exit ends), follows
    the TwiML it gets, and the caller's key is recorded."""
    live.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=3))
    live.set_presence("uwv-jan", "available")
    # "2" for every turn of the hold loop (its callback offer takes only 1) and then for the question
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=[*UWV_WW, *["2"] * 8])
    call.wait_until_ended(timeout=40)
    assert_no_application_error(call)
    assert bridged_with(call) == ["client:uwv-jan"]
    # the conversation's end: the <Dial>'s action, or the room's Dial action when the liaison's exit ends it
    action_path = "/dial-result" if live.bridge == "dial" else "/room-left"
    actions = [e for e in call.webhooks("action") if action_path in str(e.data.get("url", ""))]
    assert actions, call.format()
    said = call.said()
    question = said.index("Is uw vraag beantwoord? Toets 1 voor ja, 2 voor deels, 3 voor nee.")
    assert said[question + 1:] == ["Dank u wel. Tot ziens."], call.format()
    assert bridged_at(call) < actions[0].t < call.events("say")[-1].t  # type: ignore[operator]
    events = store(live).events(call.sid)
    kinds = [e.kind for e in events]
    assert kinds.index(EventKind.COMPLETED) < kinds.index(EventKind.VERDICT_ASKED) < kinds.index(EventKind.VERDICT)
    assert [e.detail for e in events if e.kind == EventKind.VERDICT] == [{"answer": "partly"}]
    record = store(live).get(call.sid)
    assert record is not None and record.outcome == "answered" and record.ended_at is not None
    assert (record.ended_at - record.answered_at).total_seconds() < 30  # type: ignore[operator]  # talk time ends with the liaison


def test_a_caseworker_who_stays_silent_after_the_question_leaves_no_verdict(live: Stack) -> None:
    live.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2))
    live.set_presence("uwv-jan", "available")
    call = live.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)  # then silent
    call.wait_until_ended(timeout=40)
    assert_no_application_error(call)
    said = call.said()
    assert "Is uw vraag beantwoord? Toets 1 voor ja, 2 voor deels, 3 voor nee." in said and said[-1] == "Tot ziens."
    assert said.count("Is uw vraag beantwoord? Toets 1 voor ja, 2 voor deels, 3 voor nee.") == 1  # one try
    kinds = [e.kind for e in store(live).events(call.sid)]
    assert EventKind.VERDICT_ASKED in kinds and EventKind.VERDICT not in kinds
