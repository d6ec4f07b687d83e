"""TwiML interpretation: signed webhooks, Say/Gather/Redirect, Enqueue and application errors."""

from __future__ import annotations

import re

from tests.emulator.conftest import CALLER, LINE, no_application_errors, valid_signature
from tests.emulator.customer_app import CustomerApp
from twilio_emulator import CallerScript, Emulator


def test_webhooks_are_signed_over_the_exact_url_and_carry_standard_params(app: CustomerApp,
                                                                             emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Redirect method="GET">next?step=2</Redirect></Response>'
    app.routes["/twiml/next"] = lambda r: "<Response><Say language=\"nl-NL\">Dag</Say><Hangup/></Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    voice, = app.to("/twiml/voice")
    nxt, = app.to("/twiml/next")
    status, = app.wait_for("/status")
    for received in (voice, nxt, status):
        assert valid_signature(received), received.url
        assert received.headers["content-type"] == "application/x-www-form-urlencoded"
        assert received.headers["i-twilio-idempotency-token"]
    assert voice.method == "POST"
    assert re.fullmatch(r"CA[0-9a-f]{32}", voice["CallSid"])
    assert voice["CallSid"] == call.sid
    assert {k: voice[k] for k in ("Direction", "From", "To", "Caller", "Called", "ApiVersion", "CallStatus")} == {
        "Direction": "inbound", "From": CALLER, "To": LINE, "Caller": CALLER, "Called": LINE,
        "ApiVersion": "2010-04-01", "CallStatus": "ringing"}
    assert voice["AccountSid"].startswith("AC")
    # method="GET": the parameters travel in the query string, after the document's own query.
    assert nxt.method == "GET"
    assert nxt.url.startswith(app.url("/twiml/next?step=2&"))
    assert "CallStatus=in-progress" in nxt.url
    assert call.events("say")[0].data == {"text": "Dag", "voice": "man", "language": "nl-NL"}
    assert call.ended_by == "twiml" and call.status == "completed"
    assert no_application_errors(call)


def test_gather_posts_digits_to_the_relative_action(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Gather action="menu" timeout="8"><Say>Kies 1 of 2, dan hekje</Say></Gather>'
        "<Say>Niets gekozen</Say></Response>")
    app.routes["/twiml/menu"] = lambda r: f"<Response><Say>Gekozen {r['Digits']}</Say></Response>"
    call = emulator.place_call(CALLER, LINE, CallerScript(digits=["12#"])).wait_until_ended()
    menu, = app.to("/twiml/menu")
    assert menu["Digits"] == "12" and menu["FinishedOnKey"] == "#"
    assert valid_signature(menu)
    assert call.said() == ["Kies 1 of 2, dan hekje", "Gekozen 12"]
    assert call.events("say")[0]["interrupted"] is True  # barge-in
    assert no_application_errors(call)


def test_gather_without_action_posts_to_the_current_document(app: CustomerApp, emulator: Emulator) -> None:
    def voice(r):  # type: ignore[no-untyped-def]
        if "Digits" in r.params:
            return f"<Response><Say>Keuze {r['Digits']}</Say></Response>"
        return '<Response><Gather numDigits="1"><Say>Kies</Say></Gather></Response>'

    app.routes["/twiml/voice"] = voice
    call = emulator.place_call(CALLER, LINE, CallerScript(digits=["37"])).wait_until_ended()
    assert call.said() == ["Kies", "Keuze 3"]  # numDigits=1: the 7 is not part of it


def test_gather_timeout_continues_with_the_next_verb(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Gather action="/twiml/menu" timeout="8"><Say>Kies</Say></Gather>'
        "<Say>Geen keuze</Say></Response>")
    call = emulator.place_call(CALLER, LINE, CallerScript(digits=[None])).wait_until_ended()
    assert app.to("/twiml/menu") == []
    assert call.said() == ["Kies", "Geen keuze"]
    started, = call.events("gather_started")
    timed_out, = call.events("gather_timeout")
    assert timed_out.t - started.t >= 8  # the simulated timeout, plus the prompt


def test_gather_action_on_empty_result_posts_empty_digits(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Gather action="/twiml/menu" actionOnEmptyResult="true" timeout="3"/>'
        "<Say>Niet bereikt</Say></Response>")
    app.routes["/twiml/menu"] = lambda r: "<Response><Say>Leeg</Say></Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    menu, = app.to("/twiml/menu")
    assert menu["Digits"] == ""
    assert call.said() == ["Leeg"]


def test_enqueue_requests_wait_url_in_a_loop_until_leave(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue action="/twiml/queue-done" waitUrl="/twiml/wait">liaisons</Enqueue>'
        "<Say>Never reached</Say></Response>")

    def wait(r):  # type: ignore[no-untyped-def]
        if len(app.to("/twiml/wait")) >= 3:
            return "<Response><Leave/></Response>"
        return '<Response><Say>U staat in de wacht</Say><Pause length="5"/></Response>'

    app.routes["/twiml/wait"] = wait
    app.routes["/twiml/queue-done"] = lambda r: f"<Response><Say>Resultaat {r['QueueResult']}</Say></Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    waits = app.to("/twiml/wait")
    assert len(waits) == 3
    for w in waits:
        assert valid_signature(w)
        assert w["QueuePosition"] == "1" and w["CurrentQueueSize"] == "1"
        assert re.fullmatch(r"QU[0-9a-f]{32}", w["QueueSid"])
        assert {"QueueTime", "AvgQueueTime", "MaxQueueSize"} <= w.params.keys()
    assert int(waits[2]["QueueTime"]) >= 10
    done, = app.to("/twiml/queue-done")
    assert done["QueueResult"] == "leave" and done["QueueSid"] == waits[0]["QueueSid"]
    assert int(done["QueueTime"]) >= 10
    assert call.said() == ["U staat in de wacht", "U staat in de wacht", "Resultaat leave"]
    assert [e["result"] for e in call.events("queue_left")] == ["leave"]
    assert emulator.queue_size("liaisons") == 0


def test_queue_positions_of_two_waiting_callers(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Enqueue waitUrl="/twiml/wait">q</Enqueue></Response>'
    app.routes["/twiml/wait"] = lambda r: '<Response><Pause length="4"/></Response>'
    first = emulator.place_call(CALLER, LINE, CallerScript(hangup_after=30))
    first.wait_for_event("enqueued")
    second = emulator.place_call("+31600000002", LINE, CallerScript(hangup_after=20))
    second.wait_until_ended()
    first.wait_until_ended()
    of_second = [w for w in app.to("/twiml/wait") if w["CallSid"] == second.sid]
    assert {w["QueuePosition"] for w in of_second} == {"2"}
    assert {w["CurrentQueueSize"] for w in of_second} == {"2"}


def test_leave_without_action_continues_after_enqueue(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue waitUrl="/twiml/wait">q</Enqueue><Say>Na de wachtrij</Say></Response>')
    app.routes["/twiml/wait"] = lambda r: "<Response><Leave/></Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.said() == ["Na de wachtrij"]


def test_caller_hanging_up_in_the_queue_posts_queue_result_hangup(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue action="/twiml/queue-done" waitUrl="/twiml/wait">q</Enqueue></Response>')
    app.routes["/twiml/wait"] = lambda r: '<Response><Play loop="0">https://example.org/hold.mp3</Play></Response>'
    call = emulator.place_call(CALLER, LINE, CallerScript(hangup_when="queued", hangup_delay=40))
    call.wait_until_ended()
    done, = app.to("/twiml/queue-done")
    assert done["QueueResult"] == "hangup" and done["CallStatus"] == "completed"
    assert 39 <= int(done["QueueTime"]) <= 50
    assert call.ended_by == "caller"
    assert emulator.queue_size("q") == 0


def test_non_2xx_and_non_xml_answers_are_application_errors(app: CustomerApp, emulator: Emulator) -> None:
    from fastapi.responses import PlainTextResponse, Response

    app.routes["/twiml/voice"] = lambda r: '<Response><Redirect>/twiml/broken</Redirect></Response>'
    app.routes["/twiml/broken"] = lambda r: Response("oops", status_code=500)
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    error, = call.events("application_error")
    assert error["code"] == 11200
    assert call.said() == ["We are sorry, an application error has occurred. Goodbye."]
    assert not no_application_errors(call)

    app.routes["/twiml/broken"] = lambda r: PlainTextResponse("hello")
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.events("application_error")[0]["code"] == 12300

    app.routes["/twiml/broken"] = lambda r: "<Response><Say>unclosed</Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.events("application_error")[0]["code"] == 12100


def test_document_without_hangup_ends_the_call(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Say loop="2">Hallo</Say><Pause/></Response>'
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.said() == ["Hallo", "Hallo"]
    assert call.status == "completed"
    assert call.events("pause")[0]["length"] == 1


def test_reject_busy(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Reject reason="busy"/></Response>'
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.status == "busy"
    assert call.events("answered") == []


def test_gather_in_the_wait_url_can_take_the_caller_out_of_the_queue(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue action="/twiml/queue-done" waitUrl="/twiml/wait">q</Enqueue></Response>')
    app.routes["/twiml/wait"] = lambda r: (
        '<Response><Gather numDigits="1" action="/twiml/wait-choice" timeout="2">'
        "<Say>Druk 1 om teruggebeld te worden</Say></Gather></Response>")
    app.routes["/twiml/wait-choice"] = lambda r: (
        "<Response><Leave/></Response>" if r["Digits"] == "1" else "<Response><Say>Blijf wachten</Say></Response>")
    app.routes["/twiml/queue-done"] = lambda r: "<Response><Say>We bellen u terug</Say></Response>"
    call = emulator.place_call(CALLER, LINE, CallerScript(digits=[None, "5", "1"])).wait_until_ended()
    assert [r["Digits"] for r in app.to("/twiml/wait-choice")] == ["5", "1"]
    assert len(app.to("/twiml/wait")) == 3
    assert app.to("/twiml/queue-done")[0]["QueueResult"] == "leave"
    prompt = "Druk 1 om teruggebeld te worden"
    assert call.said() == [prompt, prompt, "Blijf wachten", prompt, "We bellen u terug"]
    assert no_application_errors(call)


def test_verbs_not_allowed_in_a_wait_url_are_errors(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue action="/twiml/queue-done" waitUrl="/twiml/wait">q</Enqueue></Response>')
    app.routes["/twiml/wait"] = lambda r: "<Response><Dial>+31600000001</Dial></Response>"
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert call.events("application_error")[0]["code"] == 12100
    assert app.to("/twiml/queue-done")[0]["QueueResult"] == "error"
