"""Named periods, the comparison and the research export in Chromium: an administrator names a period (a name in use
is refused in the page), compares two periods and two counters, a researcher opens the export page; axe-core finds
no serious or critical violation; screenshots in tests/artifacts/ (periods*.png, compare*.png, research*.png)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from callrouter.domain.staff import Grant, Role
from callrouter.services.statistics import periods
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.browser.test_dashboard import todays_calls


def log_in_as(page: Page, live: Live, subject: str, grant: Grant) -> None:
    live.container_accounts().grant(issuer=live.issuer, subject=subject, by="test", at=datetime.now(UTC), grant=grant)
    page.goto(f"{live.url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name=subject, exact=True).click()
    expect(page).to_have_url(f"{live.url}/staff/")


def test_an_administrator_names_a_period_and_compares_periods_and_counters(page: Page, live: Live) -> None:
    todays_calls(live)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    periods.add_period(live.container.parts.periods, name="vorige maand", first_day=today - timedelta(days=40),
                       last_day=today - timedelta(days=10), at=datetime.now(UTC), by="test")
    log_in_as(page, live, "beheer", Grant(Role.ADMIN))
    page.get_by_role("link", name="Perioden en loketten vergelijken").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Perioden voor de evaluatie")

    page.get_by_label("Naam").fill("pilot ruimere openingstijden Utrecht")
    page.get_by_label("Van", exact=True).fill((today - timedelta(days=2)).isoformat())
    page.get_by_label("Tot en met", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Periode toevoegen").click()
    expect(page.get_by_role("status")).to_contain_text("pilot ruimere openingstijden Utrecht")
    expect(page.get_by_role("table", name="Perioden (2)")).to_contain_text("pilot ruimere openingstijden Utrecht")
    axe_and_screenshot(page, "periods")

    page.get_by_label("Naam").fill("Pilot ruimere openingstijden, UTRECHT")
    page.get_by_label("Van", exact=True).fill(date(2026, 1, 1).isoformat())
    page.get_by_label("Tot en met", exact=True).fill(date(2026, 1, 31).isoformat())
    page.get_by_role("button", name="Periode toevoegen").click()
    expect(page.get_by_role("alert")).to_contain_text("veld: naam")
    expect(page.get_by_role("table", name="Perioden (2)")).to_be_visible()  # nothing was added
    axe_and_screenshot(page, "periods-refused")

    page.get_by_label("Periode links").select_option("vorige maand")
    page.get_by_label("Periode rechts").select_option("pilot ruimere openingstijden Utrecht")
    page.get_by_role("button", name="Vergelijk").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("vorige maand en pilot ruimere openingstijden Utrecht")
    table = page.get_by_role("table", name="Cijfers naast elkaar")
    expect(table.locator('tr[data-figure="offered"] td').nth(0)).to_have_text("0")
    expect(table.locator('tr[data-figure="offered"] td').nth(1)).to_have_text("6")
    expect(table.locator('tr[data-figure="offered"] td').nth(2)).to_have_text("6")
    axe_and_screenshot(page, "compare-periods")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    page.get_by_label("Periode links").select_option("pilot ruimere openingstijden Utrecht")
    page.get_by_label("Loket links").select_option("AMS")
    page.get_by_label("Periode rechts").select_option("pilot ruimere openingstijden Utrecht")
    page.get_by_label("Loket rechts").select_option("ENS")
    page.get_by_role("button", name="Vergelijk").click()
    offered = page.get_by_role("table", name="Cijfers naast elkaar").locator('tr[data-figure="offered"] td')
    expect(offered.nth(0)).to_have_text("3")  # AMS: three of today's six calls
    expect(offered.nth(1)).to_have_text("2")  # ENS: two
    axe_and_screenshot(page, "compare-counters")


def test_a_researcher_opens_the_export_page_and_a_bad_period_is_refused(page: Page, live: Live) -> None:
    log_in_as(page, live, "nieuw", Grant(Role.RESEARCHER))  # the provider's predefined "nieuw"
    page.get_by_role("link", name="Onderzoeksexport (gegevens per gesprek)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Onderzoeksexport")
    expect(page.get_by_text("caseworker_verdict")).to_be_visible()
    axe_and_screenshot(page, "research")
    page.goto(f"{live.url}/staff/onderzoek?van=2024-01-01&tot=2026-01-01")
    expect(page.get_by_role("alert")).to_contain_text("veld: tot")
    axe_and_screenshot(page, "research-refused")
