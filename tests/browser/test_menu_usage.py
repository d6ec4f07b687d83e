"""The menu-use page in Chromium: calls driven through the signed webhooks of the running app, a supervisor
reads the table and what stands out, axe-core finds no violation at all, screenshots go to tests/artifacts/
(menu-usage.png, menu-usage-refused.png); a filter by keyboard and a refused parameter."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live
from tests.browser.test_console import params
from tests.browser.test_dashboard import log_in_supervisor

MENU = "/twilio/voice/menu?step="


def one_call(live: Live, *organisation_keys: str) -> str:
    sid = "CA" + uuid.uuid4().hex
    live.webhook("/twilio/voice/incoming", params(sid))
    for digits in organisation_keys:
        live.webhook(MENU + "organisation", params(sid, Digits=digits))
    return sid


def todays_menus(live: Live) -> None:
    """Nobody on duty, so a chosen organisation ends in the callback offer (counted as a choice).
    Organisation menu: b1 *, silence, 1;  b2 0 (then the service picks UWV);  b3 5, 6 (wrong), 1;  b4 0;  b5 *, 2.
    -> 10 answers: choices 3, 0 2 (20 %), * 2 (20 %), none 1 (10 %), wrong 2 (20 %): all four stand out.
    In b1's callback offer a wrong key (7), then silence: 1 wrong key in 'Terugbelaanbod: niemand aanwezig'."""
    b1 = one_call(live, "*", "", "1")
    live.webhook("/twilio/voice/callback/dialogue?step=nobody", params(b1, Digits="7"))
    live.webhook("/twilio/voice/callback/dialogue?step=nobody", params(b1, Digits=""))
    one_call(live, "0")
    one_call(live, "5", "6", "1")
    one_call(live, "0")
    one_call(live, "*", "2")


def test_a_supervisor_reads_the_menu_use(page: Page, live: Live) -> None:
    todays_menus(live)
    log_in_supervisor(page, live)
    page.get_by_role("link", name="Menugebruik (0, herhalen, geen keuze)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Menugebruik")
    table = page.get_by_role("table", name="Professionallijn: antwoorden per menu")
    row = table.get_by_role("row", name="Keuze organisatie")
    expect(row).to_contain_text("10")
    expect(page.locator('[data-cell="professional/organisation//person"]')).to_have_text("2 (20,0 %)")
    expect(page.locator('[data-cell="professional/organisation//no_input"]')).to_have_text("1 (10,0 %)")
    expect(page.locator('[data-cell="professional/organisation//signal"]')).to_contain_text("vaak 0")
    expect(page.locator('[data-section="signals"]')).to_contain_text("Hier drukken bellers vaak 0")
    expect(page.get_by_role("img", name="Professionallijn: aandeel beurten zonder keuze per menu")).to_be_visible()
    callbacks = page.get_by_role("table", name="Professionallijn: verkeerde toetsen in de terugbelmenu's")
    expect(callbacks.get_by_role("row", name="Terugbelaanbod: niemand aanwezig")).to_contain_text("1")
    assert axe_and_screenshot(page, "menu-usage") == []
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    page.get_by_label("Soort lijn").focus()
    page.keyboard.press("End")  # the last option: Burgerlijn
    page.get_by_role("button", name="Toon menugebruik").press("Enter")
    expect(page.locator('[data-section="empty"]')).to_contain_text("Geen menugebruik")
    assert "soort=citizen" in page.url

    page.goto(f"{live.url}/staff/dashboard/menu?periode=eeuw")
    expect(page.get_by_role("alert")).to_contain_text("periode")
    assert axe_and_screenshot(page, "menu-usage-refused") == []
