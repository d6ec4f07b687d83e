"""<Record>: the action and its parameters, the recording's audio, silence, hang-ups, maxLength,
trim, recording status callbacks, and a phone (callee) speaking into a Record on its leg."""

from __future__ import annotations

import io
import re
import wave

import httpx
import pytest
from twilio.rest import Client

from tests.emulator.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    LIAISON,
    LINE,
    no_application_errors,
    valid_signature,
)
from tests.emulator.customer_app import CustomerApp, Received
from twilio_emulator import CallerScript, Emulator, Phone, rewriting_http_client


def fetch_wav(emulator: Emulator, url: str) -> wave.Wave_read:
    response = httpx.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/x-wav"
    return wave.open(io.BytesIO(response.content), "rb")


def wav_seconds(audio: wave.Wave_read) -> float:
    return audio.getnframes() / audio.getframerate()


def test_action_gets_the_recording_and_its_url_serves_a_wav(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Say>Spreek na de piep</Say><Record action="recorded" finishOnKey="#" maxLength="60"/>'
        "<Say>Onbereikbaar</Say></Response>")
    app.routes["/twiml/recorded"] = lambda r: "<Response><Say>Bedankt</Say></Response>"
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[4])).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    assert valid_signature(recorded) and recorded.method == "POST"
    assert recorded["CallSid"] == call.sid and recorded["CallStatus"] == "in-progress"
    assert re.fullmatch(r"RE[0-9a-f]{32}", recorded["RecordingSid"])
    assert recorded["RecordingUrl"] == (
        f"{emulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recorded['RecordingSid']}")
    assert recorded["RecordingDuration"] == "4"
    assert recorded["Digits"] == "#"
    assert call.said() == ["Spreek na de piep", "Bedankt"]  # verbs after <Record> are unreachable
    kinds = [e.kind for e in call.transcript]
    assert kinds.index("beep") < kinds.index("record_started") < kinds.index("record_ended")
    ended, = call.events("record_ended")
    assert ended.data == {"recording_sid": recorded["RecordingSid"], "duration": 4, "digits": "#", "empty": False}
    assert [w["kind"] for w in call.webhooks()] == ["voice", "record"]

    audio = fetch_wav(emulator, recorded["RecordingUrl"])
    assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (1, 8000, 2)
    assert wav_seconds(audio) == 4
    assert wav_seconds(fetch_wav(emulator, recorded["RecordingUrl"] + ".wav")) == 4
    assert httpx.get(recorded["RecordingUrl"]).status_code == 401  # basic auth, as the REST API
    assert httpx.get(recorded["RecordingUrl"] + ".mp3", auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 404
    # The Recording resource through the twilio library.
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(emulator.base_url))
    resource = client.recordings(recorded["RecordingSid"]).fetch()
    assert resource.call_sid == call.sid and resource.duration == "4" and resource.status == "completed"
    assert [r.sid for r in client.recordings.list(call_sid=call.sid)] == [recorded["RecordingSid"]]
    assert no_application_errors(call)


def test_action_defaults_to_the_current_document_and_any_key_finishes(app: CustomerApp,
                                                                        emulator: Emulator) -> None:
    def voice(r: Received) -> str:
        if "RecordingUrl" in r.params:
            return f"<Response><Say>Opgenomen {r['RecordingDuration']} met {r['Digits']}</Say></Response>"
        return '<Response><Record playBeep="false"/></Response>'

    app.routes["/twiml/voice"] = voice
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[2])).wait_until_ended()
    assert call.said() == ["Opgenomen 2 met #"]  # the default finishOnKey holds every key
    assert call.events("beep") == []
    assert no_application_errors(call)


def test_silence_skips_to_the_next_verb(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" timeout="3" recordingStatusCallback="/rec-status" '
        'recordingStatusCallbackEvent="completed absent"/><Say>Geen bericht</Say></Response>')
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[None])).wait_until_ended()
    assert app.to("/twiml/recorded") == []
    assert call.said() == ["Geen bericht"]
    started, = call.events("record_started")
    ended, = call.events("record_ended")
    assert ended["empty"] is True and ended["duration"] == 0
    assert ended.t - started.t >= 3  # `timeout` seconds of silence
    absent, = app.wait_for("/rec-status")
    assert absent["RecordingStatus"] == "absent" and absent["RecordingSid"] == started["recording_sid"]
    # An empty recording has no audio.
    url = f"{emulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{started['recording_sid']}"
    assert httpx.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 404
    assert no_application_errors(call)


