"""Every webhook field is checked against Twilio's documented form and range before it is used.

A value out of form or range gets the ordinary answer for bad input (TwiML, a logged warning), never
an exception with a stack trace, and changes nothing.
"""

from __future__ import annotations

import logging

import pytest

from callrouter.domain.calls import CallState
from tests.integration.conftest import App
from tests.integration.test_voice_webhooks import call_params, liaison, new_sid, said, twiml, verbs

CITIZEN_LINE = "+31850001101"
HUGE = "9" * 4300  # Python's limit for int() of a decimal string


def no_traces(caplog: pytest.LogCaptureFixture) -> None:
    traced = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not traced, [r.getMessage() for r in traced]


def bad_input_logged(caplog: pytest.LogCaptureFixture, name: str) -> None:
    assert any(r.levelno == logging.WARNING and "webhook.bad_request" in r.getMessage() and name in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def queued_call(app: App) -> str:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/wait", call_params(sid, QueueTime="0")))
    return sid


@pytest.mark.parametrize(("field", "value"), [
    ("CallSid", "CA" + "0" * 31),  # one hex digit short
    ("CallSid", "CA" + "G" * 32),
    ("CallSid", "XX" + "0" * 32),
    ("CallSid", "CA" + "0" * 32 + "\n"),
    ("CallSid", "CA" + "a" * 10_000),
    ("From", "0612345601"),  # not E.164
    ("From", "+31 6 1234 5601"),
    ("From", "+" + "3" * 16),
    ("From", "client:" + "x" * 500),
    ("To", "+31850001000<Say>"),
    ("To", "mailto:someone"),
])
def test_a_malformed_id_or_number_on_a_new_call_is_bad_input(app: App, caplog: pytest.LogCaptureFixture,
                                                               field: str, value: str) -> None:
    caplog.set_level(logging.INFO, logger="callrouter")
    sid = new_sid()
    params = call_params(sid, **({} if field == "CallSid" else {}))
    params[field] = value
    if field == "From":
        params["Caller"] = value
    root = twiml(app.post("/twilio/voice/incoming", params))
    assert "Sorry" in said(root) and verbs(root)[-1] == "Hangup"
    assert app.container.voice.calls.get(sid) is None
    bad_input_logged(caplog, field)
    no_traces(caplog)


@pytest.mark.parametrize("number", ["client:uwv-jan", "sip:loket@pbx.example.nl", "anonymous"])
def test_other_documented_caller_forms_are_accepted(app: App, number: str) -> None:
    root = twiml(app.post("/twilio/voice/incoming", call_params(new_sid(), from_=number)))
    assert "Sorry" not in said(root)


@pytest.mark.parametrize("digits", ["12a4", "1" * 65, "１２３４", "1 2", "-1"])
def test_digits_other_than_keys_are_bad_input(app: App, caplog: pytest.LogCaptureFixture, digits: str) -> None:
    caplog.set_level(logging.INFO, logger="callrouter")
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_="+31698765455")))
    root = twiml(app.post("/twilio/voice/pin", call_params(sid, from_="+31698765455", Digits=digits)))
    assert verbs(root)[-1] == "Hangup"
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.pin_tries == 0
    root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(new_sid(), Digits=digits)))
    assert verbs(root)[-1] == "Hangup"
    bad_input_logged(caplog, "Digits")
    no_traces(caplog)


@pytest.mark.parametrize("queue_time", ["1" + "0" * 400, HUGE, "-5", "9" * 13, "1e9", "0x10", "٣"])
def test_a_queue_time_out_of_range_is_bad_input(app: App, caplog: pytest.LogCaptureFixture, queue_time: str) -> None:
    sid = queued_call(app)
    caplog.set_level(logging.INFO, logger="callrouter")
    root = twiml(app.post("/twilio/voice/wait", call_params(sid, QueueTime=queue_time)))
    assert verbs(root)[-1] == "Hangup" and "Sorry" in said(root)
    bad_input_logged(caplog, "QueueTime")
    no_traces(caplog)


