"""The wallboard in Chromium: a supervisor opens it, a call starts waiting and the poller shows it without a
reload (announced in a role=status line), pause stops the updates and resume brings them back; axe-core,
screenshot in tests/artifacts/wallboard.png."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from callrouter.domain.queueing import Presence
from callrouter.domain.staff import Grant, Role
from callrouter.services.staff.presence import set_presence
from tests.browser.checks import axe_and_screenshot
from tests.browser.conftest import Live

PRO_LINE = "+31850001000"
SANNE = "+31612345601"  # caseworker at the Amsterdam counter
POLL_WAIT_MS = 20_000  # the default refresh is 10 s


def params(sid: str, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "CallStatus": "in-progress", "Direction": "inbound",
            "From": SANNE, "To": PRO_LINE, **extra}


def call_waits(live: Live) -> str:
    """A caseworker calls UWV about WW and answers whatever the menus ask until the call waits."""
    sid = "CA" + uuid.uuid4().hex
    root = ET.fromstring(live.webhook("/twilio/voice/incoming", params(sid)).text)
    keys = ["1", "1"]  # UWV, WW
    for _ in range(8):
        if root.find("Enqueue") is not None:
            break
        gather = root.find("Gather")
        assert gather is not None, ET.tostring(root)
        action = gather.get("action", "")[len(live.url):]
        key = "" if action.startswith("/twilio/voice/case-reference") else keys.pop(0)
        root = ET.fromstring(live.webhook(action, params(sid, Digits=key)).text)
    assert root.find("Enqueue") is not None
    live.webhook("/twilio/voice/wait", params(sid, QueueTime="0"))
    return sid


def test_the_wallboard_updates_by_itself_and_pauses(page: Page, live: Live) -> None:
    voice = live.container.voice
    set_presence(voice, liaison_id=live.liaison_id("uwv-jan"), status=Presence.AWAY, organisation_scope=None)
    live.container_accounts().grant(issuer=live.issuer, subject="nieuw", by="test", at=datetime.now(UTC),
                                    grant=Grant(Role.SUPERVISOR))
    page.goto(f"{live.url}/staff/inloggen")
    page.get_by_role("link", name="Inloggen via Rijks-inlog").click()
    page.get_by_role("button", name="nieuw", exact=True).click()
    expect(page).to_have_url(f"{live.url}/staff/")

    page.goto(f"{live.url}/staff/wallboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Live wachtrijen")
    waiting = page.locator('[data-figure="waiting"]')
    expect(waiting).to_have_text("0")
    toggle = page.get_by_role("button", name="Verversen pauzeren")
    expect(toggle).to_be_visible()
    expect(page.locator("#wall-refresh-state")).to_have_text("Deze cijfers verversen elke 10 seconden.")

    sid = call_waits(live)
    expect(waiting).to_have_text("1", timeout=POLL_WAIT_MS)  # by polling, not by reloading
    expect(page.get_by_role("status")).to_contain_text("Wachtende gesprekken: 1.")
    expect(page.get_by_role("table", name="Aantal medewerkers per status, nu")).to_contain_text("Afwezig")
    expect(page.locator("#wall-rows")).to_contain_text("WW-uitkering")
    expect(page.locator('[data-state="available"]')).to_have_text("Slecht")  # a call waits, nobody available
    axe_and_screenshot(page, "wallboard")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]

    toggle.focus()
    page.keyboard.press("Enter")  # pause by keyboard
    resume = page.get_by_role("button", name="Verversen hervatten")
    expect(resume).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#wall-refresh-state")).to_have_text("Verversen staat op pauze.")
    live.webhook("/twilio/voice/status", params(sid, CallStatus="completed"))  # the caller hangs up
    page.wait_for_timeout(12_000)  # more than one refresh period
    expect(waiting).to_have_text("1")  # paused: unchanged
    expect(resume).to_be_focused()  # focus never moved

    resume.click()
    expect(waiting).to_have_text("0", timeout=POLL_WAIT_MS)
    expect(page.locator('[data-figure="abandoned"]')).to_contain_text("1 (100,0 % van aangeboden)")
    expect(page.get_by_role("status")).to_contain_text("Wachtende gesprekken: 0.")
