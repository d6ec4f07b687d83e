"""The page on announced waits in Chromium: a supervisor reads whether the waits said in the queue were honest,
axe-core finds no violation at all, screenshots go to tests/artifacts/; a filter and a bad query."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.domain.calls import EventKind
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.browser.test_dashboard import log_in_supervisor
from tests.integration.test_dashboard import call

K = EventKind


def said(seconds: int, estimate: int | None) -> tuple[EventKind, int, dict[str, object]]:
    return (K.ANNOUNCED, seconds, {"estimate_s": estimate, "position": 1, "waited_s": seconds - 10})


def todays_announcements(live: Live) -> None:
    """Today from 09:00 Amsterdam, each call queued at 10 s and told its wait at 40 s:
    UWV w1 120 s, answered at 100 s: honest; UWV w2 60 s, answered at 130 s: 30 s too short;
    DUO w3 120 s, answered at 60 s: honest; SVB w4 "wait unknown", hung up at 200 s.
    4 announcements, 1 without a time, judged 3, honest 2 -> 66,7 %: under the 80 % target."""
    nine = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=9, minute=0, second=0, microsecond=0)
    store = SqlCallStore(live.container.sessions)
    plan = [("w1", "UWV", "ww", [said(40, 120), (K.ANSWERED, 100, {}), (K.COMPLETED, 200, {})]),
            ("w2", "UWV", "ww", [said(40, 60), (K.ANSWERED, 130, {}), (K.COMPLETED, 200, {})]),
            ("w3", "DUO", "studiefinanciering", [said(40, 120), (K.ANSWERED, 60, {}), (K.COMPLETED, 90, {})]),
            ("w4", "SVB", "aow", [said(40, None), (K.ABANDONED, 200, {"status": "completed"})])]
    for index, (sid, org, topic, events) in enumerate(plan):
        call(store, sid, 2 * index, org, topic, "AMS", "professional", [(K.QUEUED, 10, {}), *events], day_start=nine)


def no_violations(page: Page, name: str) -> None:
    violations = axe_and_screenshot(page, name)
    assert violations == [], [f"{v['id']} ({v['impact']})" for v in violations]


def test_a_supervisor_reads_whether_the_announced_waits_were_honest(page: Page, live: Live) -> None:
    todays_announcements(live)
    log_in_supervisor(page, live)
    page.get_by_role("link", name="Klopt de gemelde wachttijd?").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Klopt de gemelde wachttijd?")
    expect(page.locator('[data-figure="share_honest"]')).to_have_text("66,7 %")
    expect(page.locator('[data-state]')).to_have_text("Doel niet gehaald")  # the state in words, not colour alone
    expect(page.locator('[data-figure="announcements"]')).to_have_text("4")
    expect(page.locator('[data-figure="unknown"]')).to_have_text("1")
    expect(page.locator('[data-figure="off_median_s"]')).to_have_text("30,0 s")
    table = page.get_by_role("table", name="Gemelde wachttijden per organisatie (4 meldingen)")
    expect(table.get_by_role("row", name="UWV (UWV)")).to_contain_text("50,0 %")
    expect(page.get_by_role("heading", name="Zo tellen we")).to_be_visible()
    no_violations(page, "wait-honesty")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    page.get_by_label("Organisatie", exact=True).select_option("DUO")
    page.get_by_role("button", name="Toon cijfers").press("Enter")  # by keyboard
    expect(page.locator('[data-figure="share_honest"]')).to_have_text("100,0 %")
    expect(page.locator('[data-state]')).to_have_text("Doel gehaald")

    page.goto(f"{live.url}/staff/dashboard/wachttijd?loket=NOPE")
    expect(page.get_by_role("alert")).to_contain_text("loket")
    no_violations(page, "wait-honesty-refused")
