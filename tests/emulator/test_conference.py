"""<Dial><Conference>: waiting for the start, who hears whom, leaving, ending, the Dial action, status callbacks."""

from __future__ import annotations

import pytest
from twilio.rest import Client

from tests.emulator.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    LIAISON,
    LINE,
    no_application_errors,
    valid_signature,
)
from tests.emulator.customer_app import CustomerApp
from twilio_emulator import CallerScript, Emulator, Phone, rewriting_http_client

CALLER_2 = "+31611112222"
EVENTS = "start end join leave mute hold modify"


def conference_twiml(name: str = "room", *, action: str = "/twiml/conf-done", **attrs: str) -> str:
    attributes = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return (f'<Response><Dial action="{action}"><Conference {attributes}>{name}</Conference></Dial>'
            "<Say>Na de conferentie</Say></Response>")


@pytest.fixture()
def client(emulator: Emulator) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(emulator.base_url))


def test_first_caller_waits_then_both_hear_each_other_and_the_last_to_leave_ends_it(
        app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(
        waitUrl="/twiml/wait", statusCallback="/conf-status", statusCallbackEvent=EVENTS,
        participantLabel="first" if r["From"] == CALLER else "second")
    app.routes["/twiml/wait"] = lambda r: '<Response><Say>Even wachten</Say><Redirect/></Response>'
    app.routes["/twiml/conf-done"] = lambda r: f"<Response><Say>Klaar {r['DialCallStatus']}</Say></Response>"
    first = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=40))
    first.wait_for(lambda t: sum(e.kind == "say" for e in t) >= 2)  # the waitUrl loops through its <Redirect>
    room = emulator.conference("room")
    assert room.status == "init"
    assert emulator.hears(first.sid) == {"wait"}
    wait_request = app.to("/twiml/wait")[0]
    assert valid_signature(wait_request) and wait_request["CallSid"] == first.sid
    assert wait_request["ConferenceSid"] == room.sid and wait_request["FriendlyName"] == "room"
    second = emulator.place_call(CALLER_2, LINE, CallerScript(hangup_after=80))
    second.wait_for_event("conference_started")
    assert room.status == "in-progress"
    assert emulator.hears(first.sid) == {second.sid} and emulator.hears(second.sid) == {first.sid}
    # the transcript names the people heard as a <Dial> bridge does (an inbound leg by its From)
    assert [e["with"] for e in first.events("hearing")] == [[], [CALLER_2]]
    said_before = len(first.said())
    first.wait_until_ended(timeout=15)  # hangs up at 40 s: the conference goes on with the second caller
    assert len(first.said()) == said_before  # no more wait music once the room started
    assert room.status == "in-progress" and emulator.hears(second.sid) == set()
    second.wait_until_ended(timeout=15)
    room.wait_until_ended()
    assert room.reason_ended == "last-participant-left"
    # both Dial actions were requested (a hang-up: TwiML ignored), without DialCallSid/DialCallDuration
    done = app.wait_for("/twiml/conf-done", 2)
    assert {r["CallSid"] for r in done} == {first.sid, second.sid}
    for r in done:
        assert r["DialCallStatus"] == "completed" and "DialCallSid" not in r.params
        assert "DialCallDuration" not in r.params
    assert "Klaar completed" not in first.said() + second.said()
    callbacks = app.wait_for("/conf-status", 6)
    assert [(r["StatusCallbackEvent"], r.get("ParticipantLabel")) for r in callbacks] == [
        ("participant-join", "first"), ("participant-join", "second"), ("conference-start", None),
        ("participant-leave", "first"), ("participant-leave", "second"), ("conference-end", None)]
    assert [r["SequenceNumber"] for r in callbacks] == [str(i) for i in range(6)]
    for r in callbacks:
        assert valid_signature(r)
        assert r["ConferenceSid"] == room.sid and r["FriendlyName"] == "room" and r["AccountSid"] == ACCOUNT_SID
        assert r["Timestamp"].endswith("+0000")
    join = callbacks[0]
    assert join["CallSid"] == first.sid and join["Muted"] == "false" and join["Hold"] == "false"
    assert join["Coaching"] == "false" and join["StartConferenceOnEnter"] == "true"
    assert join["EndConferenceOnExit"] == "false"
    assert callbacks[3]["ReasonParticipantLeft"] == "participant_hung_up"
    assert callbacks[3]["ParticipantCallStatus"] == "completed"
    end = callbacks[5]
    assert end["ReasonConferenceEnded"] == "last-participant-left" and end["CallSidEndingConference"] == second.sid
    assert end["ParticipantLabelEndingConference"] == "second"
    assert no_application_errors(first, second)


