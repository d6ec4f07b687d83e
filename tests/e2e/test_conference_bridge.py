"""The conference bridge end to end: the emulator's <Conference> and REST legs, 2 web processes, a real worker.

The same behaviour the <Dial> bridge had (tests/e2e/test_professional_line.py), with the room's own checks:
who hears whom, the liaison's leg placed by REST, the room's reports, a hang-up during the whisper (the
emulator's "hangup-on-whisper" phone hangs up a REST-placed leg before it joins the room)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from callrouter.bootstrap import build
from callrouter.config import Settings
from callrouter.domain.calls import CallState, EventKind
from callrouter.services.calls import consult, consult_record
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.transfer import blind_transfer
from tests.e2e.stack import AMSTERDAM_CASEWORKER, Stack, running_stack
from tests.e2e.test_call_flow_fixes import presence
from tests.e2e.test_professional_line import UWV_WW, assert_no_application_error, store
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import Phone


@pytest.fixture(scope="module")
def conference_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("e2e-conference")
    with running_stack(redis_url=redis_url, database_url=f"sqlite:///{workdir / 'e2e.sqlite3'}", workdir=workdir,
                       web_processes=2, settings={"CALLROUTER_BRIDGE": "conference"}) as running:
        running.start_worker()
        yield running


@pytest.fixture()
def room(conference_stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - the flushed-Redis fixture
    conference_stack.emulator.duplicate_status_callbacks = False
    conference_stack.emulator.reorder_status_callbacks = False
    yield conference_stack
    conference_stack.emulator.wait_until_idle(timeout=30)


def legs_to(stack: Stack, address: str) -> list[str]:
    return [c.sid for c in stack.emulator.calls if c.to == address]


def wait_until(predicate, timeout: float = 15) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_the_caller_and_the_liaison_talk_in_the_calls_room_after_the_whisper(room: Stack) -> None:
    room.phone("uwv-jan", Phone("answer", answer_after=1, talk_seconds=10))
    assert room.set_presence("uwv-jan", "available").status_code == 200
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    conference = room.emulator.wait_for_conference(f"call-{call.sid}", timeout=30)
    assert wait_until(lambda: len(conference.participants) == 2, timeout=30), conference.participants
    [leg] = [sid for sid in conference.participants if sid != call.sid]
    assert room.emulator.call(leg).to == "client:uwv-jan"
    assert room.emulator.hears(call.sid) == {leg} and room.emulator.hears(leg) == {call.sid}
    whisper = " ".join(room.emulator.call(leg).said())
    assert "Amsterdam" in whisper and "UWV" in whisper and "WW-uitkering" in whisper
    call.wait_until_ended(timeout=40)
    assert_no_application_error(call, room.emulator.call(leg))
    assert wait_until(lambda: (store(room).get(call.sid) or None) is not None
                      and store(room).get(call.sid).outcome == "answered")  # type: ignore[union-attr]
    kinds = [e.kind for e in store(room).events(call.sid)]
    assert kinds.count(EventKind.ANSWERED) == 1 and EventKind.LIAISON_RUNG in kinds
    assert kinds.index(EventKind.OFFERED) < kinds.index(EventKind.ANSWERED) < kinds.index(EventKind.COMPLETED)
    presence = room.set_presence("uwv-jan", "available").json()
    assert presence["status"] == "available" and presence["call_sid"] is None


def test_a_liaison_who_does_not_answer_loses_the_call_to_the_next(room: Stack) -> None:
    room.phone("uwv-jan", Phone("no-answer"))
    room.phone("uwv-hasan", Phone("answer", answer_after=0.5, talk_seconds=2))
    room.set_presence("uwv-jan", "available")
    time.sleep(0.05)
    room.set_presence("uwv-hasan", "available")
    hasan = room.directory.liaison(room.liaison_id("uwv-hasan"))
    assert hasan is not None
    before = {address: len(legs_to(room, address)) for address in ("client:uwv-jan", hasan.address)}
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=90)
    assert_no_application_error(call)
    assert "neemt niet op" in " ".join(call.said())
    assert [len(legs_to(room, address)) - n for address, n in before.items()] == [1, 1]
    jan = room.set_presence("uwv-jan", "away").json()
    assert jan["call_sid"] is None
    assert wait_until(lambda: store(room).get(call.sid).outcome == "answered")  # type: ignore[union-attr]
    kinds = [e.kind for e in store(room).events(call.sid)]
    assert kinds.count(EventKind.OFFERED) == 2 and EventKind.LIAISON_NO_ANSWER in kinds


def test_the_same_liaison_offered_twice_in_one_call_ends_the_second_conversation_as_a_conversation(
        room: Stack) -> None:
    """Jan alone on duty does not answer, comes back, and takes the call the second time. Twilio's request after
    each redirect to /connect carries the same parameters: without a turn of its own per redirect, the second
    was taken for a retry of the first and got its stored answer, and the end of the conversation then put the
    caller back in line, where they waited for good."""
    room.set_presence("uwv-hasan", "away")
    room.phone("uwv-jan", Phone("no-answer"))
    room.set_presence("uwv-jan", "available")
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    assert wait_until(lambda: presence(room, "uwv-jan")["status"] == "away", timeout=60), presence(room, "uwv-jan")
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2))
    assert room.set_presence("uwv-jan", "available").status_code == 200
    call.wait_until_ended(timeout=90)
    assert_no_application_error(call)
    connects = [e["url"] for e in call.webhooks("voice") if "/twilio/voice/connect" in e["url"]]
    assert len(connects) == 2 and len(set(connects)) == 2, connects  # a turn of its own per redirect
    assert wait_until(lambda: store(room).get(call.sid).outcome == "answered")  # type: ignore[union-attr]
    kinds = [e.kind for e in store(room).events(call.sid)]
    assert kinds.count(EventKind.OFFERED) == 2 and kinds.count(EventKind.COMPLETED) == 1, kinds
    assert " ".join(call.said()).count("neemt niet op") == 1
    jan = presence(room, "uwv-jan")
    assert jan["status"] == "available" and jan["call_sid"] is None, jan


def test_a_liaison_who_hangs_up_during_the_whisper_sends_the_caller_back_to_the_front(room: Stack) -> None:
    room.phone("uwv-jan", Phone("hangup-on-whisper", answer_after=0.5, whisper_hangup_after=1.0))
    room.phone("uwv-hasan", Phone("answer", answer_after=0.5, talk_seconds=2))
    room.set_presence("uwv-jan", "available")
    time.sleep(0.05)
    room.set_presence("uwv-hasan", "available")  # Jan idle longer: offered first
    hasan = room.directory.liaison(room.liaison_id("uwv-hasan"))
    assert hasan is not None
    before = {address: set(legs_to(room, address)) for address in ("client:uwv-jan", hasan.address)}
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=90)
    assert_no_application_error(call)
    [jan_leg] = [room.emulator.call(sid) for sid in set(legs_to(room, "client:uwv-jan")) - before["client:uwv-jan"]]
    [hasan_leg] = [room.emulator.call(sid) for sid in set(legs_to(room, hasan.address)) - before[hasan.address]]
    # Jan picked up and hung up in the whisper, never in the room; Hasan joined it.
    assert jan_leg.events("answered") and not jan_leg.events("conference_joined") and jan_leg.ended_by == "callee"
    assert hasan_leg.events("conference_joined")
    back = [e for e in call.events("say") if e["text"].startswith("De medewerker neemt niet op")]
    assert back and jan_leg.events("hangup")[0].t <= back[0].t < hasan_leg.events("conference_joined")[0].t
    record = store(room).get(call.sid)
    assert record is not None and (record.outcome, record.liaison_id) == ("answered", hasan.id)
    kinds = [e.kind for e in store(room).events(call.sid)]
    assert kinds.count(EventKind.OFFERED) == 2 and kinds.count(EventKind.COMPLETED) == 1
    jan = presence(room, "uwv-jan")
    assert jan["status"] == "away" and jan["call_sid"] is None, jan  # not stuck busy, not offered the next caller


def test_a_caller_who_hangs_up_while_the_liaison_rings_cancels_the_leg_and_frees_the_liaison(room: Stack) -> None:
    room.phone("uwv-jan", Phone("answer", answer_after=30))
    room.set_presence("uwv-jan", "available")
    before = set(legs_to(room, "client:uwv-jan"))
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW, hangup_when="conference_joined", hangup_delay=3)
    call.wait_until_ended(timeout=40)
    assert wait_until(lambda: bool(set(legs_to(room, "client:uwv-jan")) - before))
    [leg] = set(legs_to(room, "client:uwv-jan")) - before
    assert wait_until(lambda: room.emulator.call(leg).done, timeout=15), room.emulator.call(leg).format()
    assert room.emulator.call(leg).status in ("canceled", "completed")
    assert wait_until(lambda: room.set_presence("uwv-jan", "available").json().get("call_sid") is None)
    record = store(room).get(call.sid)
    assert record is not None and record.outcome == "abandoned_in_queue"


def test_duplicated_and_reordered_callbacks_have_one_effect(room: Stack) -> None:
    room.emulator.duplicate_status_callbacks = True
    room.emulator.reorder_status_callbacks = True
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=3))
    room.set_presence("uwv-jan", "available")
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    call.wait_until_ended(timeout=40)
    room.emulator.wait_until_idle(timeout=30)
    kinds = [e.kind for e in store(room).events(call.sid)]
    assert kinds.count(EventKind.COMPLETED) == 1 and kinds.count(EventKind.ANSWERED) == 1, kinds
    assert EventKind.ABANDONED not in kinds
    record = store(room).get(call.sid)
    assert record is not None and record.outcome == "answered"



@contextmanager
def console_of(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallDeps]:
    """The service as the console's web process has it (same settings, database, Redis and emulator)."""
    for name, value in stack.env.items():
        if name.startswith("CALLROUTER_"):
            monkeypatch.setenv(name, value)
    container = build(Settings())
    try:
        yield container.voice
    finally:
        container.close()


