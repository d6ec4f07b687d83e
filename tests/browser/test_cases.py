"""The cases page in Chromium: a supervisor reads the multi-organisation figures, axe-core finds no
serious or critical violation, a screenshot goes to tests/artifacts/cases.png; a bad filter is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.case_repository import SqlCaseStore
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.browser.test_dashboard import log_in_supervisor
from tests.integration.test_dashboard import abandoned, answered, call


def todays_cases(live: Live) -> None:
    """Three cases today from 09:00 Amsterdam: UWV + SVB twice, DUO alone."""
    nine = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=9, minute=0, second=0, microsecond=0)
    calls, cases = SqlCallStore(live.container.sessions), SqlCaseStore(live.container.sessions)
    plan = [(1, "UWV", "ww", answered(15)), (1, "SVB", "aow", answered(30)), (2, "UWV", "wia", abandoned(40)),
            (2, "SVB", "kinderbijslag", answered(10)), (3, "DUO", "studiefinanciering", answered(5))]
    for index, (worker, org, topic, events) in enumerate(plan):
        call(calls, f"k{index}", 2 * index, org, topic, "AMS", "professional", events, day_start=nine)
        cases.attach(call_sid=f"k{index}", caseworker_id=worker, location="AMS", reference=None,
                     at=(nine + timedelta(minutes=2 * index)).astimezone(UTC))


def test_a_supervisor_reads_the_cases_page(page: Page, live: Live) -> None:
    todays_cases(live)
    log_in_supervisor(page, live)
    page.goto(f"{live.url}/staff/dashboard/zaken")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Zaken met meerdere organisaties")
    expect(page.locator('[data-figure="cases"]')).to_have_text("3")
    expect(page.locator('[data-figure="multi"]')).to_have_text("2")
    expect(page.locator('[data-figure="share"]')).to_have_text("66,7 %")
    expect(page.get_by_role("img", name="Zaken per combinatie van organisaties")).to_be_visible()
    expect(page.get_by_role("table", name="Zaken per combinatie")).to_contain_text("SVB + UWV")
    axe_and_screenshot(page, "cases")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    page.get_by_label("Loket", exact=True).select_option("UTR")
    page.get_by_role("button", name="Toon zaken").click()
    expect(page.locator('[data-figure="cases"]')).to_have_text("0")

    page.goto(f"{live.url}/staff/dashboard/zaken?periode=eeuw")
    expect(page.get_by_role("alert")).to_contain_text("periode")
    axe_and_screenshot(page, "cases-refused")