def test_end_conference_on_exit_ends_the_others_dial_and_their_action_twiml_runs(
        app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        conference_twiml(endConferenceOnExit="true", waitUrl="", beep="false") if r["From"] == CALLER
        else conference_twiml(waitUrl=""))
    app.routes["/twiml/conf-done"] = lambda r: f"<Response><Say>Klaar {r['DialCallStatus']}</Say></Response>"
    moderator = emulator.place_call(CALLER, LINE, CallerScript(hangup_when="conference_started", hangup_delay=20))
    moderator.wait_for_event("conference_joined")
    assert emulator.hears(moderator.sid) == {"wait"}  # waitUrl="" is silence, but it is still waiting
    assert moderator.events("say") == [] and moderator.events("play") == []
    other = emulator.place_call(CALLER_2, LINE)
    other.wait_until_ended(timeout=15)
    assert other.said() == ["Klaar completed"]  # the action's TwiML, not the verb after <Dial>
    assert emulator.conference("room").reason_ended == "participant-with-end-conference-on-exit-left"
    left, = other.events("conference_left")
    assert left["reason"] == "moderator_ended_conference"
    assert any(e.kind == "beep" for e in moderator.transcript)  # the other one joined with beep="true"
    assert not any(e.kind == "beep" for e in other.transcript)  # the moderator leaves with beep="false"


def test_a_participant_label_in_use_is_refused_and_the_call_goes_on(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(participantLabel="klant", waitUrl="")
    first = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=30))
    first.wait_for_event("conference_joined")
    second = emulator.place_call(CALLER_2, LINE).wait_until_ended()
    refused, = second.events("conference_refused")
    assert refused["code"] == 16025
    assert second.said() == ["Na de conferentie"]  # the next verb; no Dial action
    assert app.to("/twiml/conf-done") == [] and emulator.conference("room").status == "init"
    app.routes["/twiml/voice"] = lambda r: conference_twiml(participantLabel="a/b")
    bad = emulator.place_call("+31655556666", LINE).wait_until_ended()
    assert [e["code"] for e in bad.events("conference_refused")] == [16023]  # no '/' in a label
    first.wait_until_ended(timeout=15)


def test_only_play_say_pause_redirect_run_in_the_wait_url_and_a_failing_one_is_silence(
        app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(waitUrl="/twiml/wait")
    app.routes["/twiml/wait"] = lambda r: (
        '<Response><Gather><Say>Niet hier</Say></Gather><Say>Wachtmuziek</Say><Hangup/><Pause length="2"/>'
        "<Redirect>/twiml/broken</Redirect></Response>")
    app.routes["/twiml/broken"] = lambda r: "not xml"
    call = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=30))
    call.wait_until_ended(timeout=15)
    assert call.said() == ["Wachtmuziek"]
    assert [e["verb"] for e in call.events("ignored_verb")] == ["Gather", "Hangup"]
    error, = call.events("application_error")
    assert error["code"] == 12100 and error["soft"] is True
    assert call.ended_by == "caller"  # the broken waitUrl did not end the call


