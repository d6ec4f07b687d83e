"""The supervisor dashboard in Chromium: login as a supervisor, figures and charts, axe-core, the filter
form by keyboard, a refused query; screenshots in tests/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import EventKind
from callrouter.domain.staff import Grant, Role
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.integration.conftest import FixedClock
from tests.integration.test_dashboard import abandoned, answered, call


def todays_calls(live: Live) -> None:
    """Six calls today from 09:00 in Amsterdam, rolled up."""
    nine = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=9, minute=0, second=0, microsecond=0)
    store = SqlCallStore(live.container.sessions)
    pro = "professional"
    for index, (org, topic, loc, events) in enumerate([
            ("UWV", "ww", "AMS", answered(15)), ("UWV", "ww", "AMS", answered(45)), ("UWV", "wia", "UTR", abandoned(90)),
            ("DUO", "studiefinanciering", "ENS", answered(10)), ("DUO", "terugbetalen", "AMS", answered(70)),
            ("UWV", "ww", "ENS", answered(5))]):
        call(store, f"b{index}", 7 * index + 60 * (index % 3), org, topic, loc, pro, events, day_start=nine)
    deps = StatsDeps(store=SqlStatsStore(live.container.sessions), clock=FixedClock(nine + timedelta(hours=4)))
    statistics.rollup_since(deps, since=nine.astimezone(UTC), until=nine + timedelta(hours=3, minutes=30))


def log_in_supervisor(page: Page, live: Live) -> None:
    live.container_accounts().grant(issuer=live.issuer, subject="nieuw", by="test", at=datetime.now(UTC),
                                    grant=Grant(Role.SUPERVISOR))
    page.goto(f"{live.url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name="nieuw", exact=True).click()
    expect(page).to_have_url(f"{live.url}/staff/")


def test_a_supervisor_reads_the_dashboard_and_filters_by_keyboard(page: Page, live: Live) -> None:
    todays_calls(live)
    log_in_supervisor(page, live)
    page.get_by_role("link", name="Overzicht gesprekken").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overzicht gesprekken")
    expect(page.locator('[data-figure="offered"]')).to_have_text("6")
    expect(page.get_by_role("img", name="Aangeboden en opgenomen gesprekken per uur")).to_be_visible()
    expect(page.get_by_role("table", name="Per uur (uur van binnenkomst)")).to_be_visible()
    page.get_by_text("Definitie", exact=False).nth(2).click()  # the service level's definition opens
    expect(page.get_by_text("Korte ophangers tellen niet mee", exact=False)).to_be_visible()
    axe_and_screenshot(page, "staff-dashboard")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    # By keyboard: choose DUO by typing in the organisation list, Tab to the button, Enter.
    page.get_by_label("Organisatie", exact=True).focus()
    page.keyboard.type("DUO")
    for _ in range(3):  # onderwerp, loket, soort lijn
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Toon cijfers")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live.url}/staff/dashboard?periode=vandaag&van=&tot=&organisatie=DUO&onderwerp=&loket=&soort=")
    expect(page.locator('[data-figure="offered"]')).to_have_text("2")
    expect(page.get_by_role("heading", level=1)).to_contain_text("DUO")
    axe_and_screenshot(page, "staff-dashboard-duo")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download als CSV").click()
    assert download.value.suggested_filename.endswith(".csv") and "DUO" in download.value.suggested_filename

    page.goto(f"{live.url}/staff/dashboard?van=2026-11-30&tot=2026-11-01")
    expect(page.get_by_role("alert")).to_contain_text("De einddatum ligt voor de begindatum")
    axe_and_screenshot(page, "staff-dashboard-refused")


def tab_to(page: Page, name: str, *, limit: int = 120) -> None:
    """Press Tab until the link `name` (its accessible name starts with it) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement && document.activeElement.textContent.trim()")
        if focused and focused.startswith(name):
            return
    raise AssertionError(f"no link {name!r} reached by Tab")


