"""The liaison console in Chromium: login, availability, a routed call, the outcome; keyboard only; axe-core."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Page, expect

from tests.browser.checks import axe_and_screenshot, log_in
from tests.browser.conftest import Live

PRO_LINE = "+31850001000"
SANNE = "+31612345601"  # caseworker at the Amsterdam counter


def params(sid: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "CallStatus": "in-progress", "Direction": "inbound",
            "From": SANNE, "To": PRO_LINE, **extra}


ROOM = "CF" + "2" * 32  # the call's conference room (the default bridge)


def room_report(live: Live, sid: str, event: str, member: str, sequence: int) -> None:
    live.webhook(f"/twilio/voice/room-event?call={sid}", {
        "AccountSid": "AC" + "0" * 32, "ConferenceSid": ROOM, "FriendlyName": f"call-{sid}", "CallSid": member,
        "StatusCallbackEvent": event, "SequenceNumber": str(sequence)})


def liaison_leg_of(live: Live, code: str) -> str:
    """The leg the router placed to the liaison (the recording telephony's SIDs count its creations).

    The router redirects the caller into the room first and creates the liaison's leg right after, in the same
    after-reply step, so a test that saw the redirect waits here (up to 5 s) for the creation too."""
    liaison = live.container.directory.liaison(live.liaison_id(code))
    assert liaison is not None
    deadline = time.monotonic() + 5
    while True:
        placed = [i for i, created in enumerate(live.telephony.created, start=1) if created["to"] == liaison.address]
        if placed or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert placed, live.telephony.created
    return f"CA{placed[-1]:032d}"


def route_call_to(live: Live, code: str) -> str:
    """A caseworker calls UWV about WW; the router offers the call to the liaison, who picks up (and, on the
    conference bridge, hears the whisper and joins the call's room: the answer)."""
    sid = "CA" + uuid.uuid4().hex
    live.webhook("/twilio/voice/incoming", params(sid))
    live.webhook("/twilio/voice/menu?step=organisation", params(sid, Digits="1"))  # UWV
    live.webhook("/twilio/voice/menu?step=topic", params(sid, Digits="1"))  # WW
    live.webhook("/twilio/voice/wait", params(sid, QueueTime="1", QueueSid="QU1"))  # Twilio asks the waitUrl
    liaison = live.liaison_id(code)
    for _ in range(100):
        if (sid, f"/twilio/voice/connect?liaison={liaison}") in live.telephony.redirects:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"call not offered to {code}: {live.telephony.redirects}")
    if live.container.voice.bridge == "dial":
        live.webhook(f"/twilio/voice/liaison-status?call={sid}&liaison={liaison}",
                     params(sid, CallStatus="in-progress"))
        return sid
    leg = liaison_leg_of(live, code)
    live.webhook(f"/twilio/voice/connect?liaison={liaison}", params(sid))  # the caller into the room
    room_report(live, sid, "participant-join", sid, 1)
    leg_params = {**params(leg, CallStatus="in-progress", Direction="outbound-api"), "To": "client:" + code}
    live.webhook(f"/twilio/voice/liaison-status?call={sid}&liaison={liaison}&via=room", leg_params)
    live.webhook(f"/twilio/voice/whisper?call={sid}&liaison={liaison}&via=room", leg_params)
    live.webhook(f"/twilio/voice/room-join?call={sid}&liaison={liaison}", leg_params)
    room_report(live, sid, "participant-join", leg, 2)
    return sid


def end_call(live: Live, sid: str, code: str) -> None:
    """The liaison hangs up: on the conference bridge their exit ends the room, and Twilio asks the caller's Dial
    action; on the dial bridge the dial's result comes."""
    liaison = live.liaison_id(code)
    if live.container.voice.bridge == "dial":
        live.webhook(f"/twilio/voice/dial-result?liaison={liaison}",
                     params(sid, DialCallStatus="completed", DialCallDuration="120"))
        return
    room_report(live, sid, "participant-leave", liaison_leg_of(live, code), 3)
    live.webhook(f"/twilio/voice/room-left?liaison={liaison}", params(sid, DialCallStatus="completed"))


def test_login_availability_a_routed_call_and_its_outcome(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/staff/inloggen")
    axe_and_screenshot(page, "staff-login")
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jan Vermeulen")

    page.get_by_label("Beschikbaar", exact=True).check()
    page.get_by_role("button", name="Beschikbaarheid opslaan").click()
    expect(page.get_by_role("status").filter(has_text="Uw beschikbaarheid is nu: Beschikbaar")).to_be_visible()
    axe_and_screenshot(page, "staff-console-available")

    sid = route_call_to(live, "uwv-jan")
    live_part = page.locator("#live")
    expect(live_part).to_contain_text("Amsterdam", timeout=15_000)  # by polling, not by reloading
    expect(live_part).to_contain_text("Sanne de Vries")
    expect(live_part).to_contain_text("WW-uitkering")
    expect(page.locator("#live-status")).to_contain_text("Nieuw gesprek")
    expect(live_part.locator(".state")).to_have_text("In gesprek")
    axe_and_screenshot(page, "staff-console-on-a-call")

    end_call(live, sid, "uwv-jan")
    link = page.locator("table.calls").get_by_role("link", name=re.compile("Uitkomst vastleggen"))
    expect(link).to_be_visible(timeout=15_000)
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("loket Amsterdam")
    axe_and_screenshot(page, "staff-call-outcome-form")
    page.get_by_role("button", name="Uitkomst opslaan").click()  # nothing chosen: an error, said and shown
    expect(page.get_by_role("alert").filter(has_text="Kies een uitkomst")).to_be_visible()
    axe_and_screenshot(page, "staff-call-outcome-error")
    page.get_by_label("Doorverwezen naar een andere organisatie").check()
    page.get_by_label("Doorverwezen naar (alleen bij doorverwijzen)").select_option("DUO")
    page.get_by_label("Korte notitie (niet verplicht)").fill("Ook studieschuld; DUO belt terug.")
    page.get_by_role("button", name="Uitkomst opslaan").click()
    expect(page.get_by_role("status").filter(has_text="Uitkomst opgeslagen")).to_be_visible()
    expect(page.locator("#live")).to_contain_text("Doorverwezen naar een andere organisatie")
    axe_and_screenshot(page, "staff-console-outcome-saved")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]


def test_a_new_account_sees_no_access_yet(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name="nieuw", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("U hebt nog geen toegang")
    axe_and_screenshot(page, "staff-no-access")
    page.get_by_role("button", name="Uitloggen").click()
    page.get_by_role("button").first.click()  # the provider asks to confirm the logout
    expect(page.get_by_role("status")).to_contain_text("U bent uitgelogd")
    axe_and_screenshot(page, "staff-logged-out")


def focused(page: Page) -> str:
    return page.evaluate("() => (document.activeElement.labels?.[0]?.textContent || document.activeElement.textContent"
                         " || '').trim()")


def tab_to(page: Page, text: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_the_main_actions_work_with_the_keyboard_only(page: Page, live: Live) -> None:
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    page.keyboard.press("Tab")
    assert focused(page) == "Naar de inhoud"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")
    tab_to(page, "Niet ingelogd op de lijn")  # the checked radio of the group gets the focus
    page.keyboard.press("ArrowUp")  # radios: arrow keys choose
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert focused(page) == "Beschikbaar"
    tab_to(page, "Beschikbaarheid opslaan")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Beschikbaar")).to_be_visible()

    tab_to(page, "Verversen pauzeren")
    page.keyboard.press("Enter")
    toggle = page.locator("#refresh-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_text("Verversen hervatten")
    expect(page.locator("#refresh-state")).to_have_text("Verversen staat op pauze.")
    assert focused(page) == "Verversen hervatten"  # the focus stays where it was
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    sid = route_call_to(live, "uwv-jan")
    end_call(live, sid, "uwv-jan")
    page.reload()
    tab_to(page, "Uitkomst vastleggen voor het gesprek van " + page.locator("td a .visually-hidden").first
           .text_content().split(" van ")[-1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("loket Amsterdam")
    tab_to(page, "Opgelost")
    page.keyboard.press("Space")
    tab_to(page, "Uitkomst opslaan")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Uitkomst opgeslagen: Opgelost")).to_be_visible()
    axe_and_screenshot(page, "staff-console-keyboard")


def test_when_a_conversation_ends_the_console_asks_for_its_outcome_and_lists_those_without_one(
        page: Page, live: Live) -> None:
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    page.get_by_label("Beschikbaar", exact=True).check()
    page.get_by_role("button", name="Beschikbaarheid opslaan").click()
    first = route_call_to(live, "uwv-jan")
    end_call(live, first, "uwv-jan")
    page.reload()
    expect(page.locator("#live")).to_contain_text("1 gesprek van u zonder vastgelegde uitkomst")
    second = route_call_to(live, "uwv-jan")
    expect(page.locator("#live")).to_contain_text("Huidig gesprek", timeout=15_000)
    end_call(live, second, "uwv-jan")  # the console asks, by polling, without moving the focus
    ask = page.get_by_role("region", name="Uitkomst van het gesprek dat net afliep")
    expect(ask).to_be_visible(timeout=15_000)
    expect(page.locator("#live-status")).to_have_text("Het gesprek is afgelopen. Leg de uitkomst vast.")
    expect(page.locator("#live")).to_contain_text("2 gesprekken van u zonder vastgelegde uitkomst")
    axe_and_screenshot(page, "staff-console-asks-for-the-outcome")
    ask.get_by_label("Opgelost").check()
    ask.get_by_label("Korte notitie (niet verplicht)").fill("Betaaldatum uitgelegd.")
    ask.get_by_role("button", name="Uitkomst opslaan").click()
    expect(page.get_by_role("status").filter(has_text="Uitkomst opgeslagen: Opgelost")).to_be_visible()
    pending = page.get_by_role("list", name="Gesprekken zonder uitkomst")
    expect(pending.get_by_role("link")).to_have_count(1)  # the first one is left, and asked for now
    expect(page.get_by_role("region", name="Uitkomst van het gesprek dat net afliep")).to_be_visible()
    pending.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("loket Amsterdam")
    page.get_by_label("Niet voor ons").check()
    page.get_by_role("button", name="Uitkomst opslaan").click()
    expect(page.locator("#live")).to_contain_text("Al uw gesprekken hebben een uitkomst.")
    axe_and_screenshot(page, "staff-console-all-outcomes-recorded")
