"""Many concurrent calls, the /_emulator/ control API, and running the emulator as a program."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.emulator.conftest import ACCOUNT_SID, AUTH_TOKEN, CALLER, LINE, no_application_errors
from tests.emulator.customer_app import CustomerApp
from twilio_emulator import CallerScript, Emulator, Phone


def test_fifty_concurrent_calls_complete(app: CustomerApp, emulator: Emulator) -> None:
    # A generous dial timeout: at the tests' time scale 10 s is 0.2 s of real time, which fifty calls
    # on two busy cores can overrun (seen once in CI as a "no-answer"). This test is about every call
    # completing; dial timeouts have their own tests in test_dial.py.
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Gather numDigits="1" action="/twiml/menu"><Say>Kies</Say></Gather></Response>')
    app.routes["/twiml/menu"] = lambda r: (
        f'<Response><Dial action="/twiml/dial-done" timeout="60">+3160000{int(r["Digits"]):04d}</Dial></Response>')
    app.routes["/twiml/dial-done"] = lambda r: f"<Response><Say>{r['DialCallStatus']}</Say></Response>"
    for i in range(10):
        emulator.register_phone(f"+3160000{i:04d}", Phone("answer", answer_after=2, talk_seconds=10,
                                                            call_waiting=True))
    handles = [emulator.place_call(f"+316100{i:05d}", LINE, CallerScript(digits=[str(i % 10)]))
               for i in range(50)]
    for handle in handles:
        handle.wait_until_ended(timeout=30)
    assert [h.said()[-1] for h in handles] == ["completed"] * 50
    assert len(emulator.calls) == 100
    assert len(app.to("/status")) == 50
    assert all(no_application_errors(h) for h in emulator.calls)


def test_control_api(app: CustomerApp, emulator: Emulator) -> None:
    app.routes["/twiml/voice"] = lambda r: (
        '<Response><Gather numDigits="1" action="/twiml/menu"><Say>Kies</Say></Gather></Response>')
    app.routes["/twiml/menu"] = lambda r: '<Response><Dial><Client>desk</Client></Dial></Response>'
    base = emulator.base_url + "/_emulator"
    with httpx.Client(timeout=5) as http:
        assert http.post(f"{base}/phones", json={"address": "client:desk", "behaviour": "answer",
                                                 "answer_after": 1, "talk_seconds": 3}).status_code == 201
        placed = http.post(f"{base}/calls", json={"from": CALLER, "to": LINE, "script": {"digits": ["4"]}})
        assert placed.status_code == 201
        sid = placed.json()["sid"]
        emulator.call(sid).wait_until_ended()
        listed = http.get(f"{base}/calls").json()
        assert {c["sid"] for c in listed} == {sid, emulator.call(sid).children[0].sid}
        detail = http.get(f"{base}/calls/{sid}").json()
        assert detail["status"] == "completed" and len(detail["children"]) == 1
        kinds = [e["kind"] for e in detail["transcript"]]
        assert "bridged" in kinds and kinds[-1] in ("hangup", "status_callback")
        assert http.get(f"{base}/calls/CAnothing").status_code == 404
        assert http.post(f"{base}/calls", json={"from": CALLER, "to": "+31000"}).status_code == 400
        faults = http.post(f"{base}/faults", json={"duplicate_status_callbacks": True}).json()
        assert faults["duplicate_status_callbacks"] is True and emulator.duplicate_status_callbacks


def test_python_dash_m_twilio_emulator(tmp_path: Path, app: CustomerApp) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "emulator.json"
    config.write_text(json.dumps({
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "time_scale": 50,
        "numbers": {LINE: {"voice_url": app.url("/twiml/voice")}},
        "phones": {"+31600000001": {"behaviour": "busy"}},
    }))
    app.routes["/twiml/voice"] = lambda r: "<Response><Dial>+31600000001</Dial><Say>Bezet</Say></Response>"
    proc = subprocess.Popen([sys.executable, "-m", "twilio_emulator", "--port", str(port), "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/_emulator"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "emulator did not start"
            time.sleep(0.05)
        sid = httpx.post(f"{base}/calls", json={"from": CALLER, "to": LINE}).json()["sid"]
        while not (detail := httpx.get(f"{base}/calls/{sid}").json())["done"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        said = [e["text"] for e in detail["transcript"] if e["kind"] == "say"]
        assert said == ["Bezet"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
