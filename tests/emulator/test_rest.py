"""The REST API through the official twilio library; status callbacks and their fault injection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.emulator.conftest import ACCOUNT_SID, AUTH_TOKEN, CALLER, LIAISON, LINE, valid_signature
from tests.emulator.customer_app import CustomerApp
from twilio_emulator import Emulator, Phone, rewriting_http_client


@pytest.fixture()
def client(emulator: Emulator) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(emulator.base_url))


def test_create_fetch_and_end_an_outbound_call(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    app.routes["/twiml/outbound"] = lambda r: (
        '<Response><Say>U wordt gebeld</Say><Pause length="600"/></Response>')
    emulator.register_phone(LIAISON, Phone("answer", answer_after=2))
    created = client.calls.create(to=LIAISON, from_=LINE, url=app.url("/twiml/outbound"))
    assert created.sid.startswith("CA") and len(created.sid) == 34
    assert created.status == "queued" and created.direction == "outbound-api"
    assert created.to == LIAISON and created._from == LINE and created.account_sid == ACCOUNT_SID
    handle = emulator.call(created.sid)
    handle.wait_for_event("say")
    outbound, = app.to("/twiml/outbound")
    assert valid_signature(outbound)
    assert outbound["Direction"] == "outbound-api" and outbound["CallStatus"] == "in-progress"
    fetched = client.calls(created.sid).fetch()
    assert fetched.status == "in-progress"
    ended = client.calls(created.sid).update(status="completed")
    assert ended.status == "completed"
    handle.wait_until_ended()
    assert handle.ended_by == "api"
    assert client.calls(created.sid).fetch().duration is not None


def test_inline_twiml_and_no_answer_timeout(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    call = client.calls.create(to="+31699999999", from_=LINE, twiml="<Response><Say>Hoi</Say></Response>",
                               timeout=15)
    handle = emulator.call(call.sid).wait_until_ended()
    assert handle.status == "no-answer"
    assert client.calls(call.sid).fetch().status == "no-answer"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml="<Response><Say>Hoi</Say></Response>")
    assert emulator.call(call.sid).wait_until_ended().said() == ["Hoi"]


def test_unknown_call_is_404_and_redirecting_an_ended_call_is_21220(app: CustomerApp, emulator: Emulator,
                                                                      client: Client) -> None:
    with pytest.raises(TwilioRestException) as not_found:
        client.calls("CA" + "f" * 32).fetch()
    assert not_found.value.status == 404 and not_found.value.code == 20404
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml="<Response><Hangup/></Response>")
    emulator.call(call.sid).wait_until_ended()
    with pytest.raises(TwilioRestException) as not_in_progress:
        client.calls(call.sid).update(url=app.url("/twiml/elsewhere"))
    assert not_in_progress.value.status == 400 and not_in_progress.value.code == 21220
    assert "Call is not in-progress. Cannot redirect." in not_in_progress.value.msg


def test_bad_credentials_are_401(emulator: Emulator) -> None:
    bad = Client(ACCOUNT_SID, "wrong", http_client=rewriting_http_client(emulator.base_url))
    with pytest.raises(TwilioRestException) as denied:
        bad.calls.create(to=LIAISON, from_=LINE, twiml="<Response/>")
    assert denied.value.status == 401 and denied.value.code == 20003
    raw = httpx.get(f"{emulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert raw.status_code == 401 and raw.json()["code"] == 20003
    assert emulator.calls == []


def test_redirecting_a_queued_call_posts_queue_result_redirected(app: CustomerApp, emulator: Emulator,
                                                                 client: Client) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Enqueue action="/twiml/queue-done" waitUrl="/twiml/wait">liaisons</Enqueue>'
        "<Say>Na de wachtrij</Say></Response>")
    app.routes["/twiml/wait"] = lambda r: '<Response><Say>Even geduld</Say><Pause length="10"/></Response>'
    app.routes["/twiml/queue-done"] = lambda r: "<Response><Say>Dit hoort niemand</Say></Response>"
    app.routes["/twiml/connect"] = lambda r: (
        f'<Response><Say>U wordt doorverbonden</Say><Dial action="/twiml/dial-done">{LIAISON}</Dial></Response>')
    app.routes["/twiml/dial-done"] = lambda r: "<Response><Say>Tot ziens</Say><Hangup/></Response>"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=20))
    call = emulator.place_call(CALLER, LINE)
    call.wait_for(lambda t: sum(e.kind == "say" for e in t) >= 2)
    updated = client.calls(call.sid).update(url=app.url("/twiml/connect"), method="POST")
    assert updated.status == "in-progress"
    call.wait_until_ended()
    done, = app.to("/twiml/queue-done")
    assert done["QueueResult"] == "redirected" and int(done["QueueTime"]) >= 10
    connect, = app.to("/twiml/connect")
    assert valid_signature(connect)
    assert call.said()[-3:] == ["Even geduld", "U wordt doorverbonden", "Tot ziens"]
    assert "Dit hoort niemand" not in call.said() and "Na de wachtrij" not in call.said()
    kinds = [e.kind for e in call.transcript]
    assert kinds.index("redirected") < kinds.index("queue_left") < kinds.index("bridged")
    assert emulator.queue_size("liaisons") == 0


def test_redirecting_a_call_in_a_dial_posts_the_dial_action_and_ignores_its_twiml(
        app: CustomerApp, emulator: Emulator, client: Client) -> None:
    """Twilio's changelog "Changes to <Dial> behavior" (24 May 2021): modified during a <Dial> with an action,
    the parent call still requests the action, but runs the new TwiML, not the action's; the callee leg ends."""
    app.routes["/twiml/voice"] = lambda r: (
        f'<Response><Dial action="/twiml/dial-done">{LIAISON}</Dial><Say>Na de Dial</Say></Response>')
    app.routes["/twiml/dial-done"] = lambda r: "<Response><Say>Dit hoort niemand</Say></Response>"
    app.routes["/twiml/transfer"] = lambda r: "<Response><Say>U wordt doorverbonden</Say></Response>"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=600))
    call = emulator.place_call(CALLER, LINE)
    call.wait_for(lambda t: any(e.kind == "bridged" for e in t))
    client.calls(call.sid).update(url=app.url("/twiml/transfer"), method="POST")
    call.wait_until_ended()
    leg, = call.children
    leg.wait_until_ended()
    assert leg.status == "completed"
    done, = app.wait_for("/twiml/dial-done", 1)
    assert valid_signature(done) and done["DialCallStatus"] == "completed" and done["CallSid"] == call.sid
    assert done["DialBridged"] == "true"  # the legs were bridged when the redirect came
    assert call.said() == ["U wordt doorverbonden"]  # not the action's TwiML, not the verb after <Dial>


