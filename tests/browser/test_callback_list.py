"""The callback list in Chromium: the organisation's callbacks, cancel with a reason, by keyboard; axe-core."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.checks import axe_and_screenshot, log_in
from tests.browser.conftest import Live
from tests.browser.test_console import params


def ask_callback_with_nobody_on_duty(live: Live) -> None:
    sid = "CA" + uuid.uuid4().hex
    live.webhook("/twilio/voice/incoming", params(sid))
    live.webhook("/twilio/voice/menu?step=organisation", params(sid, Digits="1"))  # UWV, nobody on duty
    live.webhook("/twilio/voice/callback/dialogue?step=nobody", params(sid, Digits="1"))


def test_a_liaison_works_the_callback_list(page: Page, live: Live) -> None:
    ask_callback_with_nobody_on_duty(live)
    ask_callback_with_nobody_on_duty(live)  # joins the first: one open callback per caller and topic
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    page.get_by_role("link", name="Terugbelverzoeken van UWV").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Terugbelverzoeken")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Wacht in de rij")
    expect(rows.first).to_contain_text("Amsterdam")
    axe_and_screenshot(page, "staff-callbacks")

    # Cancel without a reason: the browser refuses (required); by keyboard with a reason: done.
    reason = page.get_by_label("Reden van annuleren", exact=False)
    reason.focus()
    page.keyboard.type("Opgelost per e-mail")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="geannuleerd")).to_be_visible()
    expect(page.get_by_text("Er zijn geen terugbelverzoeken.")).to_be_visible()
    axe_and_screenshot(page, "staff-callbacks-cancelled")
