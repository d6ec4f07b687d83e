"""The callback list in the liaison console: own organisation only; take, postpone, complete, cancel."""

from __future__ import annotations

import re

from rq import Queue

from callrouter.domain.callbacks import CallbackState
from callrouter.services.callbacks import lifecycle as service
from tests.integration.staff_fixtures import Staff
from tests.integration.test_voice_webhooks import call_params, new_sid, twiml

SANNE = "+31612345601"


def nobody_callback(staff: Staff, *, org_key: str) -> int:
    """Sanne (Amsterdam) calls an organisation with nobody on duty and asks for a callback."""
    app = staff.app
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=SANNE)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, from_=SANNE, Digits=org_key)))
    twiml(app.post("/twilio/voice/callback/dialogue?step=nobody", call_params(sid, from_=SANNE, Digits="1")))
    [callback] = [c for c in app.container.voice.callbacks.in_states(frozenset(CallbackState)) if c.call_sid == sid]
    return callback.id


def act(staff: Staff, callback_id: int, action: str, **form: str):  # type: ignore[no-untyped-def]
    return staff.client.post(f"/staff/terugbellen/{callback_id}/{action}",
                             data={"csrf_token": staff.csrf("/staff/terugbellen"), **form}, follow_redirects=True)


def state(staff: Staff, callback_id: int) -> CallbackState:
    found = staff.app.container.voice.callbacks.get(callback_id)
    assert found is not None
    return found.state


def test_a_liaison_sees_and_changes_only_their_own_organisations_callbacks(staff: Staff) -> None:
    uwv = nobody_callback(staff, org_key="1")
    duo = nobody_callback(staff, org_key="3")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    page = staff.client.get("/staff/terugbellen").text
    assert re.search(rf"<th scope=\"row\">{uwv}</th>", page) and not re.search(rf"<th scope=\"row\">{duo}</th>", page)
    assert "Wacht in de rij" in page and "Amsterdam" in page
    token = staff.csrf("/staff/terugbellen")
    for action in ("oppakken", "uitstellen", "afronden", "annuleren"):
        response = staff.client.post(f"/staff/terugbellen/{duo}/{action}", data={"csrf_token": token, "reden": "x"})
        assert response.status_code == 404
    assert state(staff, duo) == CallbackState.SCHEDULED
    assert staff.client.post("/staff/terugbellen/999999/afronden", data={"csrf_token": token}).status_code == 404
    assert staff.client.post(f"/staff/terugbellen/{uwv}/afronden", data={}).status_code == 403  # no CSRF token


def test_taking_a_callback_calls_the_liaison_first(staff: Staff) -> None:
    callback_id = nobody_callback(staff, org_key="1")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    refused = act(staff, callback_id, "oppakken")
    assert "Fout: set yourself to available first" in refused.text and state(staff, callback_id) == CallbackState.SCHEDULED
    jan = staff.liaison_id("uwv-jan")
    staff.client.post(f"/staff/medewerkers/{jan}/beschikbaarheid", data={"status": "available", "csrf_token": staff.csrf()})
    deps = staff.app.container.voice
    queue = Queue("callrouter", connection=staff.app.container.redis)
    # Becoming available already routes the waiting callback to jan; taking it again is refused.
    assert [j.args for j in queue.get_jobs() if j.func_name.endswith("start_callback_attempt")] == [(callback_id, jan)]
    assert "already being handled by a colleague" in act(staff, callback_id, "oppakken").text
    assert service.start_attempt(deps, callback_id=callback_id, liaison_id=jan)
    assert [c["to"] for c in staff.app.telephony.created] == ["client:uwv-jan"]
    assert state(staff, callback_id) == CallbackState.DIALLING


def test_take_postpone_complete_and_cancel_with_a_reason(staff: Staff) -> None:
    first, second = nobody_callback(staff, org_key="1"), nobody_callback(staff, org_key="2")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.grant_liaison("tsl-marloes", "TSL", "tsl-marloes")
    staff.login("uwv-jan")
    act(staff, first, "uitstellen")
    assert state(staff, first) == CallbackState.REQUESTED
    assert "Fout: geef een reden" in act(staff, first, "annuleren").text
    assert state(staff, first) == CallbackState.REQUESTED
    done = act(staff, first, "annuleren", reden="opgelost per e-mail")
    assert "geannuleerd" in done.text and state(staff, first) == CallbackState.CANCELLED
    events = staff.app.container.voice.callbacks.events(first)
    assert "opgelost per e-mail" in events[-1].cause
    again = act(staff, first, "afronden")
    assert "Fout:" in again.text and state(staff, first) == CallbackState.CANCELLED
    assert state(staff, second) == CallbackState.SCHEDULED  # TSL's, untouched
    staff.client.post("/staff/uitloggen", data={"csrf_token": staff.csrf()})
    staff.login("tsl-marloes")
    act(staff, second, "afronden")
    assert state(staff, second) == CallbackState.COMPLETED