def test_rest_call_with_status_callbacks(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    emulator.register_phone(LIAISON, Phone("answer", answer_after=3))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml='<Response><Pause length="7"/></Response>',
                               status_callback=app.url("/status-api?leg=liaison"),
                               status_callback_event=["initiated", "ringing", "answered", "completed"])
    emulator.call(call.sid).wait_until_ended()
    callbacks = app.to("/status-api")
    assert [r["CallStatus"] for r in callbacks] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r["SequenceNumber"] for r in callbacks] == ["0", "1", "2", "3"]
    for r in callbacks:
        assert valid_signature(r)
        assert r["CallbackSource"] == "call-progress-events" and r["CallSid"] == call.sid
        assert r["Timestamp"].endswith("+0000")
    assert "CallDuration" not in callbacks[2].params
    assert 6 <= int(callbacks[3]["CallDuration"]) <= 12
    assert len({r.headers["i-twilio-idempotency-token"] for r in callbacks}) == 4


def test_inbound_status_callback_only_completed_by_default(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Pause length="4"/></Response>'
    emulator.place_call(CALLER, LINE).wait_until_ended()
    callback, = app.to("/status")
    assert callback["CallStatus"] == "completed" and callback["SequenceNumber"] == "0"
    assert callback["Direction"] == "inbound"


def test_duplicate_status_callbacks(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    emulator.duplicate_status_callbacks = True
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml="<Response/>",
                               status_callback=app.url("/status-api"),
                               status_callback_event=["answered", "completed"])
    emulator.call(call.sid).wait_until_ended()
    callbacks = app.to("/status-api")
    assert [(r["CallStatus"], r["SequenceNumber"]) for r in callbacks] == [
        ("in-progress", "0"), ("in-progress", "0"), ("completed", "1"), ("completed", "1")]
    tokens = [r.headers["i-twilio-idempotency-token"] for r in callbacks]
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]


def test_reordered_status_callbacks(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    emulator.reorder_status_callbacks = True
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml="<Response/>",
                               status_callback=app.url("/status-api"),
                               status_callback_event="initiated ringing answered completed")
    emulator.call(call.sid).wait_until_ended()
    callbacks = app.to("/status-api")
    assert [r["SequenceNumber"] for r in callbacks] == ["3", "2", "1", "0"]
    assert [r["CallStatus"] for r in callbacks] == ["completed", "in-progress", "ringing", "initiated"]


def _timestamp(received: object) -> datetime:
    return parsedate_to_datetime(received["Timestamp"])  # type: ignore[index]


