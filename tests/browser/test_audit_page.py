"""The audit log page in Chromium: functioneel beheer reads and filters it by keyboard; axe-core finds no
violation; screenshots go to tests/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from callrouter.domain.staff import Grant, Role
from callrouter.ports.audit import AuditEntry
from tests.browser.conftest import Live
from tests.browser.test_wait_honesty import no_violations


def test_functioneel_beheer_reads_the_audit_log_and_filters_by_keyboard(page: Page, live: Live) -> None:
    audit = live.container.parts.audit
    now = datetime.now(UTC)
    audit.record(AuditEntry(at=now - timedelta(minutes=4), account_id=7, action="export", target="/staff/dashboard",
                            filters={"format": "csv"}, origin="10.1.2.3"))
    audit.record(AuditEntry(at=now - timedelta(minutes=2), account_id=8, action="call_page",
                            target="/staff/dashboard/oproepen/12", origin="10.1.2.4"))
    live.container_accounts().grant(issuer=live.issuer, subject="nieuw", by="test", at=now, grant=Grant(Role.ADMIN))
    page.goto(f"{live.url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name="nieuw", exact=True).click()
    page.get_by_role("link", name="Auditlog (wie opende welke gegevens)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Auditlog")
    table = page.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first).to_contain_text("/staff/dashboard/oproepen/12")
    no_violations(page, "audit-log")

    page.get_by_label("Actie").select_option("export")
    page.get_by_role("button", name="Toon regels").press("Enter")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("table")).to_contain_text("10.1.2.3")

    page.goto(f"{live.url}/staff/beheer/auditlog?account=jan")
    expect(page.get_by_role("alert")).to_contain_text("veld: account")
    no_violations(page, "audit-log-refused")