def test_a_figure_opens_to_its_calls_and_a_call_by_keyboard(page: Page, live: Live) -> None:
    todays_calls(live)
    log_in_supervisor(page, live)
    page.goto(f"{live.url}/staff/dashboard")
    expect(page.locator('[data-figure="answered"]')).to_contain_text("5")
    tab_to(page, "Toon de gesprekken")  # the first headline figure: offered
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused link shows no focus ring"
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live.url}/staff/dashboard/oproepen?periode=vandaag&cijfer=aangeboden")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aangeboden gesprekken")
    expect(page.locator("[data-count]")).to_have_text("6")  # the figure on the dashboard
    expect(page.get_by_role("table", name="Gesprekken, oudste eerst (tijd van binnenkomst, Nederlandse tijd)")).to_be_visible()
    expect(page.get_by_text("+316****01").first).to_be_visible()
    assert "Per medewerker" not in page.content()  # per-liaison figures are off by default
    axe_and_screenshot(page, "dashboard-drilldown")

    tab_to(page, "Details")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Gesprek van")
    expect(page.get_by_role("table", name="Gebeurtenissen op volgorde van tijd (Nederlandse tijd)")).to_be_visible()
    axe_and_screenshot(page, "dashboard-drilldown-call")
    page.get_by_role("link", name="Terug naar de lijst").click()
    expect(page).to_have_url(f"{live.url}/staff/dashboard/oproepen?periode=vandaag&cijfer=aangeboden")

    # the hourly table's cells open the calls of that hour
    page.goto(f"{live.url}/staff/dashboard")
    page.get_by_role("link", name="09:00, opgenomen:").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Opgenomen gesprekken")
    expect(page.locator(".period-line")).to_contain_text("binnengekomen tussen 09:00 en 10:00")
    axe_and_screenshot(page, "dashboard-drilldown-hour")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]


def test_the_dashboard_shows_results_and_verdicts_per_organisation_topic_and_counter(page: Page, live: Live) -> None:
    """Four UWV conversations and two DUO ones today; UWV: results for 3 of 4 (75 %, "Aandacht"), verdicts
    asked 2, answered 1 (yes); DUO: results for 2 of 2 (100 %, "Goed")."""
    nine = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=9, minute=0, second=0, microsecond=0)
    store = SqlCallStore(live.container.sessions)
    calls = [("UWV", "ww", "AMS", "resolved", "yes"), ("UWV", "ww", "AMS", "referred", "asked"),
             ("UWV", "wia", "UTR", "follow_up", None), ("UWV", "ww", "ENS", None, None),
             ("DUO", "studiefinanciering", "ENS", "resolved", None), ("DUO", "terugbetalen", "AMS", "not_for_us", None)]
    for index, (org, topic, loc, result, verdict) in enumerate(calls):
        sid = f"e{index}"
        call(store, sid, 5 * index, org, topic, loc, "professional", answered(10), day_start=nine)
        at = nine + timedelta(minutes=5 * index, seconds=200)
        if result:
            store.apply(sid, event=EventKind.OUTCOME_RECORDED, at=at, detail={"result": result, "revision": 1})
        if verdict:
            store.apply(sid, event=EventKind.VERDICT_ASKED, at=at, dedupe="verdict_asked")
        if verdict == "yes":
            store.apply(sid, event=EventKind.VERDICT, at=at, detail={"answer": "yes"}, dedupe="verdict")
    deps = StatsDeps(store=SqlStatsStore(live.container.sessions), clock=FixedClock(nine + timedelta(hours=4)))
    statistics.rollup_since(deps, since=nine.astimezone(UTC), until=nine + timedelta(hours=1))
    log_in_supervisor(page, live)
    page.goto(f"{live.url}/staff/dashboard?periode=vandaag")
    section = page.get_by_role("region", name="Resultaat van de gesprekken")
    per_org = section.get_by_role("table", name="Per organisatie")
    uwv = per_org.get_by_role("row").filter(has=page.get_by_role("rowheader", name="UWV"))
    expect(uwv).to_contain_text("3 (75,0 %)")
    expect(uwv).to_contain_text("Aandacht")  # the state in words, not colour alone
    expect(uwv).to_contain_text("1 (50,0 %)")  # of 2 asked, 1 answered
    duo = per_org.get_by_role("row").filter(has=page.get_by_role("rowheader", name="DUO"))
    expect(duo).to_contain_text("2 (100,0 %)")
    expect(duo).to_contain_text("Goed")
    expect(section.get_by_role("table", name="Per loket")).to_contain_text("Utrecht")
    expect(section.get_by_role("table", name="Per onderwerp")).to_contain_text("UWV wia")
    section.scroll_into_view_if_needed()
    axe_and_screenshot(page, "staff-dashboard-results-and-verdicts")
