"""The HTTP server: the FastAPI app, and running it (or any ASGI app) in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from . import control, rest, rest_conferences
from .engine import Engine


def build_app(engine: Engine) -> FastAPI:
    app = FastAPI(title="Twilio emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.include_router(rest.router)
    app.include_router(rest_conferences.router)
    app.include_router(control.router)
    return app


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    # ws="none": no websocket library is imported (and none of its deprecation warnings).
    # timeout_keep_alive 75 s, not uvicorn's 5: the service's REST client (requests) keeps its connections,
    # and a connection this server closes after 5 s idle can be closed the moment the client sends on it. Most
    # likely that was the redirect that failed with a ConnectionError in a fault-suite baseline (2026-12-03: one
    # caller of 100 told the apology). The service's own uvicorn keeps 75 s for Twilio's webhooks likewise.
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          lifespan="off", ws="none", http="h11", loop="asyncio", timeout_keep_alive=75)


class ThreadedServer:
    """Serves an ASGI app with uvicorn on its own event loop in a daemon thread."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0,
                 on_start: Callable[[], Awaitable[None]] | None = None,
                 on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self.app, self.host = app, host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = int(self._sock.getsockname()[1])
        self._on_start, self._on_stop = on_start, on_stop
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port))
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name=f"uvicorn:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self._error is not None:
                raise RuntimeError("server failed to start") from self._error
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.005)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        if self._on_start is not None:
            await self._on_start()
        try:
            await self.server.serve(sockets=[self._sock])
        finally:
            if self._on_stop is not None:
                await self._on_stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