def test_a_uwv_liaison_transfers_an_amsterdam_call_to_toeslagen_who_hears_who_transferred(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with console_of(room, monkeypatch) as console_side:
        transfer_to_toeslagen(room, console_side)


def transfer_to_toeslagen(room: Stack, console_side: CallDeps) -> None:
    """Jan (UWV) takes an Amsterdam caseworker's WW question and transfers it to Toeslagen (huurtoeslag)."""
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=60))
    room.phone("tsl-marloes", Phone("answer", answer_after=0.5, talk_seconds=3))
    room.set_presence("uwv-jan", "available")
    room.set_presence("tsl-marloes", "away")  # on duty, busy elsewhere: the caller waits in Toeslagen's line
    rung_before = len([c for c in room.emulator.calls if c.to == "client:tsl-marloes"])  # the stack is shared
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    jan = room.liaison_id("uwv-jan")
    assert wait_until(lambda: (store(room).get(call.sid) or None) is not None
                      and store(room).get(call.sid).state == CallState.CONNECTED, timeout=40)  # type: ignore[union-attr]
    queued_at = store(room).get(call.sid).queued_at  # type: ignore[union-attr]
    done = blind_transfer(console_side, liaison_id=jan, call_sid=call.sid, to_organisation="TSL",
                          to_topic="huurtoeslag")
    assert done.to_organisation == "TSL"
    call.wait_for(lambda t: any(e.kind == "enqueued" and e.data.get("queue") == "callrouter-TSL" for e in t),
                  timeout=30)
    assert "U wordt doorverbonden met Dienst Toeslagen." in " ".join(call.said())
    assert room.set_presence("uwv-jan", "away").json()["call_sid"] is None  # Jan is free at once
    room.set_presence("tsl-marloes", "available")
    call.wait_until_ended(timeout=60)
    assert_no_application_error(call)
    [leg] = [c for c in room.emulator.calls if c.to == "client:tsl-marloes"][rung_before:]
    whisper = " ".join(leg.said())
    assert "Doorverbonden door UWV, over WW-uitkering" in whisper, whisper
    assert wait_until(lambda: store(room).get(call.sid).state == CallState.ENDED)  # type: ignore[union-attr]
    record = store(room).get(call.sid)
    assert record is not None and (record.organisation, record.topic, record.queued_at) == (
        "TSL", "huurtoeslag", queued_at)
    events = store(room).events(call.sid)
    [moved] = [e for e in events if e.kind == EventKind.TRANSFERRED]
    assert (moved.detail["from_organisation"], moved.detail["to_organisation"], moved.detail["kind"]) == (
        "UWV", "TSL", "blind")
    answers = [e.detail["liaison"] for e in events if e.kind == EventKind.ANSWERED]
    assert answers == [jan, room.liaison_id("tsl-marloes")]


