"""The conference bridge through the web layer, with Twilio's own words (<Conference>, StatusCallbackEvent,
SequenceNumber, CallStatus of a leg placed by REST), on a real Redis and both databases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.queueing import Presence
from tests.integration.conftest import PUBLIC_URL, App
from tests.integration.test_voice_webhooks import call_params, liaison, said, twiml, verbs
from tests.integration.test_webhook_fields import queued_call


@pytest.fixture()
def conference_app(app_factory) -> App:  # noqa: ANN001
    return app_factory(bridge="conference")


def routed(app: App) -> tuple[str, int, str]:
    """A queued call that Jan (coming available) is claimed for: the caller's call, Jan's id, Jan's leg."""
    sid = queued_call(app)
    jan = liaison(app, "uwv-jan")
    assert app.api("PUT", f"/api/liaisons/{jan}/presence", json={"status": "available"}).status_code == 200
    assert app.telephony.redirects == [(sid, f"/twilio/voice/connect?liaison={jan}")]
    [created] = app.telephony.created
    assert created["path"] == f"/twilio/voice/whisper?call={sid}&liaison={jan}&via=room"
    assert created["status_path"] == f"/twilio/voice/liaison-status?call={sid}&liaison={jan}&via=room"
    return sid, jan, "CA" + "1".zfill(32)


def room_event(app: App, sid: str, event: str, member: str | None, sequence: int) -> None:
    params = {"AccountSid": "AC" + "0" * 32, "ConferenceSid": "CF" + "0" * 32, "FriendlyName": f"call-{sid}",
              "StatusCallbackEvent": event, "SequenceNumber": str(sequence), "Timestamp": "Wed, 25 Nov 2026 09:00:05 +0000"}
    if member is not None:
        params["CallSid"] = member
    response = app.post(f"/twilio/voice/room-event?call={sid}", params)
    assert response.status_code == 200, response.text


def leg_status(app: App, sid: str, jan: int, leg: str, status: str) -> None:
    params = call_params(leg, CallStatus=status, Direction="outbound-api")
    assert app.post(f"/twilio/voice/liaison-status?call={sid}&liaison={jan}&via=room", params).status_code == 200


def state(app: App, sid: str) -> CallState:
    record = app.container.voice.calls.get(sid)
    assert record is not None
    return record.state


def test_a_routed_call_joins_its_room_the_liaison_whispers_joins_and_they_talk(conference_app: App) -> None:
    app = conference_app
    sid, jan, leg = routed(app)
    root = twiml(app.post(f"/twilio/voice/connect?liaison={jan}", call_params(sid)))
    conference = root.find("Dial/Conference")
    assert conference is not None and conference.text == f"call-{sid}"
    assert (conference.get("startConferenceOnEnter"), conference.get("endConferenceOnExit")) == ("false", "true")
    assert conference.get("waitUrl") == PUBLIC_URL + "/twilio/voice/room-hold"
    assert conference.get("statusCallbackEvent") == "start end join leave"
    room_event(app, sid, "participant-join", sid, 1)
    leg_status(app, sid, jan, leg, "ringing")
    leg_status(app, sid, jan, leg, "in-progress")
    assert state(app, sid) == CallState.OFFERED  # a pickup is not an answer
    whisper = twiml(app.post(f"/twilio/voice/whisper?call={sid}&liaison={jan}&via=room",
                             call_params(leg, Direction="outbound-api")))
    assert verbs(whisper) == ["Say", "Redirect"] and "UWV" in said(whisper)
    assert (whisper.find("Redirect").text or "").endswith(  # type: ignore[union-attr]
        f"/twilio/voice/room-join?call={sid}&liaison={jan}")
    joining = twiml(app.post(f"/twilio/voice/room-join?call={sid}&liaison={jan}",
                             call_params(leg, Direction="outbound-api")))
    assert verbs(joining) == ["Dial"]
    assert joining.find("Dial/Conference").get("startConferenceOnEnter") == "true"  # type: ignore[union-attr]
    assert joining.find("Dial/Conference").text == f"call-{sid}"  # type: ignore[union-attr]
    room_event(app, sid, "conference-start", None, 2)
    room_event(app, sid, "participant-join", leg, 3)
    room_event(app, sid, "participant-join", leg, 3)  # Twilio retried it
    assert state(app, sid) == CallState.CONNECTED
    app.clock.moment += timedelta(seconds=60)
    room_event(app, sid, "participant-leave", leg, 4)
    after = twiml(app.post(f"/twilio/voice/room-left?liaison={jan}", call_params(sid)))
    # the demo's professional line asks the verdict question once the liaison has left (steps/verdict.py)
    assert verbs(after)[0] == "Gather" and after.find("Gather").get("action", "").endswith("/twilio/voice/verdict")  # type: ignore[union-attr]
    record = app.container.voice.calls.get(sid)
    assert record is not None and (record.state, record.outcome) == (CallState.ENDED, Outcome.ANSWERED)
    kinds = [e.kind for e in app.container.voice.calls.events(sid)]
    assert kinds.count(EventKind.ANSWERED) == 1
    [completed] = [e for e in app.container.voice.calls.events(sid) if e.kind == EventKind.COMPLETED]
    assert completed.detail["talk_seconds"] == 55  # from the join's Timestamp (10:00:05) to the room's end
    assert app.container.router.liaison_status(liaison_id=jan, org="UWV") == Presence.AVAILABLE