def test_a_script_without_record_entries_stays_silent(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" timeout="2"/><Say>Tot ziens</Say></Response>')
    call = emulator.place_call(CALLER, LINE).wait_until_ended()
    assert app.to("/twiml/recorded") == [] and call.said() == ["Tot ziens"]


def test_hangup_during_recording_still_posts_the_action(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" maxLength="120"/></Response>')
    app.routes["/twiml/recorded"] = lambda r: "<Response><Say>Niemand hoort dit</Say></Response>"
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[30], hangup_when="record_started",
                                                          hangup_delay=5)).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    assert valid_signature(recorded)
    assert recorded["Digits"] == "hangup"
    assert recorded["CallStatus"] == "completed"
    assert 4 <= int(recorded["RecordingDuration"]) <= 6
    assert call.said() == []  # the action's TwiML is ignored: the call is over
    assert call.ended_by == "caller"
    assert call.events("record_ended")[0]["digits"] == "hangup"
    assert wav_seconds(fetch_wav(emulator, recorded["RecordingUrl"])) == int(recorded["RecordingDuration"])
    assert no_application_errors(call)


def test_hangup_before_speaking_is_an_empty_recording(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Record action="/twiml/recorded"/></Response>'
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[None], hangup_when="record_started",
                                                          hangup_delay=1)).wait_until_ended()
    assert app.to("/twiml/recorded") == []
    assert call.events("record_ended")[0]["empty"] is True


def test_max_length_cuts_the_recording(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" maxLength="5" finishOnKey="#"/></Response>')
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[20])).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    assert recorded["RecordingDuration"] == "5"
    assert recorded["Digits"] == ""  # no key ended it
    started, = call.events("record_started")
    ended, = call.events("record_ended")
    assert 5 <= ended.t - started.t < 8
    assert wav_seconds(fetch_wav(emulator, recorded["RecordingUrl"])) == 5


def test_silence_after_speech_ends_it_and_trim(app: CustomerApp, emulator: Emulator) -> None:
    # finishOnKey without "#": the caller speaks, then stays silent until the timeout.
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/first" finishOnKey="*" timeout="2"/></Response>')
    app.routes["/twiml/first"] = lambda r: (
        '<Response><Record action="/twiml/second" finishOnKey="" timeout="2" trim="do-not-trim"/></Response>')
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[3, 3])).wait_until_ended()
    first, = app.to("/twiml/first")
    second, = app.to("/twiml/second")
    assert (first["RecordingDuration"], first["Digits"]) == ("3", "")  # trailing silence trimmed
    assert (second["RecordingDuration"], second["Digits"]) == ("5", "")  # 3 s speech + 2 s silence
    assert first["RecordingSid"] != second["RecordingSid"]
    assert no_application_errors(call)


def test_recording_status_callback(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" recordingStatusCallback="/rec-status" '
        'recordingStatusCallbackEvent="in-progress completed" recordingStatusCallbackMethod="POST" '
        'transcribe="true" transcribeCallback="/transcribed"/></Response>')
    app.routes["/twiml/recorded"] = lambda r: "<Response><Hangup/></Response>"
    call = emulator.place_call(CALLER, LINE, CallerScript(record=[7])).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    in_progress, completed = app.wait_for("/rec-status", count=2)
    for cb in (in_progress, completed):
        assert valid_signature(cb)
        assert cb["AccountSid"] == ACCOUNT_SID and cb["CallSid"] == call.sid
        assert cb["RecordingSid"] == recorded["RecordingSid"] and cb["RecordingUrl"] == recorded["RecordingUrl"]
        assert cb["RecordingSource"] == "RecordVerb" and cb["RecordingChannels"] == "1"
        assert cb["RecordingStartTime"].endswith("+0000")
    assert in_progress["RecordingStatus"] == "in-progress" and "RecordingDuration" not in in_progress.params
    assert completed["RecordingStatus"] == "completed" and completed["RecordingDuration"] == "7"
    assert app.to("/transcribed") == []  # transcription is not emulated
    hooks = [w for w in call.webhooks() if w["kind"] == "recording_status_callback"]
    assert [h["params"]["RecordingStatus"] for h in hooks] == ["in-progress", "completed"]


def test_recording_status_callback_defaults_to_completed_only(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Record action="/twiml/recorded" recordingStatusCallback="/rec-status" '
        'recordingStatusCallbackMethod="GET"/></Response>')
    emulator.place_call(CALLER, LINE, CallerScript(record=[2])).wait_until_ended()
    status, = app.wait_for("/rec-status")
    assert status.method == "GET" and "RecordingStatus=completed" in status.url
    assert valid_signature(status)


