"""<Dial>: whisper, bridging, busy / no-answer / failed callees, hangups while ringing."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.conftest import CALLER, LIAISON, LINE, no_application_errors, valid_signature
from tests.emulator.customer_app import CustomerApp
from twilio_emulator import CallerScript, Emulator, Phone

DIAL_WITH_WHISPER = (
    '<Response><Dial action="/twiml/dial-done" timeout="20" callerId="+3185000001">'
    '<Number url="/twiml/whisper" statusCallback="/status-leg" '
    'statusCallbackEvent="initiated ringing answered completed">{to}</Number></Dial></Response>')


def _dial_routes(app: CustomerApp, whisper: str = "<Response><Say>Beller voor u</Say></Response>") -> None:
    app.routes["/twiml/voice"] = lambda r: DIAL_WITH_WHISPER.format(to=LIAISON)
    app.routes["/twiml/whisper"] = lambda r: whisper
    app.routes["/twiml/dial-done"] = lambda r: f"<Response><Say>Einde {r['DialCallStatus']}</Say></Response>"


def test_dial_with_whisper_bridges_and_posts_completed_with_duration(app: CustomerApp,
                                                                   emulator: Emulator) -> None:
    _dial_routes(app)
    emulator.register_phone(LIAISON, Phone("answer", answer_after=4, talk_seconds=60))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    whisper, = app.to("/twiml/whisper")
    assert valid_signature(whisper)
    assert whisper["CallSid"] == leg.sid and whisper["ParentCallSid"] == call.sid
    assert whisper["Direction"] == "outbound-dial" and whisper["CallStatus"] == "in-progress"
    assert whisper["To"] == LIAISON and whisper["From"] == LINE  # callerId
    assert leg.said() == ["Beller voor u"]
    done, = app.to("/twiml/dial-done")
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == leg.sid
    assert done["DialBridged"] == "true"
    assert 60 <= int(done["DialCallDuration"]) <= 75  # talk time plus the whisper
    assert call.events("dial_ended")[0]["bridged"] is True
    assert [e.kind for e in call.transcript if e.kind.startswith(("callee", "whisper", "bridged"))] == [
        "callee_ringing", "callee_answered", "whisper_started", "whisper_ended", "bridged", "callee_hangup"]
    assert call.events("bridged")[0]["with"] == LIAISON
    assert leg.ended_by == "callee" and leg.status == "completed"
    assert call.said() == ["Einde completed"]
    # the leg's own status callbacks (Number statusCallback)
    leg_callbacks = app.wait_for("/status-leg", 4)
    assert [r["CallStatus"] for r in leg_callbacks] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r["SequenceNumber"] for r in leg_callbacks] == ["0", "1", "2", "3"]
    assert emulator.dials_to(LIAISON) == 1
    assert no_application_errors(call, leg)


@pytest.mark.parametrize(("behaviour", "status", "at_least"), [
    ("busy", "busy", 0), ("no-answer", "no-answer", 20), ("fail", "failed", 0)])
def test_unsuccessful_dials_report_their_status(app: CustomerApp, emulator: Emulator, behaviour: str,
                                                status: str, at_least: float) -> None:
    _dial_routes(app)
    emulator.register_phone(LIAISON, Phone(behaviour))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    done, = app.to("/twiml/dial-done")
    assert done["DialCallStatus"] == status
    assert done["DialBridged"] == "false"
    assert "DialCallDuration" not in done.params
    assert app.to("/twiml/whisper") == []
    started, = call.events("dial_started")
    ended, = call.events("dial_ended")
    assert ended.t - started.t >= at_least
    if at_least == 0:
        assert ended.t - started.t < 20
    assert call.children[0].status == status
    assert call.said() == [f"Einde {status}"]


def test_unregistered_address_does_not_answer(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Dial timeout="5"><Client>nobody</Client></Dial><Say>Niemand</Say></Response>')
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.said() == ["Niemand"]  # no action: the next verb
    leg, = call.children
    assert leg.to == "client:nobody" and leg.status == "no-answer"


def test_whisper_that_hangs_up_is_not_bridged(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app, whisper='<Response><Gather numDigits="1" action="/twiml/accept" timeout="3">'
                              "<Say>Druk 1</Say></Gather><Hangup/></Response>")
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, whisper_digits=None))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    assert call.events("bridged") == []
    assert call.events("whisper_ended")[0]["outcome"] == "hangup"
    done, = app.to("/twiml/dial-done")
    # Picked up but never connected: completed, not bridged, no talk time.
    assert (done["DialCallStatus"], done["DialBridged"], done["DialCallDuration"]) == ("completed", "false", "0")
    assert done["DialCallSid"] == leg.sid
    assert leg.status == "completed" and leg.ended_by == "twiml"


def test_whisper_gather_accepts_with_the_phones_digits(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app, whisper='<Response><Gather numDigits="1" action="/twiml/accept" timeout="3">'
                              "<Say>Druk 1</Say></Gather><Hangup/></Response>")
    app.routes["/twiml/accept"] = lambda r: "<Response/>" if r["Digits"] == "1" else "<Response><Hangup/></Response>"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=5, whisper_digits="1"))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert app.to("/twiml/accept")[0]["Digits"] == "1"
    assert len(call.events("bridged")) == 1
    done, = app.to("/twiml/dial-done")
    assert done["DialCallStatus"] == "completed" and done["DialBridged"] == "true"
    assert int(done["DialCallDuration"]) >= 5


def test_phone_that_hangs_up_during_the_whisper(app: CustomerApp, emulator: Emulator) -> None:
    """The callee picks up and hangs up while the whisper plays: the legs are never bridged, and the
    Dial action says so (completed, DialBridged=false, DialCallDuration=0), as Twilio reports it."""
    _dial_routes(app, whisper='<Response><Say>Een lange mededeling die even duurt voordat '
                              'de beller wordt doorverbonden</Say></Response>')
    emulator.register_phone(LIAISON, Phone("hangup-on-whisper", answer_after=1, whisper_hangup_after=1))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    assert call.events("bridged") == [] and leg.events("bridged") == []
    assert leg.ended_by == "callee" and leg.status == "completed"
    assert leg.events("answered")  # it did pick up
    done, = app.to("/twiml/dial-done")
    assert (done["DialCallStatus"], done["DialBridged"], done["DialCallDuration"]) == ("completed", "false", "0")
    assert done["DialCallSid"] == leg.sid
    assert call.said() == ["Einde completed"]  # the caller is still there: the action's TwiML plays
    kinds = [e.kind for e in call.transcript if e.kind.startswith(("callee", "whisper", "bridged", "dial_ended"))]
    assert kinds == ["callee_ringing", "callee_answered", "whisper_started", "callee_hangup", "whisper_ended",
                     "dial_ended"]
    assert call.events("whisper_ended")[0]["outcome"] == "hangup"
    assert call.events("dial_ended")[0]["bridged"] is False
    # The hang-up came during the whisper, one second after it started.
    started, = call.events("whisper_started")
    hung_up, = leg.events("hangup")
    assert 1 <= hung_up.t - started.t < 10
    # The leg's own status callbacks: answered, then completed with its (short) duration.
    statuses = [r["CallStatus"] for r in app.wait_for("/status-leg", 4)]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert no_application_errors(call, leg)


def test_hangup_on_whisper_is_a_behaviour_of_the_control_api(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app, whisper="<Response><Say>Een lange mededeling voor de medewerker, even geduld</Say></Response>")
    response = httpx.post(f"{emulator.base_url}/_emulator/phones",
                          json={"address": LIAISON, "behaviour": "hangup-on-whisper", "answer_after": 1,
                                "whisper_hangup_after": 0.5}, timeout=5)
    assert response.status_code == 201
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    done, = app.to("/twiml/dial-done")
    assert (done["DialCallStatus"], done["DialBridged"]) == ("completed", "false")
    assert call.events("bridged") == []


def test_a_declined_leg_leaves_the_others_ringing_and_the_action_names_it(app: CustomerApp,
                                                                          emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Dial action="/twiml/dial-done" timeout="10">'
        '<Number url="/twiml/whisper">+31600000010</Number><Number url="/twiml/whisper">+31600000011</Number>'
        "</Dial></Response>")
    app.routes["/twiml/whisper"] = lambda r: "<Response><Say>Een lange mededeling voor de medewerker</Say></Response>"
    emulator.register_phone("+31600000010", Phone("hangup-on-whisper", answer_after=1, whisper_hangup_after=0.5))
    emulator.register_phone("+31600000011", Phone("no-answer"))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    declined, ringing = call.children
    ringing.wait_until_ended()
    assert ringing.status == "no-answer"  # it rang on until the timeout
    done, = app.to("/twiml/dial-done")
    assert (done["DialCallStatus"], done["DialBridged"], done["DialCallSid"]) == ("completed", "false", declined.sid)
    assert done["DialCallDuration"] == "0"
    started, = call.events("dial_started")
    ended, = call.events("dial_ended")
    assert ended.t - started.t >= 10


def test_caller_hanging_up_while_the_phone_rings_cancels_the_leg(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app)
    emulator.register_phone(LIAISON, Phone("no-answer"))
    call = emulator.place_call(CALLER, LINE, CallerScript(hangup_when="ringing", hangup_delay=3))
    call.wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    assert leg.status == "canceled"
    assert call.status == "completed" and call.ended_by == "caller"
    done, = app.to("/twiml/dial-done")
    assert done["DialCallStatus"] == "canceled" and done["CallStatus"] == "completed"
    assert done["DialBridged"] == "false" and "DialCallDuration" not in done.params
    assert call.said() == []  # the action's TwiML is not played to a caller who left
    statuses = [r["CallStatus"] for r in app.wait_for("/status-leg", 3)]
    assert statuses == ["initiated", "ringing", "canceled"]


def test_caller_hanging_up_while_bridged_ends_the_callee_leg(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app)
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=600))
    call = emulator.place_call(CALLER, LINE, CallerScript(hangup_when="bridged", hangup_delay=10))
    call.wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    assert leg.status == "completed" and leg.ended_by == "caller"
    done, = app.to("/twiml/dial-done")
    assert done["DialCallStatus"] == "completed" and 9 <= int(done["DialCallDuration"]) <= 20
    assert done["DialBridged"] == "true"


def test_a_phone_on_a_call_answers_busy(app: CustomerApp, emulator: Emulator) -> None:
    _dial_routes(app)
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=100))
    first = emulator.place_call(CALLER, LINE)
    first.wait_for_event("bridged")
    second = emulator.place_call("+31600000002", LINE).wait_until_ended()
    assert second.said() == ["Einde busy"]
    first.wait_until_ended()
    assert emulator.dials_to(LIAISON) == 2


def test_simultaneous_dial_connects_the_first_to_answer(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Dial action="/twiml/dial-done"><Number>+31600000010</Number>'
        "<Sip>sip:desk@example.org</Sip></Dial></Response>")
    app.routes["/twiml/dial-done"] = lambda r: "<Response/>"
    emulator.register_phone("+31600000010", Phone("answer", answer_after=8, talk_seconds=5))
    emulator.register_phone("sip:desk@example.org", Phone("answer", answer_after=2, talk_seconds=5))
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    slow, fast = call.children
    assert app.to("/twiml/dial-done")[0]["DialCallSid"] == fast.sid
    assert app.to("/twiml/dial-done")[0]["DialBridged"] == "true"
    assert fast.status == "completed"
    slow.wait_until_ended()
    assert slow.status == "canceled"