def talking_with_jan(room: Stack) -> tuple[CallHandle, str]:
    """An Amsterdam caseworker's WW question, answered by Jan in the call's room: the call and Jan's leg."""
    call = room.call(from_=AMSTERDAM_CASEWORKER, digits=UWV_WW)
    conference = room.emulator.wait_for_conference(f"call-{call.sid}", timeout=30)
    assert wait_until(lambda: len(conference.participants) == 2, timeout=30), conference.participants
    [jan_leg] = [sid for sid in conference.participants if sid != call.sid]
    assert wait_until(lambda: store(room).get(call.sid).state == CallState.CONNECTED)  # type: ignore[union-attr]
    return call, jan_leg


def test_a_uwv_question_becomes_a_three_way_call_with_toeslagen_after_a_consult(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10's example: Jan (UWV) consults Toeslagen with the caller on hold (who does not hear the consult),
    then all three talk; Jan leaves and the caller goes on with Marloes; the caseworker hangs up: both free."""
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=600))
    room.phone("tsl-marloes", Phone("answer", answer_after=0.5, talk_seconds=600))
    room.set_presence("uwv-jan", "available")
    room.set_presence("tsl-marloes", "available")
    jan, marloes = room.liaison_id("uwv-jan"), room.liaison_id("tsl-marloes")
    call, jan_leg = talking_with_jan(room)
    with console_of(room, monkeypatch) as console_side:
        consult.start(console_side, liaison_id=jan, call_sid=call.sid, to_organisation="TSL", to_topic="huurtoeslag")
        record = store(room).get(call.sid)
        assert record is not None
        assert wait_until(lambda: consult_record.current(console_side, record).step == "answered", timeout=40)  # type: ignore[union-attr]
        marloes_leg = consult_record.current(console_side, record).leg  # type: ignore[union-attr]
        assert marloes_leg is not None
        whisper = " ".join(room.emulator.call(marloes_leg).said())
        assert "Overleg gevraagd door UWV, over WW-uitkering" in whisper, whisper
        # On hold: the caller hears the hold music only; Jan and Marloes hear each other, not the caller.
        assert wait_until(lambda: room.emulator.hears(jan_leg) == {marloes_leg})
        assert call.sid not in room.emulator.hears(jan_leg) and call.sid not in room.emulator.hears(marloes_leg)
        assert jan_leg not in room.emulator.hears(call.sid) and marloes_leg not in room.emulator.hears(call.sid)
        assert "De medewerker overlegt even met een collega" in " ".join(call.said())
        consult.three_way(console_side, liaison_id=jan, call_sid=call.sid)
        assert wait_until(lambda: room.emulator.hears(call.sid) == {jan_leg, marloes_leg})
        console_side.telephony.hang_up(call_sid=jan_leg)  # Jan leaves the conversation
        ok = wait_until(lambda: store(room).get(call.sid).liaison_id == marloes, timeout=20)  # type: ignore[union-attr]
        assert ok, "\n".join(f"{e.kind} {e.detail}" for e in store(room).events(call.sid))
        assert wait_until(lambda: room.emulator.hears(call.sid) == {marloes_leg})
        # Jan is free once his leg's end has come in (its status callback: on a busy machine a moment later)
        assert wait_until(lambda: room.set_presence("uwv-jan", "away").json().get("call_sid") is None)
        kinds = [e.detail.get("kind") for e in store(room).events(call.sid) if e.kind == EventKind.TRANSFERRED]
        assert kinds == ["three_way", "consult"]
        console_side.telephony.hang_up(call_sid=call.sid)  # the caseworker hangs up
    call.wait_until_ended(timeout=30)
    assert wait_until(lambda: room.emulator.call(marloes_leg).done, timeout=20)
    assert wait_until(lambda: store(room).get(call.sid).state == CallState.ENDED)  # type: ignore[union-attr]
    assert wait_until(lambda: room.set_presence("tsl-marloes", "away").json().get("call_sid") is None)
    assert_no_application_error(call, room.emulator.call(jan_leg), room.emulator.call(marloes_leg))


def test_the_caller_hanging_up_during_a_consult_cancels_the_ringing_leg_and_frees_the_consulted_liaison(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=600))
    room.phone("tsl-marloes", Phone("answer", answer_after=60))
    room.set_presence("uwv-jan", "available")
    room.set_presence("tsl-marloes", "available")
    jan = room.liaison_id("uwv-jan")
    call, _jan_leg = talking_with_jan(room)
    with console_of(room, monkeypatch) as console_side:
        consult.start(console_side, liaison_id=jan, call_sid=call.sid, to_organisation="TSL")
        record = store(room).get(call.sid)
        assert record is not None
        assert wait_until(lambda: consult_record.current(console_side, record).step == "ringing", timeout=30)  # type: ignore[union-attr]
        ringing = consult_record.current(console_side, record).leg  # type: ignore[union-attr]
        assert ringing is not None
        console_side.telephony.hang_up(call_sid=call.sid)
    call.wait_until_ended(timeout=30)
    assert wait_until(lambda: room.emulator.call(ringing).done, timeout=20)
    assert wait_until(lambda: room.set_presence("tsl-marloes", "away").json().get("call_sid") is None)
    assert wait_until(lambda: room.set_presence("uwv-jan", "away").json().get("call_sid") is None)


def consulting_marloes(room: Stack, console_side: CallDeps, *, marloes_answers: bool = True
                       ) -> tuple[CallHandle, str, str]:
    """Jan (UWV) talks with an Amsterdam caseworker and consults Toeslagen: the call, Jan's leg and Marloes's leg
    (answered, or still ringing when `marloes_answers` is False)."""
    room.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=600))
    room.phone("tsl-marloes", Phone("answer", answer_after=0.5 if marloes_answers else 120, talk_seconds=600))
    room.set_presence("uwv-jan", "available")
    room.set_presence("tsl-marloes", "available")
    call, jan_leg = talking_with_jan(room)
    consult.start(console_side, liaison_id=room.liaison_id("uwv-jan"), call_sid=call.sid, to_organisation="TSL",
                  to_topic="huurtoeslag")
    record = store(room).get(call.sid)
    assert record is not None
    wanted = "answered" if marloes_answers else "ringing"
    assert wait_until(lambda: consult_record.current(console_side, record).step == wanted, timeout=40)  # type: ignore[union-attr]
    marloes_leg = consult_record.current(console_side, record).leg  # type: ignore[union-attr]
    assert marloes_leg is not None
    if marloes_answers:
        assert wait_until(lambda: room.emulator.hears(jan_leg) == {marloes_leg})
    return call, jan_leg, marloes_leg


def events_of(room: Stack, sid: str) -> str:
    return "\n".join(f"{e.kind} {e.detail}" for e in store(room).events(sid))


def hang_up_and_all_free(room: Stack, console_side: CallDeps, call: CallHandle, *legs: str) -> None:
    """The caseworker hangs up: the call ends in the record, every leg ends, nobody is left busy."""
    console_side.telephony.hang_up(call_sid=call.sid)
    call.wait_until_ended(timeout=30)
    assert wait_until(lambda: store(room).get(call.sid).state == CallState.ENDED), events_of(room, call.sid)  # type: ignore[union-attr]
    for name in ("uwv-jan", "tsl-marloes"):
        assert wait_until(lambda: room.set_presence(name, "away").json().get("call_sid") is None), name  # noqa: B023
    assert_no_application_error(call, *(room.emulator.call(leg) for leg in legs))


def test_a_consult_completed_leaves_the_caller_with_the_consulted_liaison(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 3, complete: Jan leaves, the caller comes off hold and talks with Marloes (whose whisper was said)."""
    with console_of(room, monkeypatch) as console_side:
        call, jan_leg, marloes_leg = consulting_marloes(room, console_side)
        consult.complete(console_side, liaison_id=room.liaison_id("uwv-jan"), call_sid=call.sid)
        assert wait_until(lambda: room.emulator.hears(call.sid) == {marloes_leg}, timeout=20), events_of(room, call.sid)
        assert wait_until(lambda: room.emulator.call(jan_leg).done, timeout=20)
        record = store(room).get(call.sid)
        assert record is not None and (record.state, record.liaison_id) == (
            CallState.CONNECTED, room.liaison_id("tsl-marloes"))
        assert [e.detail.get("kind") for e in store(room).events(call.sid) if e.kind == EventKind.TRANSFERRED] == [
            "consult"]
        assert room.set_presence("uwv-jan", "away").json()["call_sid"] is None  # Jan is free at once
        hang_up_and_all_free(room, console_side, call, jan_leg, marloes_leg)


def test_a_consult_cancelled_takes_the_caller_back_to_the_first_liaison_and_frees_the_second(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 3, cancel: Marloes's leg ends and she is free; the caller is off hold, with Jan again."""
    with console_of(room, monkeypatch) as console_side:
        call, jan_leg, marloes_leg = consulting_marloes(room, console_side)
        consult.cancel(console_side, liaison_id=room.liaison_id("uwv-jan"), call_sid=call.sid)
        assert wait_until(lambda: room.emulator.call(marloes_leg).done, timeout=20)
        assert wait_until(lambda: room.emulator.hears(call.sid) == {jan_leg}, timeout=20), events_of(room, call.sid)
        assert wait_until(lambda: room.set_presence("tsl-marloes", "away").json().get("call_sid") is None)
        record = store(room).get(call.sid)
        assert record is not None and (record.state, record.liaison_id) == (
            CallState.CONNECTED, room.liaison_id("uwv-jan"))
        assert not [e for e in store(room).events(call.sid) if e.kind == EventKind.TRANSFERRED]
        hang_up_and_all_free(room, console_side, call, jan_leg, marloes_leg)


def test_the_first_liaison_hanging_up_after_the_second_answered_hands_the_caller_over(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 5: Jan hangs up during the consult, Marloes had answered: the caller goes on with Marloes."""
    with console_of(room, monkeypatch) as console_side:
        call, jan_leg, marloes_leg = consulting_marloes(room, console_side)
        console_side.telephony.hang_up(call_sid=jan_leg)
        assert wait_until(lambda: room.emulator.hears(call.sid) == {marloes_leg}, timeout=20), events_of(room, call.sid)
        record = store(room).get(call.sid)
        assert record is not None and (record.state, record.liaison_id) == (
            CallState.CONNECTED, room.liaison_id("tsl-marloes")), events_of(room, call.sid)
        # Jan is free once his leg's end has come in (its status callback: on a busy machine a moment later)
        assert wait_until(lambda: room.set_presence("uwv-jan", "away").json().get("call_sid") is None)
        hang_up_and_all_free(room, console_side, call, jan_leg, marloes_leg)


def test_the_first_liaison_hanging_up_while_the_second_rings_puts_the_caller_back_in_front(
        room: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 5: Jan hangs up during the consult before Marloes answered: her ringing leg is cancelled and she is
    free; the caller is back at the front of UWV's line at the original queue time (Jan's phone is busy now, so
    nobody takes the call meanwhile)."""
    with console_of(room, monkeypatch) as console_side:
        call, jan_leg, marloes_leg = consulting_marloes(room, console_side, marloes_answers=False)
        queued_at = store(room).get(call.sid).queued_at  # type: ignore[union-attr]
        enqueued = sum(1 for e in call.transcript if e.kind == "enqueued")
        room.phone("uwv-jan", Phone("busy"))
        console_side.telephony.hang_up(call_sid=jan_leg)
        assert wait_until(lambda: room.emulator.call(marloes_leg).done, timeout=20)
        assert wait_until(lambda: sum(1 for e in call.transcript if e.kind == "enqueued"
                                      and e.data.get("queue") == "callrouter-UWV") > enqueued, timeout=30), \
            events_of(room, call.sid)
        record = store(room).get(call.sid)
        assert record is not None and record.organisation == "UWV" and record.queued_at == queued_at
        assert record.state in (CallState.QUEUED, CallState.OFFERED), events_of(room, call.sid)
        assert wait_until(lambda: room.set_presence("tsl-marloes", "away").json().get("call_sid") is None)
        hang_up_and_all_free(room, console_side, call, jan_leg, marloes_leg)