def test_rest_created_leg_joins_and_a_rest_redirect_posts_the_action_but_runs_the_new_twiml(
        app: CustomerApp, emulator: Emulator, client: Client) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(waitUrl="", participantLabel="caller")
    app.routes["/twiml/liaison"] = lambda r: conference_twiml(waitUrl="", participantLabel="liaison",
                                                             action="/twiml/liaison-done")
    app.routes["/twiml/liaison-done"] = lambda r: "<Response><Say>Dit hoort niemand</Say></Response>"
    app.routes["/twiml/elsewhere"] = lambda r: "<Response><Say>Ergens anders</Say></Response>"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=2, talk_seconds=600))
    caller = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=120))
    caller.wait_for_event("conference_joined")
    created = client.calls.create(to=LIAISON, from_=LINE, url=app.url("/twiml/liaison"))
    liaison = emulator.call(created.sid)
    liaison.wait_for_event("conference_started")
    assert emulator.hears(caller.sid) == {liaison.sid} and emulator.heard_by(caller.sid) == {liaison.sid}
    client.calls(created.sid).update(url=app.url("/twiml/elsewhere"))
    liaison.wait_until_ended()
    assert liaison.said() == ["Ergens anders"]
    done, = app.to("/twiml/liaison-done")
    assert done["DialCallStatus"] == "completed" and done["CallSid"] == liaison.sid
    left, = liaison.events("conference_left")
    assert left["reason"] == "participant_updated_via_api"
    assert emulator.hears(caller.sid) == set()
    client.calls(caller.sid).update(status="completed")
    caller.wait_until_ended()


def test_conference_callbacks_can_come_twice_or_in_reverse_order(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(
        waitUrl="", statusCallback="/conf-status", statusCallbackEvent="start end join leave")
    emulator.duplicate_status_callbacks = True
    first = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=20))
    first.wait_for_event("conference_joined")
    emulator.place_call(CALLER_2, LINE, CallerScript(hangup_after=30)).wait_until_ended(timeout=15)
    callbacks = app.wait_for("/conf-status", 12)
    assert [int(r["SequenceNumber"]) for r in callbacks] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    tokens = [r.headers["i-twilio-idempotency-token"] for r in callbacks]
    assert all(tokens[i] == tokens[i + 1] for i in range(0, 12, 2)) and len(set(tokens)) == 6
    emulator.duplicate_status_callbacks = False
    app.reset()
    app.routes["/twiml/voice"] = lambda r: conference_twiml(
        "room-2", waitUrl="", statusCallback="/conf-status", statusCallbackEvent="start end join leave")
    emulator.reorder_status_callbacks = True
    first = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=20))
    first.wait_for_event("conference_joined")
    emulator.place_call(CALLER_2, LINE, CallerScript(hangup_after=30)).wait_until_ended(timeout=15)
    callbacks = app.wait_for("/conf-status", 6)
    assert [int(r["SequenceNumber"]) for r in callbacks] == [5, 4, 3, 2, 1, 0]  # held until the room ended
    assert callbacks[0]["StatusCallbackEvent"] == "conference-end"
    emulator.reorder_status_callbacks = False


def test_a_moderated_room_waits_for_its_moderator(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: conference_twiml(
        waitUrl="", startConferenceOnEnter="false" if r["From"] != CALLER else "true")
    guests = [emulator.place_call(f"+3161111000{i}", LINE, CallerScript(hangup_after=60)) for i in range(2)]
    for guest in guests:
        guest.wait_for_event("conference_joined")
    room = emulator.conference("room")
    assert room.status == "init" and all(emulator.hears(g.sid) == {"wait"} for g in guests)
    moderator = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=40))
    moderator.wait_for_event("conference_started")
    assert emulator.hears(moderator.sid) == {g.sid for g in guests}
    assert emulator.hears(guests[0].sid) == {guests[1].sid, moderator.sid}
    for call in (moderator, *guests):
        call.wait_until_ended(timeout=15)
