"""adapters/twiml.py: the call's room rendered as Twilio's <Dial><Conference>."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from callrouter.adapters.twiml import TwimlRenderer
from callrouter.domain.call_flow import Goto, Step, room_of
from callrouter.domain.voice import JoinRoom, Say, VoiceReply
from callrouter.web.voice_paths import url_maker

BASE = "https://callrouter.example"


def render(reply: VoiceReply) -> ET.Element:
    return ET.fromstring(TwimlRenderer(BASE, url_of=url_maker(BASE)).render(reply))


def test_the_caller_waits_in_the_room_until_the_liaison_starts_it() -> None:
    doc = render(VoiceReply.of(JoinRoom(room=room_of("CA1"), events=Goto.to(Step.ROOM_EVENT, call="CA1"),
                                        action=Goto.to(Step.ROOM_LEFT, liaison=11), hold=Goto.to(Step.ROOM_HOLD),
                                        starts=False, ends=True, label="caller")))
    dial = doc.find("Dial")
    assert dial is not None and dial.get("action") == f"{BASE}/twilio/voice/room-left?liaison=11"
    conference = dial.find("Conference")
    assert conference is not None and conference.text == "call-CA1"
    assert conference.attrib == {
        "startConferenceOnEnter": "false", "endConferenceOnExit": "true", "beep": "false",
        "waitUrl": f"{BASE}/twilio/voice/room-hold", "waitMethod": "POST",
        "statusCallback": f"{BASE}/twilio/voice/room-event?call=CA1", "statusCallbackMethod": "POST",
        "statusCallbackEvent": "start end join leave", "participantLabel": "caller"}


def test_the_liaison_joins_after_the_whisper_and_starts_the_room() -> None:
    doc = render(VoiceReply.of(Say("Professionallijn."), JoinRoom(
        room=room_of("CA1"), events=Goto.to(Step.ROOM_EVENT, call="CA1"), starts=True, ends=True, label="liaison-11")))
    assert [child.tag for child in doc] == ["Say", "Dial"]
    dial = doc.find("Dial")
    assert dial is not None and "action" not in dial.attrib
    conference = dial.find("Conference")
    assert conference is not None and conference.get("startConferenceOnEnter") == "true"
    assert "waitUrl" not in conference.attrib and conference.get("participantLabel") == "liaison-11"