def test_no_answer_sends_the_caller_back_to_the_front_and_the_liaison_away(conference_app: App) -> None:
    app = conference_app
    sid, jan, leg = routed(app)
    twiml(app.post(f"/twilio/voice/connect?liaison={jan}", call_params(sid)))
    leg_status(app, sid, jan, leg, "no-answer")
    leg_status(app, sid, jan, leg, "no-answer")
    assert state(app, sid) == CallState.QUEUED
    assert app.telephony.redirects[-1] == (sid, "/twilio/voice/back-in-line")
    assert len(app.telephony.redirects) == 2
    assert app.container.router.liaison_status(liaison_id=jan, org="UWV") == Presence.AWAY
    root = twiml(app.post("/twilio/voice/back-in-line", call_params(sid)))
    assert verbs(root) == ["Say", "Enqueue"] and "vooraan" in said(root)
    # The room's action after the redirect: Twilio ignores its TwiML; it changes nothing.
    twiml(app.post(f"/twilio/voice/room-left?liaison={jan}", call_params(sid)))
    assert state(app, sid) == CallState.QUEUED


def test_the_caller_hanging_up_while_the_leg_rings_cancels_it(conference_app: App) -> None:
    app = conference_app
    sid, jan, leg = routed(app)
    twiml(app.post(f"/twilio/voice/connect?liaison={jan}", call_params(sid)))
    response = app.post("/twilio/voice/status", call_params(sid, CallStatus="completed", SequenceNumber="2"))
    assert response.status_code == 200
    assert app.telephony.hung_up == [leg]
    assert state(app, sid) == CallState.ENDED
    assert app.container.router.liaison_status(liaison_id=jan, org="UWV") == Presence.AVAILABLE


@pytest.mark.parametrize("event", ["participant-join", "conference-start", "participant-mute"])
def test_room_reports_for_an_unknown_call_or_of_other_kinds_are_answered_calmly(conference_app: App,
                                                                                event: str) -> None:
    room_event(conference_app, "CA" + "f" * 32, event, "CA" + "e" * 32, 1)


def test_a_room_report_without_the_call_is_bad_input_and_changes_nothing(conference_app: App) -> None:
    response = conference_app.post("/twilio/voice/room-event", {"StatusCallbackEvent": "participant-join"})
    assert response.status_code in (200, 400)
    if response.headers.get("content-type", "").startswith("application/xml"):
        ET.fromstring(response.text)
