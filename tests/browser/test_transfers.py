"""Transfers on the staff pages in Chromium: a UWV call transferred blind to DUO today, on the dashboard (per
organisation), the cases page (collaboration and how it went), the call's drill-down (its chain) and the
wallboard (on hold in consultation); axe-core finds no violation; screenshots in tests/artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import EventKind
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.browser.test_dashboard import log_in_supervisor
from tests.integration.conftest import FixedClock
from tests.integration.test_dashboard import call

K = EventKind


def a_transferred_call(live: Live) -> None:
    """09:00 Amsterdam: queued at 10 s, UWV answers at 25 s, transfers blind to DUO at 80 s, DUO answers at 140 s."""
    nine = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=9, minute=0, second=0, microsecond=0)
    calls = SqlCallStore(live.container.sessions)
    call(calls, "tr1", 0, "UWV", "ww", "AMS", "professional", [(K.QUEUED, 10, {}), (K.ANSWERED, 25, {"liaison": 1})],
         day_start=nine)
    at = nine.astimezone(UTC)
    calls.apply("tr1", event=K.TRANSFERRED, at=at + timedelta(seconds=80), dedupe="transfer", organisation="DUO",
                topic="*", detail={"kind": "blind", "from_organisation": "UWV", "from_topic": "ww",
                                   "to_organisation": "DUO", "to_topic": "*", "liaison": 1})
    calls.apply("tr1", event=K.ANSWERED, at=at + timedelta(seconds=140), dedupe="answered:2", detail={"liaison": 2})
    calls.apply("tr1", event=K.COMPLETED, at=at + timedelta(seconds=290), dedupe="ended", detail={"status": "completed"})
    SqlCaseStore(live.container.sessions).attach(call_sid="tr1", caseworker_id=1, location="AMS", reference=None, at=at)
    deps = StatsDeps(store=SqlStatsStore(live.container.sessions), clock=FixedClock(nine + timedelta(hours=1)))
    statistics.rollup_since(deps, since=at, until=at + timedelta(minutes=15))


def test_a_transferred_call_on_the_dashboard_cases_drilldown_and_wallboard(page: Page, live: Live) -> None:
    a_transferred_call(live)
    log_in_supervisor(page, live)
    page.goto(f"{live.url}/staff/dashboard")
    table = page.get_by_role("table", name="Doorverbinden per organisatie")
    expect(table.get_by_role("row", name="UWV")).to_contain_text("1")
    expect(table.locator("tfoot")).to_contain_text("130,0 s")  # 140 - 10
    assert axe_and_screenshot(page, "transfers-dashboard") == []

    page.goto(f"{live.url}/staff/dashboard/zaken")
    expect(page.locator('[data-figure="transfers"]')).to_have_text("1")
    collaboration = page.get_by_role("table", name="Doorverbonden van organisatie naar organisatie, en hoe het ging")
    expect(collaboration).to_contain_text("UWV → DUO")
    expect(collaboration).to_contain_text("Opgenomen, geen uitkomst genoteerd (1)")
    assert axe_and_screenshot(page, "transfers-cases") == []

    page.goto(f"{live.url}/staff/dashboard/oproepen/tr1")
    chain = page.get_by_role("table", name="De organisaties van dit gesprek, op volgorde")
    expect(chain.locator("tbody tr")).to_have_count(2)
    expect(chain.locator("tbody tr").nth(1)).to_contain_text("blind doorverbonden")
    expect(chain.locator("tbody tr").nth(1)).to_contain_text("60,0 s")  # 140 - 80: from the transfer
    assert axe_and_screenshot(page, "transfers-drilldown-call") == []

    page.goto(f"{live.url}/staff/wallboard")
    expect(page.locator('[data-figure="on_hold"]')).to_have_text("0")
    assert axe_and_screenshot(page, "transfers-wallboard") == []
