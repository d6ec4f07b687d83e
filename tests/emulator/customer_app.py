"""A tiny stand-in for the customer's application: answers webhooks with canned TwiML and
remembers every request it received."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response

from twilio_emulator.server import ThreadedServer


@dataclass
class Received:
    method: str
    path: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


Handler = Callable[[Received], Any]


class CustomerApp:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.received: list[Received] = []
        self._lock = threading.Condition()
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def anything(path: str, request: Request) -> Response:
            body = (await request.body()).decode()
            params = dict(parse_qsl(body, keep_blank_values=True)) if request.method == "POST" else {}
            received = Received(request.method, "/" + path, str(request.url), params, dict(request.headers))
            with self._lock:
                self.received.append(received)
                self._lock.notify_all()
            handler = self.routes.get("/" + path)
            if handler is None:
                return Response("<Response/>", media_type="text/xml") if path.startswith("twiml") else \
                    Response(status_code=204)
            result = handler(received)
            if isinstance(result, Response):
                return result
            return Response(str(result), media_type="text/xml")

        self.server = ThreadedServer(app)

    def start(self) -> CustomerApp:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    def reset(self) -> None:
        with self._lock:
            self.routes.clear()
            self.received.clear()

    def to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        with self._lock:
            if not self._lock.wait_for(lambda: len([r for r in self.received if r.path == path]) >= count,
                                       timeout):
                raise TimeoutError(f"{path} got {len(self.to(path))} requests, wanted {count}")
        return self.to(path)
