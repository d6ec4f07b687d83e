"""Hardening of the web side: rate limits (login starts, wrong API tokens, unsigned webhooks, exports),
bounded logins under way, liaison-bound API tokens, security events, forged log lines, the Origin check on
staff POSTs, and the staff audit log with its retention."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callrouter.cli.app import app as cli
from callrouter.domain.staff import Grant, Role
from callrouter.logging_setup import SafeFormatter
from callrouter.ports.audit import AuditEntry
from callrouter.services.retention import run_retention
from tests.integration.conftest import PUBLIC_URL, UWV_TOKEN, App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import log_in_as, staff_with_calls  # noqa: F401 - a fixture

ROUNDS = 300


def security_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [SafeFormatter().format(r) for r in caplog.records if r.getMessage().startswith(f"security.{event} ")]


def lid(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


# -- rate limits -------------------------------------------------------------------------------------

def test_login_starts_are_limited_per_source_and_leave_bounded_state(staff: Staff,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    codes = [staff.client.get("/staff/inloggen/rijk", follow_redirects=False).status_code for _ in range(ROUNDS)]
    limit = 20  # CALLROUTER_RATE_LIMIT_LOGIN_STARTS default 20/minute
    assert codes.count(303) == limit and codes.count(429) == ROUNDS - limit
    refused = staff.client.get("/staff/inloggen/rijk", follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    redis = staff.app.container.redis
    keys = list(redis.scan_iter("callrouter:staff:login:*"))
    assert len(keys) == limit and all(0 < redis.ttl(k) <= 180 for k in keys)
    assert security_lines(caplog, "rate_limited")[0].endswith("origin=testclient")
    other = TestClient(staff.client.app, base_url=PUBLIC_URL, client=("10.1.2.3", 5000))
    assert other.get("/staff/inloggen/rijk", follow_redirects=False).status_code == 303  # per source


def test_logins_under_way_are_capped_per_source(app_factory, issuers) -> None:  # noqa: ANN001
    from tests.staff_login import provider_entry

    app = app_factory(oidc_providers=json.dumps([provider_entry(issuers[0], key="rijk", label="Rijks-inlog")]),
                      rate_limit_login_starts="1000/minute", staff_login_pending_per_source=5)
    client = TestClient(app.client.app, base_url=PUBLIC_URL)
    codes = [client.get("/staff/inloggen/rijk", follow_redirects=False).status_code for _ in range(50)]
    assert codes.count(303) == 5 and codes.count(429) == 45
    assert len(list(app.container.redis.scan_iter("callrouter:staff:login:*"))) == 5


def test_wrong_api_tokens_are_limited_per_source(app: App, caplog: pytest.LogCaptureFixture) -> None:
    path = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    codes = [app.api("GET", path, token=f"guess-{n}").status_code for n in range(ROUNDS)]
    assert codes.count(401) == 10 and codes.count(429) == ROUNDS - 10
    refused = app.api("GET", path)  # even the right token, from this source, until the window passes
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    other = TestClient(app.client.app, client=("10.9.8.7", 4000))
    assert other.get(path, headers={"Authorization": "Bearer admin-token"}).status_code == 200
    assert len(security_lines(caplog, "http_401")) == 10
    assert "origin=testclient" in security_lines(caplog, "http_401")[0]


def test_unsigned_webhooks_are_limited_per_source(app: App, caplog: pytest.LogCaptureFixture) -> None:
    params = {"CallSid": "CA" + "1" * 32, "From": "+31612345601", "To": "+31850001000"}
    codes = [app.post("/twilio/voice/incoming", params, signed=False).status_code for _ in range(ROUNDS)]
    assert codes.count(403) == 30 and codes.count(429) == ROUNDS - 30
    refused = app.post("/twilio/voice/incoming", params, signed=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert len(security_lines(caplog, "signature_refused")) == 31  # the 31st turned into the first 429
    other = TestClient(app.client.app, client=("10.2.2.2", 4000))
    assert other.post("/twilio/voice/incoming", data=params).status_code == 403  # per source


def test_exports_are_limited_per_account(staff_with_calls: Staff) -> None:  # noqa: F811
    log_in_as(staff_with_calls, "sup", Grant(Role.SUPERVISOR))
    codes = [staff_with_calls.client.get("/staff/dashboard?format=csv").status_code for _ in range(ROUNDS)]
    assert codes.count(200) == 30 and codes.count(429) == ROUNDS - 30
    refused = staff_with_calls.client.get("/staff/dashboard/oproepen?format=json")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert staff_with_calls.client.get("/staff/dashboard").status_code == 200  # pages are not exports


# -- API token roles ---------------------------------------------------------------------------------

def test_a_liaison_token_moves_only_its_own_liaison(app: App, caplog: pytest.LogCaptureFixture) -> None:
    other = f"/api/liaisons/{lid(app, 'uwv-ingrid')}/presence"
    response = app.api("PUT", other, token=UWV_TOKEN, json={"status": "away"})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert app.api("GET", other).json()["status"] == "offline"
    own = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    assert app.api("PUT", own, token=UWV_TOKEN, json={"status": "away"}).json()["status"] == "away"
    assert "origin=testclient" in security_lines(caplog, "http_403")[0]
    duo = f"/api/liaisons/{lid(app, 'duo-eva')}/presence"
    assert app.api("PUT", duo, token=UWV_TOKEN, json={"status": "away"}).status_code == 404
    assert "organisation=DUO" in security_lines(caplog, "cross_organisation")[0]


def test_hashed_tokens_are_accepted(app_factory) -> None:  # noqa: ANN001
    digest = hashlib.sha256(b"a-real-token").hexdigest()
    app = app_factory(api_tokens=f"sha256:{digest}:liaison:UWV:uwv-jan")
    path = f"/api/liaisons/{lid(app, 'uwv-jan')}/presence"
    assert app.api("PUT", path, token="a-real-token", json={"status": "available"}).status_code == 200
    assert app.api("GET", path, token=digest).status_code == 401  # the digest itself is no token


# -- log lines ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["%0D%0A", "%0A", "%00", "%0D"])
def test_a_forged_login_callback_writes_no_line_of_its_own(staff: Staff, caplog: pytest.LogCaptureFixture,
                                                          char: str) -> None:
    forged = f"/staff/auth/callback/x{char}2026-11-25T09:00:00+00:00%20INFO%20callrouter.staff%20staff.login%20account=1"
    assert staff.client.get(forged).status_code in (400, 404)
    lines = [SafeFormatter().format(r) for r in caplog.records]
    assert lines and all("\n" not in line and "\r" not in line and "\x00" not in line for line in lines)
    assert not any(line.startswith("2026-11-25T09:00:00") for text in lines for line in text.splitlines()[1:])


@pytest.mark.parametrize("char", ["\r", "\n", "\x00"])
@pytest.mark.parametrize("field", ["CallSid", "To", "From"])
def test_signed_webhook_fields_are_logged_escaped(app: App, caplog: pytest.LogCaptureFixture, field: str,
                                                  char: str) -> None:
    params = {"CallSid": "CA" + "2" * 32, "From": "+31612345601", "To": "+31850001999"}
    params[field] = params[field] + char + "2026-11-25T09:00:00+00:00 INFO callrouter.staff staff.login account=1"
    with caplog.at_level(logging.DEBUG, logger="callrouter"):
        assert app.post("/twilio/voice/incoming", params).status_code == 200
        app.post("/twilio/voice/status", {**params, "CallStatus": "weird" + char + "x"})
    lines = [SafeFormatter().format(r) for r in caplog.records]
    assert lines and all("\n" not in line and "\r" not in line and "\x00" not in line for line in lines)


# -- Origin ------------------------------------------------------------------------------------------

def test_staff_posts_from_a_foreign_origin_are_refused(staff: Staff, caplog: pytest.LogCaptureFixture) -> None:
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    token = {"X-CSRF-Token": staff.csrf()}
    extend = "/staff/sessie/verlengen"
    for foreign in ({"Origin": "https://evil.example"}, {"Origin": "http://callrouter.example.nl"},
                    {"Origin": "null", "Sec-Fetch-Site": "cross-site"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/page"}, {"Sec-Fetch-Site": "same-site"}):
        assert staff.client.post(extend, headers={**token, **foreign}).status_code == 403, foreign
    assert len(security_lines(caplog, "origin_refused")) == 6
    for own in ({"Origin": PUBLIC_URL}, {"Origin": "https://CALLROUTER.example.nl:443"},
                {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, {"Referer": PUBLIC_URL + "/staff/console"}, {}):
        assert staff.client.post(extend, headers={**token, **own}).status_code == 200, own
    assert staff.client.post(extend, headers={"Origin": PUBLIC_URL, "X-CSRF-Token": "wrong"}).status_code == 403
    assert "origin=testclient" in security_lines(caplog, "csrf_refused")[0]


# -- the audit log -----------------------------------------------------------------------------------

def test_call_pages_drilldowns_and_exports_are_audited_and_purged(staff_with_calls: Staff,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    staff = staff_with_calls
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    audit = staff.app.container.parts.audit
    assert staff.client.get("/staff/dashboard").status_code == 200  # not audited: figures only
    assert staff.client.get("/staff/dashboard/oproepen?cijfer=opgehangen&organisatie=UWV").status_code == 200
    listed = staff.client.get("/staff/dashboard/oproepen?format=json&organisatie=UWV").json()
    ref = listed["rows"][0]["call_id"]
    assert staff.client.get(f"/staff/dashboard/oproepen/{ref}").status_code == 200
    assert staff.client.get("/staff/dashboard/oproepen/999999").status_code == 404  # not audited: not shown
    entries = audit.entries()
    assert [e.action for e in entries] == ["call_page", "export", "drilldown"]
    account = entries[0].account_id
    assert all(e.account_id == account and e.origin == "testclient" and e.at.tzinfo is not None for e in entries)
    assert entries[1].filters == {"format": "json", "organisatie": "UWV"}
    assert entries[2].filters == {"cijfer": "opgehangen", "organisatie": "UWV"}
    assert entries[0].target == f"/staff/dashboard/oproepen/{ref}"

    monkeypatch.setenv("CALLROUTER_DATABASE_URL", staff.app.container.settings.database_url)
    shown = CliRunner().invoke(cli, ["audit", "list", "--action", "export", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["filters"]["organisatie"] == "UWV" and rows[0]["account"].endswith(" sup")
    text = CliRunner().invoke(cli, ["audit", "list", "--account", str(account)])
    assert text.exit_code == 0 and len(text.stdout.splitlines()) == 3

    old = datetime.now(UTC) - timedelta(days=731)
    audit.record(AuditEntry(at=old, account_id=account, action="export", target="/staff/dashboard",
                            filters={"format": "csv"}))
    report = run_retention(staff.app.container.parts.retention)
    assert report.audit_entries_deleted == 1 and len(audit.entries(since=old - timedelta(days=1))) == 3
