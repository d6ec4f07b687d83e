"""Request bodies are limited before they are read: 413 at once, and a web process stays small.

The in-process tests check the answers; `test_a_web_process_stays_small_under_100_mb_bodies` starts
uvicorn as a subprocess, sends 100 MB bodies (declared and chunked) and reads its peak RSS from /proc.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from callrouter.adapters.sql.migrate import upgrade
from tests.integration.conftest import App
from tests.integration.test_voice_webhooks import call_params, new_sid, twiml

MB = 1024 * 1024


def test_a_declared_body_past_the_webhook_limit_gets_413_unread(app: App) -> None:
    response = app.client.post("/twilio/voice/incoming", content=b"CallSid=" + b"a" * (64 * 1024),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_a_chunked_body_that_grows_past_the_limit_gets_413(app: App) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"a" * 4096

    response = app.client.post("/twilio/voice/pin", content=chunks(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    turned = app.client.post("/turn/abc/twilio/voice/pin", content=chunks(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert turned.status_code == 413


def test_staff_and_api_bodies_have_the_general_limit(app: App) -> None:
    big = b"x" * (MB + 1)
    assert app.client.post("/staff/uitloggen", content=big).status_code == 413
    assert app.api("PUT", "/api/liaisons/1/presence", content=big).status_code == 413
    assert app.client.post("/staff/uitloggen", content=b"a=1" * 10, headers={"Content-Length": "x"}).status_code == 400


def test_webhooks_of_ordinary_size_still_work(app: App) -> None:
    twiml(app.post("/twilio/voice/incoming", call_params(new_sid(), CallerName="x" * 30_000)))


def test_a_webhook_whose_client_went_away_before_its_body_came_is_answered_quietly(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    """Twilio gives up after 15 s; a request whose body never came is let go (logged), not an application error
    with a traceback, and nothing is recorded."""
    sid = new_sid()
    sent: list[dict[str, object]] = []
    chunks = [{"type": "http.request", "body": f"CallSid={sid}&From=%2B316".encode(), "more_body": True},
              {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
             "path": "/twilio/voice/incoming", "raw_path": b"/twilio/voice/incoming", "query_string": b"",
             "root_path": "", "server": ("127.0.0.1", 443), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"x-twilio-signature", b"c2lnbmVk")]}
    with caplog.at_level("WARNING", logger="callrouter.webhook"):
        anyio.run(app.client.app, scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert "webhook.client_gone path=/twilio/voice/incoming" in caplog.text
    assert app.container.voice.calls.get(sid) is None


# -- a real process ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def _send_big(port: int, *, chunked: bool, size: int, path: str) -> tuple[int, bytes]:
    """Send a `size`-byte body (as far as the server lets it in); the bytes sent and the status line."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        method = "PUT" if path.startswith("/api/") else "POST"
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Twilio-Signature: bm9wZQ==\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\n{length}\r\n\r\n".encode())
        block = b"a" * MB
        try:
            while sent < size:
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
                sent += len(block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed: the rest is never read
            pass
        try:
            answer = sock.recv(200)
        except OSError:
            answer = b""
    return sent, answer.split(b"\r\n", 1)[0]


@pytest.fixture()
def web_process(redis_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    database = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    upgrade(database)
    port = _free_port()
    env = {**os.environ, "CALLROUTER_ENVIRONMENT": "test", "CALLROUTER_REDIS_URL": redis_url,
           "CALLROUTER_DATABASE_URL": database, "CALLROUTER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "callrouter.web.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "uvicorn did not start"
            time.sleep(0.2)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_web_process_stays_small_under_100_mb_bodies(web_process: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = web_process
    before = _status(process.pid, "VmRSS")
    results: list[tuple[int, bytes]] = []
    jobs = [(chunked, path) for chunked in (False, True)
            for path in ("/twilio/voice/incoming", "/turn/x/twilio/voice/pin", "/staff/uitloggen", "/api/liaisons/1/presence")]
    threads = [threading.Thread(target=lambda c=c, p=p: results.append(_send_big(port, chunked=c, size=100 * MB, path=p)))
               for c, p in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    peak = _status(process.pid, "VmHWM")
    print(f"\nbodies: {len(jobs)} x 100 MB; answers {sorted({r[1] for r in results})}; bytes let in "
          f"{max(r[0] for r in results) / MB:.0f} MB at most; RSS before {before / MB:.0f} MB, peak {peak / MB:.0f} MB")
    assert len(results) == len(jobs)
    # 413, or for the API without a token its 401 (refused before the body is read)
    assert all(b" 413 " in answer or b" 401 " in answer for _sent, answer in results), results
    assert sum(b" 413 " in answer for _sent, answer in results) >= 6
    assert peak < 150 * MB
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
