"""The REST client's connections to Twilio (adapters/twilio_rest.py), against a small HTTP server on loopback.

requests keeps its connections to Twilio open between requests; a server closes one that stays idle, and when
that happens as a request goes out on it, the request gets no answer ("Remote end closed connection without
response"). A redirect, a hang-up or a participant's hold is sent once more on a new connection (the same update
twice changes nothing); a new call is not (a second one would dial twice). And no request waits for ever.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests

from callrouter.adapters.twilio_rest import (
    REQUEST_TIMEOUT_SECONDS,
    TWILIO_API,
    BaseUrlHttpClient,
    TwilioCalls,
    may_send_again,
)
from callrouter.domain.call_flow import Goto, Step

ACCOUNT = "AC" + "0" * 32
CALL = "CA" + "1" * 32
ROOM = "CF" + "2" * 32


@dataclass
class Server:
    """Answers the first request on each connection with a call's JSON and keeps the connection open; a second
    request on the same connection is read and the connection closed without an answer (as a server does that
    closes an idle connection just then). `silent` reads every request and never answers."""

    silent: bool = False
    seen: list[tuple[int, str, str]] = field(default_factory=list)  # (connection, method, path)
    port: int = 0
    _sock: socket.socket | None = None

    def start(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        assert self._sock is not None
        self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        number = 0
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            for served in range(2):
                line = reader.readline()
                if not line:
                    return
                method, path, _ = line.decode().split(" ", 2)
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.seen.append((number, method, path))
                if self.silent:
                    time.sleep(REQUEST_TIMEOUT_SECONDS)
                    return
                if served == 1:
                    conn.shutdown(socket.SHUT_RDWR)  # no answer: the connection is closed under the request
                    return
                status = "201 CREATED" if path.endswith("/Calls.json") else "200 OK"
                body = json.dumps({"sid": CALL, "account_sid": ACCOUNT, "status": "in-progress"}).encode()
                conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                             f"Connection: keep-alive\r\n\r\n".encode() + body)


@contextmanager
def server(**options: bool) -> Iterator[Server]:
    found = Server(**options)
    found.start()
    try:
        yield found
    finally:
        found.stop()


def calls_at(base_url: str) -> TwilioCalls:
    return TwilioCalls(account_sid=ACCOUNT, auth_token="token", api_base_url=base_url,
                       url_of=lambda goto: f"https://callrouter.example/twilio/voice/{goto.step.value}")


def test_a_redirect_on_a_connection_closed_under_it_is_sent_again_on_a_new_one() -> None:
    with server() as twilio:
        calls = calls_at(f"http://127.0.0.1:{twilio.port}")
        calls.redirect(call_sid=CALL, to=Goto.to(Step.WAIT))  # opens the connection, which stays open
        calls.redirect(call_sid=CALL, to=Goto.to(Step.WAIT))  # on it; closed unanswered, sent again
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"
        assert twilio.seen == [(1, "POST", path), (1, "POST", path), (2, "POST", path)]


def test_a_hang_up_and_a_participant_update_are_sent_again_too() -> None:
    with server() as twilio:
        calls = calls_at(f"http://127.0.0.1:{twilio.port}")
        calls.hang_up(call_sid=CALL)
        calls.hold_member(room_sid=ROOM, member=CALL, hold=False)
        assert [(n, path.rsplit("/", 2)[-2]) for n, _, path in twilio.seen] == [
            (1, "Calls"), (1, "Participants"), (2, "Participants")]


def test_a_new_call_on_a_connection_closed_under_it_is_not_sent_again() -> None:
    with server() as twilio:
        calls = calls_at(f"http://127.0.0.1:{twilio.port}")
        calls.redirect(call_sid=CALL, to=Goto.to(Step.WAIT))
        with pytest.raises(requests.ConnectionError):
            calls.create_call(to="client:liaison", from_="+31850000000", answer=Goto.to(Step.WHISPER),
                              status=Goto.to(Step.STATUS), timeout=20)
        assert [(n, m, path.rsplit("/", 1)[-1]) for n, m, path in twilio.seen] == [
            (1, "POST", f"{CALL}.json"), (1, "POST", "Calls.json")]  # once: it may have dialled


def test_a_request_that_gets_no_answer_gives_up_after_the_timeout() -> None:
    with server(silent=True) as twilio:
        client = BaseUrlHttpClient(f"http://127.0.0.1:{twilio.port}", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            client.request("POST", f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json", data={"Url": "x"})
        assert time.monotonic() - started < 5
        assert len(twilio.seen) == 1  # a timeout is not a closed connection: not sent again


def test_the_client_for_twilio_itself_has_the_timeout() -> None:
    """The library's own client (what the service used for api.twilio.com) waits for ever."""
    calls = calls_at(TWILIO_API)
    http = calls._client.http_client  # noqa: SLF001
    assert isinstance(http, BaseUrlHttpClient) and http.timeout == REQUEST_TIMEOUT_SECONDS == 10.0


@pytest.mark.parametrize(("method", "path", "again"), [
    ("GET", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json", True),
    ("DELETE", f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'3' * 32}.json", True),
    ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json", True),
    ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{ROOM}/Participants/{CALL}.json", True),
    ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", False),
    ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{ROOM}/Participants.json", False),
    ("PUT", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json", False),
])
def test_which_requests_may_be_sent_again(method: str, path: str, again: bool) -> None:
    assert may_send_again(method, f"{TWILIO_API}{path}") is again
