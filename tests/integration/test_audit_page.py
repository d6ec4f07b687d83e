"""The audit log on a staff page: functioneel beheer reads who opened which call page, drill-down or export,
filters it and downloads it as CSV; every other role is refused; a bad filter is refused naming the field."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from callrouter.domain.staff import Grant, Role
from callrouter.ports.audit import AuditEntry
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import log_in_as, staff_with_calls  # noqa: F401 - a fixture

PAGE = "/staff/beheer/auditlog"


def test_an_administrator_reads_filters_and_downloads_the_audit_log(staff_with_calls: Staff) -> None:  # noqa: F811
    staff = staff_with_calls
    audit = staff.app.container.parts.audit
    now = datetime.now(UTC)
    audit.record(AuditEntry(at=now - timedelta(minutes=5), account_id=41, action="export",
                            target="/staff/dashboard", filters={"format": "csv", "organisatie": "UWV"}, origin="10.0.0.7"))
    audit.record(AuditEntry(at=now - timedelta(minutes=3), account_id=42, action="call_page",
                            target="/staff/dashboard/oproepen/7", origin="10.0.0.8"))
    audit.record(AuditEntry(at=now - timedelta(days=20), account_id=41, action="drilldown",
                            target="/staff/dashboard/oproepen", filters={"cijfer": "opgehangen"}))
    log_in_as(staff, "beheer", Grant(Role.ADMIN))
    assert f'href="{PAGE}"' in staff.client.get("/staff/").text

    page = staff.client.get(PAGE)
    assert page.status_code == 200, page.text[:400]
    assert page.text.count("<tr data-entry=") == 2  # the last 7 days, newest first
    assert page.text.index("/staff/dashboard/oproepen/7") < page.text.index("organisatie=UWV")
    assert "10.0.0.7" in page.text and "Download (CSV of JSON)" in page.text

    older = staff.client.get(PAGE, params={"van": (now - timedelta(days=30)).date().isoformat(), "account": "41"})
    assert older.status_code == 200 and older.text.count("<tr data-entry=") == 2
    assert "cijfer=opgehangen" in older.text and "/staff/dashboard/oproepen/7" not in older.text
    only = staff.client.get(PAGE, params={"actie": "call_page"})
    assert only.text.count("<tr data-entry=") == 1

    download = staff.client.get(PAGE, params={"format": "csv", "van": (now - timedelta(days=30)).date().isoformat()})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["action"] for r in rows] == ["call_page", "export", "drilldown"]
    assert rows[1]["filters"] == '{"format": "csv", "organisatie": "UWV"}' and rows[1]["origin"] == "10.0.0.7"


def test_only_functioneel_beheer_reads_the_audit_log(staff_with_calls: Staff) -> None:  # noqa: F811
    staff = staff_with_calls
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    refused = staff.client.get(PAGE)
    assert refused.status_code == 403 and "functioneel beheer" in refused.text
    assert f'href="{PAGE}"' not in staff.client.get("/staff/").text
    assert staff.client.get(PAGE, params={"format": "csv"}).status_code == 403


def test_a_bad_filter_is_refused_naming_the_field_and_reads_nothing(staff_with_calls: Staff) -> None:  # noqa: F811
    staff = staff_with_calls
    log_in_as(staff, "beheer", Grant(Role.ADMIN))
    for params, field in [({"van": "gisteren"}, "van"), ({"tot": "2026-13-01"}, "tot"),
                          ({"van": "2026-11-20", "tot": "2026-11-10"}, "van"), ({"account": "jan"}, "account"),
                          ({"actie": "alles"}, "actie"), ({"format": "xml"}, "format"), ({"organisatie": "UWV"},
                                                                                        "organisatie")]:
        answer = staff.client.get(PAGE, params=params)
        assert answer.status_code == 400, (params, answer.status_code)
        assert f"(veld: {field})" in answer.text and "<tr data-entry=" not in answer.text