@pytest.mark.parametrize("via", ["rest", "whisper"])
def test_a_phone_speaks_into_a_record_on_its_leg(app: CustomerApp, emulator: Emulator, via: str) -> None:
    app.routes["/twiml/callee"] = lambda r: (
        '<Response><Record action="/twiml/callee-recorded" finishOnKey="#"/></Response>')
    app.routes["/twiml/callee-recorded"] = lambda r: "<Response/>"
    emulator.register_phone(LIAISON, Phone("answer", answer_after=1, talk_seconds=5, record=[3]))
    if via == "rest":
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(emulator.base_url))
        created = client.calls.create(to=LIAISON, from_=LINE, url=app.url("/twiml/callee"))
        leg = emulator.call(created.sid).wait_until_ended()
    else:
        app.routes["/twiml/voice"] = lambda r: (
            f'<Response><Dial><Number url="/twiml/callee">{LIAISON}</Number></Dial></Response>')
        call = emulator.place_call(CALLER, LINE).wait_until_ended()
        leg, = call.children
        leg.wait_until_ended()
    recorded, = app.to("/twiml/callee-recorded")
    assert recorded["CallSid"] == leg.sid and recorded["To"] == LIAISON
    assert recorded["RecordingDuration"] == "3" and recorded["Digits"] == "#"
    assert leg.events("record_ended")[0]["duration"] == 3


def test_a_recording_deleted_through_the_rest_api_is_gone(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: '<Response><Record action="recorded" maxLength="10"/></Response>'
    app.routes["/twiml/recorded"] = lambda r: "<Response><Hangup/></Response>"
    emulator.place_call(CALLER, LINE, CallerScript(record=[2])).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    sid = recorded["RecordingSid"]
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=rewriting_http_client(emulator.base_url))

    assert client.recordings(sid).delete() is True  # 204, as Twilio answers
    assert emulator.engine.deleted_recordings == [sid]
    assert httpx.get(recorded["RecordingUrl"], auth=(ACCOUNT_SID, AUTH_TOKEN)).status_code == 404
    with pytest.raises(Exception) as gone:
        client.recordings(sid).delete()
    assert getattr(gone.value, "status", None) == 404 and getattr(gone.value, "code", None) == 20404


def test_the_retention_job_s_twilio_adapter_deletes_through_the_rest_api(app: CustomerApp, emulator: Emulator) -> None:
    from callrouter.adapters.twilio_rest import TwilioRecordings

    app.routes["/twiml/voice"] = lambda r: '<Response><Record action="recorded" maxLength="10"/></Response>'
    app.routes["/twiml/recorded"] = lambda r: "<Response><Hangup/></Response>"
    emulator.place_call(CALLER, LINE, CallerScript(record=[2])).wait_until_ended()
    sid = app.to("/twiml/recorded")[0]["RecordingSid"]
    recordings = TwilioRecordings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=emulator.base_url)
    assert recordings.delete_recording(sid) is True
    assert recordings.delete_recording(sid) is True  # already gone (404): nothing left to do
    assert emulator.engine.deleted_recordings == [sid]
    with pytest.raises(Exception):  # noqa: B017 - a wrong token is an error, not "gone"
        TwilioRecordings(account_sid=ACCOUNT_SID, auth_token="wrong", api_base_url=emulator.base_url).delete_recording(sid)


def test_the_consoles_twilio_adapter_fetches_a_voice_message_with_the_accounts_credentials(
        app: CustomerApp, emulator: Emulator) -> None:
    from callrouter.adapters.twilio_rest import TwilioRecordings

    app.routes["/twiml/voice"] = lambda r: '<Response><Record action="recorded" maxLength="10"/></Response>'
    app.routes["/twiml/recorded"] = lambda r: "<Response><Hangup/></Response>"
    emulator.place_call(CALLER, LINE, CallerScript(record=[2])).wait_until_ended()
    recorded, = app.to("/twiml/recorded")
    recordings = TwilioRecordings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=emulator.base_url)
    audio = recordings.audio(recorded["RecordingUrl"])
    assert audio is not None and audio.media_type == "audio/x-wav"
    assert 1.5 <= wav_seconds(wave.open(io.BytesIO(audio.content), "rb")) <= 2.5
    # Only the sid is taken from a stored URL: another host is never asked, the configured base is.
    elsewhere = "https://elsewhere.example/2010-04-01/Accounts/ACother/Recordings/" + recorded["RecordingSid"]
    assert recordings.audio(elsewhere) == audio
    assert recordings.audio("https://elsewhere.example/not-a-recording") is None
    assert recordings.delete_recording(recorded["RecordingSid"]) is True
    assert recordings.audio(recorded["RecordingUrl"]) is None  # deleted by the retention job: gone
    with pytest.raises(httpx.HTTPStatusError):  # a wrong token is an error, not "gone"
        TwilioRecordings(account_sid=ACCOUNT_SID, auth_token="wrong",
                         api_base_url=emulator.base_url).audio(recorded["RecordingUrl"])
