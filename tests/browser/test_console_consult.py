"""The console's consult on the conference bridge in Chromium: ask Toeslagen with the caller on hold, see the
consult's state live (ringing, answered), then complete it; keyboard only; axe-core finds no violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from callrouter.domain.calls import CallState
from callrouter.domain.queueing import Presence
from callrouter.services.calls import consult_record
from callrouter.services.staff import presence as presence_service
from tests.browser.checks import axe_and_screenshot, log_in
from tests.browser.conftest import Live
from tests.browser.test_console import ROOM, room_report, route_call_to


@pytest.fixture()
def conference_bridge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CALLROUTER_BRIDGE", "conference")  # read when the `live` fixture builds its settings
    yield


def test_a_liaison_consults_toeslagen_with_the_caller_on_hold_and_completes(
        conference_bridge: None, page: Page, live: Live) -> None:
    assert live.container.voice.bridge == "conference"
    live.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    log_in(page, live.url, "uwv-jan")
    page.get_by_label("Beschikbaar", exact=True).check()
    page.get_by_role("button", name="Beschikbaarheid opslaan").click()
    sid = route_call_to(live, "uwv-jan")
    jan_leg = "CA" + "1".zfill(32)  # the recording telephony's first created call: Jan's leg into the room
    room_report(live, sid, "participant-join", sid, 1)
    room_report(live, sid, "participant-join", jan_leg, 2)
    record = live.container.voice.calls.get(sid)
    assert record is not None and record.state == CallState.CONNECTED
    marloes = live.liaison_id("tsl-marloes")
    presence_service.set_presence(live.container.voice, liaison_id=marloes, status=Presence.AVAILABLE,
                                  organisation_scope="TSL")

    organisation = page.get_by_label("Organisatie", exact=True)
    expect(organisation).to_be_visible(timeout=15_000)
    organisation.focus()
    organisation.select_option("TSL")
    ask = page.get_by_role("button", name="Eerst overleggen (beller in de wacht)")
    ask.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="De beller staat in de wacht")).to_be_visible()
    live_part = page.locator("#live")
    expect(live_part.locator(".consult-state")).to_contain_text("gaat over", timeout=15_000)
    assert axe_and_screenshot(page, "staff-console-consult-ringing") == []
    assert live.telephony.holds == [(ROOM, sid, True)]

    marloes_leg = "CA" + "2".zfill(32)  # the recording telephony's second created call
    now = consult_record.current(live.container.voice, live.container.voice.calls.get(sid))  # type: ignore[arg-type]
    assert now is not None and now.leg == marloes_leg
    room_report(live, sid, "participant-join", marloes_leg, 3)
    expect(live_part.locator(".consult-state")).to_contain_text("Opgenomen", timeout=15_000)
    assert axe_and_screenshot(page, "staff-console-consult-answered") == []
    complete = page.get_by_role("button", name="Overleg afronden: beller naar Dienst Toeslagen")
    complete.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Overleg afgerond")).to_be_visible()
    assert axe_and_screenshot(page, "staff-console-consult-completed") == []
    record = live.container.voice.calls.get(sid)
    assert record is not None and (record.state, record.liaison_id, record.organisation) == (
        CallState.CONNECTED, marloes, "TSL")
    assert (ROOM, sid, False) in live.telephony.holds and jan_leg in live.telephony.hung_up
    expect(live_part).to_contain_text("U bent nu niet in gesprek", timeout=15_000)