def test_late_status_callbacks_keep_the_time_of_their_event(app: CustomerApp, emulator: Emulator,
                                                            client: Client) -> None:
    """status_callback_delay: every status callback is delivered that long after its event, in order;
    its Timestamp is still the moment of the event, as in a late delivery by Twilio."""
    delay = 30.0
    emulator.status_callback_delay = delay
    emulator.register_phone(LIAISON, Phone("answer", answer_after=3))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml='<Response><Pause length="5"/></Response>',
                               status_callback=app.url("/status-api"),
                               status_callback_event=["initiated", "ringing", "answered", "completed"])
    handle = emulator.call(call.sid)
    handle.wait_for_event("answered")
    assert app.to("/status-api") == []  # nothing delivered yet: the first one is due 30 s after "initiated"
    handle.wait_until_ended(timeout=15)
    callbacks = app.to("/status-api")  # all delivered once the call counts as done
    assert [r["CallStatus"] for r in callbacks] == ["initiated", "ringing", "in-progress", "completed"]
    assert [r["SequenceNumber"] for r in callbacks] == ["0", "1", "2", "3"]
    clock = emulator.engine.clock
    moments = {"initiated": handle.events("call_started")[0].t, "ringing": handle.events("ringing")[0].t,
               "in-progress": handle.events("answered")[0].t, "completed": handle.events("hangup")[0].t}
    deliveries = handle.events("status_callback")
    assert len(deliveries) == 4
    for received, delivered in zip(callbacks, deliveries, strict=True):
        happened = clock.wall(moments[received["CallStatus"]])
        stamped = _timestamp(received)
        assert abs((stamped - happened).total_seconds()) <= 1  # RFC 2822: whole seconds
        assert (clock.wall(delivered.t) - stamped).total_seconds() >= delay - 1  # delivered late
        assert delivered["params"]["Timestamp"] == received["Timestamp"]
    emulator.status_callback_delay = 0


def test_the_wall_clock_can_be_the_machine_s(app: CustomerApp) -> None:
    """wall_clock="real": Timestamps are the machine's clock, while simulated time runs time_scale as fast."""
    from tests.emulator.conftest import make_config

    with Emulator(make_config(app, wall_clock="real")) as em:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(em.base_url))
        em.register_phone(LIAISON, Phone("answer", answer_after=1))
        before = datetime.now(UTC).replace(microsecond=0)
        call = client.calls.create(to=LIAISON, from_=LINE, twiml='<Response><Pause length="60"/></Response>',
                                   status_callback=app.url("/status-api"),
                                   status_callback_event=["initiated", "completed"])
        em.call(call.sid).wait_until_ended(timeout=15)
        after = datetime.now(UTC)
        initiated, completed = app.to("/status-api")
        assert int(completed["CallDuration"]) >= 60  # simulated seconds
        assert before <= _timestamp(initiated) <= _timestamp(completed) <= after  # real ones: about 1.2 s
        assert (_timestamp(completed) - _timestamp(initiated)).total_seconds() < 10
        em.wait_until_idle()
    with pytest.raises(ValueError, match="wall_clock"):
        make_config(app, wall_clock="sundial")


def test_the_wall_clock_can_be_set_to_an_application_s_clock(app: CustomerApp, emulator: Emulator,
                                                              client: Client) -> None:
    """set_wall_clock: the dates read the given moment now and run on (simulated time) from there."""
    demo_morning = datetime(2026, 11, 27, 8, 55, tzinfo=UTC)
    emulator.set_wall_clock(demo_morning)
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    call = client.calls.create(to=LIAISON, from_=LINE, twiml='<Response><Pause length="30"/></Response>',
                               status_callback=app.url("/status-api"), status_callback_event=["completed"])
    emulator.call(call.sid).wait_until_ended(timeout=15)
    completed, = app.to("/status-api")
    assert timedelta(seconds=30) <= _timestamp(completed) - demo_morning <= timedelta(seconds=60)
    with pytest.raises(ValueError):
        emulator.set_wall_clock(datetime(2026, 11, 27, 8, 55))  # no time zone


def test_status_callback_delay_through_the_control_api(emulator: Emulator) -> None:
    base = emulator.base_url + "/_emulator"
    faults = httpx.post(f"{base}/faults", json={"status_callback_delay": 12.5}, timeout=5).json()
    assert faults["status_callback_delay"] == 12.5 and emulator.status_callback_delay == 12.5
    assert httpx.post(f"{base}/faults", json={"status_callback_delay": -1}, timeout=5).status_code == 400
    assert httpx.post(f"{base}/faults", json={"status_callback_delay": "soon"}, timeout=5).status_code == 400
    assert httpx.post(f"{base}/faults", json={"status_callback_delay": 0}, timeout=5).json()["status_callback_delay"] == 0
    with pytest.raises(ValueError):
        emulator.status_callback_delay = -3


def test_list_calls(emulator: Emulator, client: Client) -> None:
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1))
    sid = client.calls.create(to=LIAISON, from_=LINE, twiml="<Response/>").sid
    emulator.call(sid).wait_until_ended()
    listed = client.calls.list(to=LIAISON, limit=20)
    assert [c.sid for c in listed] == [sid]


def test_redirect_a_live_call_with_inline_twiml(app: CustomerApp, emulator: Emulator, client: Client) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Say>Welkom</Say><Pause length="600"/></Response>'
    call = emulator.place_call(CALLER, LINE)
    call.wait_for_event("pause")
    client.calls(call.sid).update(twiml="<Response><Say>Onderbroken</Say><Hangup/></Response>")
    call.wait_until_ended()
    assert call.said() == ["Welkom", "Onderbroken"]
    assert call.ended_by == "twiml"
