"""Staff login (OpenID Connect code flow with PKCE), sessions, CSRF and need-to-know, against a local
OpenID provider (tests/oidc_provider.py) on 127.0.0.1, a real Redis and SQLite/PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callrouter.config import DEV_OIDC_SECRET, InsecureSettings, Settings
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind
from callrouter.web.staff_auth.providers import parse_providers
from callrouter.web.staff_auth.sessions import login_key
from tests.integration.conftest import PUBLIC_URL
from tests.integration.staff_fixtures import Staff
from tests.staff_login import authorize, query_of, tamper_next_token


def cookie_value(response: Any, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "=") and "Max-Age=0" not in header and 'expires=Thu, 01 Jan 1970' not in header:
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


SESSION = "__Host-callrouter-staff"


# -- login -----------------------------------------------------------------------------------------

def test_a_new_account_gets_no_rights_and_sees_no_access_yet(staff: Staff) -> None:
    response = staff.login("nieuw")
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION))
    assert "HttpOnly" in header and "Secure" in header and "SameSite=lax" in header and "Path=/" in header
    page = staff.client.get("/staff/", follow_redirects=False)
    assert page.status_code == 200 and "nog geen toegang" in page.text and "nieuw" in page.text
    assert staff.client.get("/staff/console").status_code == 404
    (account,) = staff.web.accounts.all()
    assert (account.issuer, account.subject, account.grants) == (staff.issuers[0], "nieuw", ())


def test_the_authorization_request_uses_pkce_s256_a_nonce_and_a_state(staff: Staff) -> None:
    query = query_of(staff.start())
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert len(query["nonce"]) >= 32 and len(query["state"]) >= 32 and query["response_type"] == "code"
    assert query["redirect_uri"] == f"{PUBLIC_URL}/staff/auth/callback/rijk"


def test_the_session_id_changes_at_login(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    first = cookie_value(staff.login("uwv-jan"), SESSION)
    assert staff.client.get("/staff/console").status_code == 200
    second = cookie_value(staff.login("uwv-jan"), SESSION)
    assert first and second and first != second
    assert len(staff.session_keys()) == 1  # the session from before the login is gone
    staff.client.cookies.set(SESSION, first, domain="callrouter.example.nl")
    assert staff.client.get("/staff/console", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("case", "claims", "other_key"), [
    ("wrong nonce", {"nonce": "not-the-nonce-we-sent"}, False),
    ("wrong audience", {"aud": "another-client"}, False),
    ("expired", {"exp": 1_000_000_000, "iat": 999_999_000}, False),
    ("wrong issuer", {"iss": "https://idp.attacker.example"}, False),
    ("signed by another key", {}, True),
])
def test_a_bad_id_token_is_refused_and_no_session_is_created(staff: Staff, case: str, claims: dict[str, object],
                                                             other_key: bool) -> None:
    callback_url = authorize(staff.start(), "uwv-jan")
    tamper_next_token(staff.issuers[0], claims=claims, other_key=other_key)
    response = staff.callback(callback_url)
    assert response.status_code == 400, case
    assert "Inloggen mislukt" in response.text
    assert cookie_value(response, SESSION) is None and staff.session_keys() == []
    assert staff.web.accounts.all() == []


def test_a_bad_or_replayed_state_is_refused(staff: Staff) -> None:
    callback_url = authorize(staff.start(), "uwv-jan")
    forged = re.sub(r"state=[^&]+", "state=forged", callback_url)
    assert staff.callback(forged).status_code == 400
    # the real state was not used up by the forgery, but is after one use:
    assert staff.callback(callback_url).status_code == 303
    assert staff.callback(callback_url).status_code == 400
    assert len(staff.session_keys()) == 1


def test_a_callback_in_another_browser_or_for_another_provider_is_refused(staff: Staff) -> None:
    callback_url = authorize(staff.start(), "uwv-jan")
    other = TestClient(staff.client.app, base_url=PUBLIC_URL)  # no login cookie: not the browser that started
    assert other.get(callback_url[len(PUBLIC_URL):], follow_redirects=False).status_code == 400
    callback_url = authorize(staff.start(), "uwv-jan")
    assert staff.callback(callback_url.replace("/callback/rijk", "/callback/tweede")).status_code == 400
    assert staff.session_keys() == []


def test_a_tampered_pkce_verifier_is_refused_by_the_provider(staff: Staff) -> None:
    callback_url = authorize(staff.start(), "uwv-jan")
    redis = staff.app.container.redis
    key = login_key(query_of(callback_url)["state"])
    pending = json.loads(redis.get(key))
    redis.set(key, json.dumps({**pending, "code_verifier": pending["code_verifier"][::-1]}))
    response = staff.callback(callback_url)
    assert response.status_code == 400 and staff.session_keys() == [] and staff.web.accounts.all() == []


def test_two_issuers_at_once_give_two_accounts(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan", issuer=0)
    staff.login("uwv-jan", key="rijk")
    assert staff.client.get("/staff/console").status_code == 200
    staff.login("uwv-jan", key="tweede")  # same subject at another issuer: another person
    assert "nog geen toegang" in staff.client.get("/staff/").text
    assert sorted(a.issuer for a in staff.web.accounts.all()) == sorted(staff.issuers)


# -- sessions --------------------------------------------------------------------------------------

class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_idle_expiry_and_polling_does_not_keep_a_session_alive(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    clock = Clock(datetime.now(UTC).timestamp())
    staff.web.sessions.clock = clock
    staff.login("uwv-jan")
    idle = staff.app.container.settings.staff_session_idle_seconds
    for step in (idle / 2, idle / 2 - 2):  # polled twice; still within the idle time of the login
        clock.now += step
        assert staff.client.get("/staff/console/live").status_code == 200
    clock.now += 2  # idle time since the last request the person made: the polls did not count
    assert staff.client.get("/staff/console/live").status_code == 401
    assert staff.client.get("/staff/console", follow_redirects=False).headers["location"].startswith("/staff/inloggen")
    assert staff.session_keys() == []


def test_absolute_expiry_however_active(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    clock = Clock(datetime.now(UTC).timestamp())
    staff.web.sessions.clock = clock
    staff.login("uwv-jan")
    settings = staff.app.container.settings
    step = settings.staff_session_idle_seconds - 10
    elapsed = 0
    while elapsed + step < settings.staff_session_absolute_seconds:
        clock.now += step
        elapsed += step
        assert staff.client.get("/staff/console").status_code == 200
    clock.now += step
    assert staff.client.get("/staff/console", follow_redirects=False).status_code == 303


def test_extending_the_session_moves_its_expiry(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    clock = Clock(datetime.now(UTC).timestamp())
    staff.web.sessions.clock = clock
    staff.login("uwv-jan")
    token = staff.csrf()
    clock.now += 600
    response = staff.client.post("/staff/sessie/verlengen", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    assert response.json()["expires_at"] == int(clock.now + staff.app.container.settings.staff_session_idle_seconds)
    assert staff.client.post("/staff/sessie/verlengen").status_code == 403


def test_logout_ends_the_session_here_and_at_the_provider(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    old = cookie_value(staff.login("uwv-jan"), SESSION)
    token = staff.csrf()
    response = staff.client.post("/staff/uitloggen", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith(f"{staff.issuers[0]}/oauth2/end_session?")
    query = query_of(target)
    assert query["post_logout_redirect_uri"] == f"{PUBLIC_URL}/staff/inloggen?uitgelogd=1" and query["id_token_hint"]
    assert staff.session_keys() == []
    staff.client.cookies.set(SESSION, old or "", domain="callrouter.example.nl")
    assert staff.client.get("/staff/console", follow_redirects=False).status_code == 303


# -- CSRF ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_a_state_changing_request_without_the_right_csrf_token_is_refused(staff: Staff, token: str | None) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    jan = staff.liaison_id("uwv-jan")
    data = {"status": "available", **({"csrf_token": token} if token else {})}
    response = staff.client.post(f"/staff/medewerkers/{jan}/beschikbaarheid", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert staff.presence("uwv-jan") == "offline"
    logout = {"csrf_token": token} if token else {}
    assert staff.client.post("/staff/uitloggen", data=logout, follow_redirects=False).status_code == 403
    assert len(staff.session_keys()) == 1
    good = staff.client.post(f"/staff/medewerkers/{jan}/beschikbaarheid",
                             data={"status": "available", "csrf_token": staff.csrf()}, follow_redirects=False)
    assert good.status_code == 303 and staff.presence("uwv-jan") == "available"


# -- need to know ----------------------------------------------------------------------------------

def answered_call(staff: Staff, *, org: str, liaison: str, topic: str) -> str:
    """A call of `org` that `liaison` answered and finished, written straight into the call record."""
    sid = f"CA{org.lower()}{datetime.now(UTC).timestamp():.0f}{topic}"
    now = staff.app.clock.now()
    calls = staff.app.container.voice.calls
    calls.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.MENU, received_at=now - timedelta(minutes=5)),
                    detail={})
    calls.apply(sid, event=EventKind.COMPLETED, at=now, move=CallMove.END, organisation=org, topic=topic,
                location="AMS", liaison_id=staff.liaison_id(liaison), queued_at=now - timedelta(minutes=4),
                offered_at=now - timedelta(minutes=3), answered_at=now - timedelta(minutes=3), ended_at=now)
    return sid


def test_a_uwv_liaison_cannot_see_or_change_duo_calls_or_presence(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    duo_call = answered_call(staff, org="DUO", liaison="duo-eva", topic="studiefinanciering")
    staff.login("uwv-jan")
    token = staff.csrf()
    assert staff.client.get(f"/staff/gesprekken/{duo_call}").status_code == 404
    response = staff.client.post(f"/staff/gesprekken/{duo_call}/uitkomst",
                                 data={"csrf_token": token, "result": "resolved"})
    assert response.status_code == 404 and staff.web.console.outcomes.get(duo_call) is None
    for other in ("duo-eva", "uwv-ingrid"):
        response = staff.client.post(f"/staff/medewerkers/{staff.liaison_id(other)}/beschikbaarheid",
                                     data={"csrf_token": token, "status": "available"})
        assert response.status_code == 404 and staff.presence(other) == "offline"
    assert "Eva" not in staff.client.get("/staff/console").text


def test_a_liaison_records_and_changes_the_outcome_of_their_own_call_only(staff: Staff) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    mine = answered_call(staff, org="UWV", liaison="uwv-jan", topic="ww")
    colleague = answered_call(staff, org="UWV", liaison="uwv-ingrid", topic="wia")
    staff.login("uwv-jan")
    token = staff.csrf()
    page = staff.client.get("/staff/console").text
    assert "Uitkomst vastleggen" in page and "WW-uitkering" in page
    bad = staff.client.post(f"/staff/gesprekken/{mine}/uitkomst", data={"csrf_token": token, "result": "referred"})
    assert bad.status_code == 422 and "Kies de organisatie" in bad.text and 'aria-invalid="true"' in bad.text
    long = staff.client.post(f"/staff/gesprekken/{mine}/uitkomst",
                             data={"csrf_token": token, "result": "resolved", "note": "x" * 501})
    assert long.status_code == 422 and staff.web.console.outcomes.get(mine) is None
    ok = staff.client.post(f"/staff/gesprekken/{mine}/uitkomst", follow_redirects=False,
                           data={"csrf_token": token, "result": "referred", "referred_organisation": "DUO",
                                 "note": "Studieschuld speelt mee."})
    assert ok.status_code == 303
    outcome = staff.web.console.outcomes.get(mine)
    assert (outcome.result.value, outcome.referred_organisation, outcome.note) == ("referred", "DUO",
                                                                                    "Studieschuld speelt mee.")
    staff.client.post(f"/staff/gesprekken/{mine}/uitkomst", data={"csrf_token": token, "result": "resolved",
                                                                    "referred_organisation": "DUO"})
    changed = staff.web.console.outcomes.get(mine)
    assert changed.result.value == "resolved" and changed.referred_organisation is None
    assert changed.recorded_at == outcome.recorded_at
    # a colleague's call of the same organisation: visible, but no outcome from Jan
    assert staff.client.get(f"/staff/gesprekken/{colleague}").status_code == 200
    refused = staff.client.post(f"/staff/gesprekken/{colleague}/uitkomst", data={"csrf_token": token,
                                                                                "result": "resolved"})
    assert refused.status_code == 409 and "U voerde dit gesprek niet" in refused.text
    assert staff.web.console.outcomes.get(colleague) is None
    # after the edit window the outcome stays as it is
    staff.app.clock.moment += timedelta(seconds=staff.app.container.settings.staff_outcome_edit_seconds + 1)
    late = staff.client.post(f"/staff/gesprekken/{mine}/uitkomst", data={"csrf_token": token, "result": "not_for_us"})
    assert late.status_code == 409 and staff.web.console.outcomes.get(mine).result.value == "resolved"


def test_staff_pages_carry_strict_security_headers(staff: Staff) -> None:
    for path in ("/staff/inloggen", "/staff/static/theme.css"):
        headers = staff.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    assert staff.client.get("/staff/inloggen").headers["cache-control"] == "no-store"
    assert "content-security-policy" not in staff.client.get("/healthz").headers


def test_production_refuses_default_or_plain_http_provider_settings() -> None:
    entry = [{"label": "X", "issuer": "https://idp.example.nl", "client_id": "c", "client_secret": DEV_OIDC_SECRET}]
    with pytest.raises(InsecureSettings):
        Settings(environment="production", twilio_auth_token="t", pseudonym_key="k", api_tokens="a:admin:*",
                 oidc_providers=json.dumps(entry))
    plain = [{"label": "X", "issuer": "http://idp.example.nl", "client_id": "c", "client_secret": "s"}]
    with pytest.raises(InsecureSettings):
        parse_providers(json.dumps(plain), environment="production")
    assert parse_providers(json.dumps(plain), environment="development")[0].slug() == "x"
