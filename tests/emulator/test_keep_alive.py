"""The emulator keeps an idle keep-alive connection open longer than uvicorn's 5 s: the service's REST client
(requests) keeps its connections, and one the server closes after 5 s idle can be closed the moment a redirect
is sent on it (most likely the ConnectionError that told a fault-suite caller the apology)."""

from __future__ import annotations

import http.client
import time

from twilio_emulator.server import ThreadedServer


async def _ok(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_an_idle_connection_is_still_open_after_six_seconds() -> None:
    with ThreadedServer(_ok) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        conn.request("POST", "/first", body=b"")
        assert conn.getresponse().read() == b"ok"
        local = conn.sock.getsockname()
        time.sleep(6.0)  # longer than uvicorn's default keep-alive of 5 s
        conn.request("POST", "/second", body=b"")  # on the same connection: not closed under the client
        assert conn.getresponse().read() == b"ok"
        assert conn.sock.getsockname() == local
        conn.close()