@pytest.mark.parametrize("sequence", [str(2**63), str(2**64 + 1), HUGE, "-1", str(2**31)])
def test_a_status_sequence_number_out_of_range_is_bad_input(app: App, caplog: pytest.LogCaptureFixture,
                                                            sequence: str) -> None:
    sid = queued_call(app)
    caplog.set_level(logging.INFO, logger="callrouter")
    response = app.post("/twilio/voice/status", call_params(sid, CallStatus="completed", SequenceNumber=sequence))
    assert response.status_code == 200
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state != CallState.ENDED  # nothing recorded from it
    bad_input_logged(caplog, "SequenceNumber")
    no_traces(caplog)


@pytest.mark.parametrize("path", [
    "/twilio/voice/connect?liaison=" + "1" * 4300,
    "/twilio/voice/connect?liaison=" + str(2**63),
    "/twilio/voice/connect?liaison=0",
    "/twilio/voice/callback/liaison?cb=" + str(2**63) + "&a=1",
    "/twilio/voice/callback/liaison?cb=1&a=" + "9" * 30,
    "/twilio/voice/whisper?call=CA123&liaison=1",
    "/twilio/voice/liaison-status?call=" + "CA" + "z" * 32 + "&liaison=1",
])
def test_query_numbers_and_ids_out_of_range_are_bad_input(app: App, caplog: pytest.LogCaptureFixture,
                                                          path: str) -> None:
    caplog.set_level(logging.INFO, logger="callrouter")
    response = app.post(path, call_params(new_sid(), CallStatus="completed"))
    assert response.status_code == 200
    bad_input_logged(caplog, "(query)")
    no_traces(caplog)


@pytest.mark.parametrize(("field", "value"), [
    ("DialCallDuration", "1" + "0" * 400), ("DialCallDuration", str(2**63)), ("DialBridged", "maybe"),
    ("DialCallStatus", "x" * 1000),
])
def test_dial_results_out_of_form_are_bad_input(app: App, caplog: pytest.LogCaptureFixture, field: str,
                                                value: str) -> None:
    sid = queued_call(app)
    caplog.set_level(logging.INFO, logger="callrouter")
    params = call_params(sid, DialCallStatus="completed", DialCallDuration="12", DialBridged="true")
    params[field] = value
    root = twiml(app.post("/twilio/voice/dial-result?liaison=1", params))
    assert verbs(root)[-1] == "Hangup"
    bad_input_logged(caplog, field)
    no_traces(caplog)


def test_a_timestamp_out_of_range_is_ignored_calmly(app: App, caplog: pytest.LogCaptureFixture) -> None:
    sid = queued_call(app)
    caplog.set_level(logging.INFO, logger="callrouter")
    for stamp in ("Wed, 25 Nov 99999 10:00:00 +0000", "Wed, 25 Nov 2026 10:00:00 +9999", "x" * 100):
        response = app.post("/twilio/voice/status", call_params(sid, CallStatus="ringing", SequenceNumber="1",
                                                                Timestamp=stamp))
        assert response.status_code == 200
    no_traces(caplog)


def test_a_call_sid_reused_on_another_kind_of_line_gets_no_trace(app: App, caplog: pytest.LogCaptureFixture) -> None:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    caplog.set_level(logging.INFO, logger="callrouter")
    citizen = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(citizen, from_="+31611112222", to=CITIZEN_LINE)))
    root = twiml(app.post("/twilio/voice/incoming", call_params(citizen)))  # the same CallSid on the professional line
    assert verbs(root)
    twiml(app.post("/twilio/voice/pin", call_params(citizen, Digits="10048642")))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(citizen, Digits="1")))
    professional = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(professional)))
    twiml(app.post("/twilio/voice/incoming", call_params(professional, from_="+31611112222", to=CITIZEN_LINE)))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(professional, Digits="1")))
    unknown = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(unknown, from_="+31698765466")))
    twiml(app.post("/twilio/voice/incoming", call_params(unknown, from_="+31611112222", to=CITIZEN_LINE)))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(unknown, Digits="1")))
    twiml(app.post("/twilio/voice/pin", call_params(unknown, Digits="10048642")))
    no_traces(caplog)
    record = app.container.voice.calls.get(citizen)
    assert record is not None and record.line_kind == "citizen"
