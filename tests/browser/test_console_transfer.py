"""The console's blind transfer in Chromium: the form on the current call, a refusal read out as an alert, then
a transfer; keyboard only (native selects and Enter on the button); axe-core finds no violation."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from callrouter.domain.callbacks import CallbackState
from callrouter.domain.calls import CallState
from callrouter.domain.queueing import Presence
from callrouter.services.staff import presence as presence_service
from tests.browser.checks import axe_and_screenshot, log_in
from tests.browser.conftest import Live
from tests.browser.test_console import route_call_to


def test_a_liaison_transfers_the_call_to_toeslagen_after_a_refusal_with_its_reason(page: Page, live: Live) -> None:
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    page.get_by_label("Beschikbaar", exact=True).check()
    page.get_by_role("button", name="Beschikbaarheid opslaan").click()
    sid = route_call_to(live, "uwv-jan")

    organisation = page.get_by_label("Organisatie", exact=True)
    expect(organisation).to_be_visible(timeout=15_000)  # the live part shows the form on the current call
    axe_and_screenshot(page, "staff-console-transfer-form")
    organisation.focus()
    organisation.select_option("TSL")
    page.keyboard.press("Tab")  # the topic, optional
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Doorverbinden")).to_be_focused()
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert").filter(has_text="niemand van Dienst Toeslagen")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("teruggebeld")
    assert axe_and_screenshot(page, "staff-console-transfer-refused") == []
    record = live.container.voice.calls.get(sid)
    assert record is not None and (record.state, record.organisation) == (CallState.CONNECTED, "UWV")

    # Instead: Toeslagen calls the caseworker back; the call goes on with Jan.
    organisation = page.get_by_label("Organisatie", exact=True)
    organisation.focus()
    organisation.select_option("TSL")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Laten terugbellen door die organisatie")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Dienst Toeslagen belt Sanne de Vries terug")).to_be_visible()
    assert axe_and_screenshot(page, "staff-console-callback-by-other") == []
    [callback] = live.container.voice.callbacks.in_states(frozenset(CallbackState), organisation="TSL")
    assert callback.caseworker_id is not None and callback.organisation == "TSL"

    presence_service.set_presence(live.container.voice, liaison_id=live.liaison_id("tsl-marloes"),
                                  status=Presence.AWAY, organisation_scope="TSL")  # on duty, not free yet
    organisation = page.get_by_label("Organisatie", exact=True)
    organisation.focus()
    organisation.select_option("TSL")
    page.keyboard.press("Tab")
    page.get_by_label("Onderwerp (niet verplicht)").select_option("TSL:huurtoeslag")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Doorverbonden met Dienst Toeslagen")).to_be_visible()
    assert axe_and_screenshot(page, "staff-console-transferred") == []
    record = live.container.voice.calls.get(sid)
    assert record is not None and (record.state, record.organisation, record.topic, record.liaison_id) == (
        CallState.QUEUED, "TSL", "huurtoeslag", None)
    assert (sid, "/twilio/voice/transferred") in live.telephony.redirects
    expect(page.locator("#live")).to_contain_text("U bent nu niet in gesprek")
    expect(page.get_by_label("Organisatie", exact=True)).to_have_count(0)
