"""The voice webhooks as Twilio calls them: signatures, bad input, replays, menus, hours, failures.

In-process app (FastAPI TestClient) on a real Redis and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from callrouter.domain.calls import EventKind
from tests.integration.conftest import AMSTERDAM, AUTH_TOKEN, PUBLIC_URL, App

PRO_LINE = "+31850001000"
SANNE = "+31612345601"  # registered caseworker, Amsterdam


def new_sid() -> str:
    return "CA" + uuid4().hex


def call_params(sid: str, *, from_: str = SANNE, to: str = PRO_LINE, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": "in-progress",
            "Direction": "inbound", "From": from_, "To": to, "Caller": from_, "Called": to, **extra}


def twiml(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> str:
    return " ".join(el.text or "" for el in root.iter("Say"))


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


# -- signatures --------------------------------------------------------------------------------

def test_unsigned_or_wrongly_signed_requests_are_refused(app: App) -> None:
    sid = new_sid()
    assert app.post("/twilio/voice/incoming", call_params(sid), signed=False).status_code == 403
    assert app.post("/twilio/voice/incoming", call_params(sid), signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    other_host = app.validator.compute_signature("https://attacker.example/twilio/voice/incoming", call_params(sid))
    assert app.post("/twilio/voice/incoming", call_params(sid), signature=other_host).status_code == 403
    tampered = app.validator.compute_signature(PUBLIC_URL + "/twilio/voice/incoming", call_params(sid))
    assert app.post("/twilio/voice/incoming", call_params(sid, From="+31600000000"), signature=tampered).status_code == 403
    assert app.container.voice.calls.get(sid) is None


def test_the_signature_is_checked_against_the_public_url_not_the_request_url(app: App) -> None:
    # The test client sends to http://testserver; Twilio signed https://callrouter.example.nl.
    root = twiml(app.post("/twilio/voice/incoming", call_params(new_sid())))
    assert "loket Amsterdam" in said(root)


def test_without_an_auth_token_every_webhook_is_refused(app_factory) -> None:  # noqa: ANN001
    app = app_factory(twilio_auth_token="")
    assert app.post("/twilio/voice/incoming", call_params(new_sid())).status_code == 403


def test_the_query_string_is_part_of_the_signed_url(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    params = call_params(sid, Digits="1")
    signed_for_other_step = app.validator.compute_signature(PUBLIC_URL + "/twilio/voice/menu?step=topic", params)
    response = app.client.post("/twilio/voice/menu?step=organisation", data=params,
                               headers={"X-Twilio-Signature": signed_for_other_step})
    assert response.status_code == 403


# -- bad input ---------------------------------------------------------------------------------

def test_an_unknown_line_hears_that_the_number_is_not_in_use(app: App) -> None:
    sid = new_sid()
    root = twiml(app.post("/twilio/voice/incoming", call_params(sid, to="+31859999999")))
    assert "niet in gebruik" in said(root) and verbs(root)[-1] == "Hangup"
    assert app.container.voice.calls.get(sid) is None


@pytest.mark.parametrize("missing", ["CallSid", "From", "To"])
def test_a_partial_form_gets_valid_twiml_and_changes_nothing(app: App, missing: str) -> None:
    sid = new_sid()
    params = call_params(sid)
    del params[missing]
    root = twiml(app.post("/twilio/voice/incoming", params))
    assert "Sorry" in said(root) and verbs(root)[-1] == "Hangup"
    assert app.container.voice.calls.get(sid) is None


def test_a_malformed_body_gets_valid_twiml(app: App) -> None:
    body = b"%%%&&&CallSid"
    sig = app.validator.compute_signature(PUBLIC_URL + "/twilio/voice/incoming", {"%%%": "", "CallSid": ""})
    response = app.client.post("/twilio/voice/incoming", content=body, headers={
        "X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert verbs(twiml(response))[-1] == "Hangup"


def test_a_call_sid_the_service_does_not_know_is_answered_calmly(app: App) -> None:
    root = twiml(app.post("/twilio/voice/menu?step=topic", call_params(new_sid(), Digits="1")))
    assert verbs(root) == ["Hangup"]
    assert app.post("/twilio/voice/status", call_params(new_sid(), CallStatus="completed")).status_code == 200
    root = twiml(app.post("/twilio/voice/connect?liaison=1", call_params(new_sid())))
    assert verbs(root) == ["Hangup"]


def test_a_menu_step_that_is_not_known_gets_an_apology(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(app.post("/twilio/voice/menu?step=nonsense", call_params(sid, Digits="1")))
    assert "Sorry" in said(root) and verbs(root)[-1] == "Hangup"


def test_a_key_out_of_range_asks_again_and_counts_the_try(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="7")))
    assert verbs(root) == ["Gather"]
    assert "Die toets kennen we hier niet" in said(root)
    assert "Om te herhalen, toets sterretje" in said(root)
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.menu_tries == 1 and record.organisation is None


# -- menus -------------------------------------------------------------------------------------

def test_silence_never_hangs_up_three_tries_then_a_person(app: App) -> None:
    app.post("/api/liaisons/1/presence", {})  # no effect: not signed, not an API call with a token
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    sid = new_sid()
    first = twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    gather = first.find("Gather")
    assert gather is not None and gather.get("actionOnEmptyResult") == "true" and gather.get("timeout") == "8"
    for _ in range(2):
        root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="")))
        assert verbs(root) == ["Gather"] and "We hoorden geen toets" in said(root)
    root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="")))
    assert "Enqueue" in verbs(root)  # the counter's first organisation, any liaison
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.organisation == "UWV" and record.topic == "*"
    kinds = [e.kind for e in app.container.voice.calls.events(sid)]
    assert kinds.count(EventKind.MENU_NO_INPUT) == 3


def liaison(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


def test_amsterdam_gets_seven_organisations_on_two_pages_and_english_on_nine(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'ind-tom')}/presence", json={"status": "available"})
    sid = new_sid()
    first = said(twiml(app.post("/twilio/voice/incoming", call_params(sid))))
    assert "Voor een andere organisatie, toets 4" in first and "For English, press 9" in first
    english = said(twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="9"))))
    assert "Which organisation" in english
    page_two = said(twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="4"))))
    assert "press 4" in page_two and "another organisation" not in page_two
    # Page two of Amsterdam: SVB, CJIB, CAK, IND; IND is key 4.
    topic = said(twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="4"))))
    assert "What is your question about" in topic and "naturalisation" in topic.lower()
    queued = twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="2")))
    assert "Enqueue" in verbs(queued)
    record = app.container.voice.calls.get(sid)
    assert record is not None and (record.organisation, record.language) == ("IND", "en")


def test_utrecht_is_offered_only_its_own_organisations(app: App) -> None:
    sid = new_sid()
    text = said(twiml(app.post("/twilio/voice/incoming", call_params(sid, from_="+31612345611"))))
    assert "loket Utrecht" in text
    assert "Voor IND" not in text and "andere organisatie" not in text
    assert text.count("toets") == 5  # four organisations and 0


def test_a_citizen_line_has_its_own_short_flow(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    sid = new_sid()
    root = twiml(app.post("/twilio/voice/incoming", call_params(sid, from_="+31611112222", to="+31850001101")))
    assert "Waar gaat uw vraag over" in said(root) and "medewerkerscode" not in said(root)
    queued = twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    assert "Enqueue" in verbs(queued) and "voor op de wachtende burgers" not in said(queued)
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.priority_class.value == "cit"


# -- hours -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "spoken"), [
    (datetime(2026, 11, 28, 12, 0, tzinfo=AMSTERDAM), "maandag 30 november om 08:00"),  # Saturday
    (datetime(2026, 11, 25, 18, 0, tzinfo=AMSTERDAM), "morgen om 08:00"),  # Wednesday evening
    (datetime(2026, 11, 26, 7, 0, tzinfo=AMSTERDAM), "vandaag om 08:00"),
    (datetime(2026, 12, 25, 10, 0, tzinfo=AMSTERDAM), "maandag 28 december om 08:00"),  # Christmas
])
def test_a_closed_organisation_says_when_it_opens_and_ends_politely(app_factory, moment: datetime, spoken: str) -> None:  # noqa: ANN001
    app = app_factory(moment=moment, open_all_hours=False)
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))  # UWV
    assert f"We zijn weer open op {spoken}" in said(root)
    assert verbs(root) == ["Gather"] and "Zullen we u dan terugbellen? Toets 1" in said(root)
    # No answer to the callback offer: the call ends politely, recorded as closed.
    ended = twiml(app.post("/twilio/voice/callback/dialogue?step=closed", call_params(sid, Digits="")))
    assert verbs(ended) == ["Hangup"]
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.outcome == "closed" and record.organisation == "UWV"


def test_nobody_on_duty_is_said_and_the_call_ends_with_the_public_number(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    assert "geen medewerker van" in said(root) and "088" in said(root)
    assert verbs(root) == ["Gather"] and "terugbellen zodra er iemand is" in said(root)


# -- replays and failures ----------------------------------------------------------------------

def test_the_same_signed_request_twice_has_one_effect(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_="+31698765400")))
    params = call_params(sid, from_="+31698765400", Digits="00000000")
    first = app.post("/twilio/voice/pin", params, idempotency="tok-1")
    again = app.post("/twilio/voice/pin", params, idempotency="tok-1")
    assert first.text == again.text
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.pin_tries == 1
    # A second, distinct delivery of the same keys is a new try (Twilio gives it a new token).
    app.post("/twilio/voice/pin", params, idempotency="tok-2")
    assert app.container.voice.calls.get(sid).pin_tries == 2  # type: ignore[union-attr]


def test_a_failure_inside_gives_an_apology_with_the_public_number_never_a_5xx(app: App, monkeypatch) -> None:  # noqa: ANN001
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))

    def broken(**_kwargs: object) -> None:
        raise ConnectionError("redis went away")

    twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    monkeypatch.setattr(app.container.router, "enqueue", broken)  # the call joins the router's line at its first hold turn
    root = twiml(app.post("/twilio/voice/wait", call_params(sid, QueueTime="0")))
    assert "Sorry, er ging iets mis" in said(root) and "088 898 929 4" in said(root)
    assert verbs(root)[-1] == "Hangup"


def test_logs_hold_no_phone_number_or_pin(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="callrouter")
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_="+31698765411")))
    twiml(app.post("/twilio/voice/pin", call_params(sid, from_="+31698765411", Digits="100486420531")))
    twiml(app.post("/twilio/voice/incoming", call_params(new_sid(), from_="+31698765411", to="+31859999999")))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "+31698765411" not in text and "98765411" not in text and "8642" not in text
    assert AUTH_TOKEN not in text
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.caller_masked.endswith("11") and "9876" not in record.caller_masked


# -- waiting -----------------------------------------------------------------------------------

def test_waiting_callers_hear_position_and_wait_after_30_s_then_about_every_90_s(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})
    sids = []
    for caller in ("+31612345601", "+31612345602"):
        sid = new_sid()
        twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=caller)))
        twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, from_=caller, Digits="1")))
        queued = twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, from_=caller, Digits="1")))
        assert "U gaat voor op de wachtende burgers" in said(queued)  # acknowledged at once
        enqueue = queued.find("Enqueue")
        assert enqueue is not None and enqueue.get("waitUrl", "").endswith("/twilio/voice/wait")
        # Twilio starts the hold loop once the acknowledgement is said: the call joins the router's line then.
        twiml(app.post("/twilio/voice/wait", call_params(sid, from_=caller, QueueTime="0")))
        sids.append(sid)
        app.clock.moment += timedelta(seconds=5)
    second = sids[1]

    def wait_turn(queue_time: int) -> ET.Element:
        return twiml(app.post("/twilio/voice/wait", call_params(second, QueueTime=str(queue_time))))

    first_turn = wait_turn(0)
    assert said(first_turn) == "" and verbs(first_turn) == ["Gather"]  # hold, with key 1 for a callback
    assert [child.tag for child in first_turn.find("Gather")] == ["Pause"]
    announced = said(wait_turn(31))
    assert "U bent nummer 2. U wacht nog ongeveer" in announced
    assert "Liever teruggebeld worden? U houdt uw plek in de rij. Toets 1." in announced
    assert said(wait_turn(60)) == ""
    assert said(wait_turn(100)) == ""
    assert "U bent nummer 2" in said(wait_turn(125))
