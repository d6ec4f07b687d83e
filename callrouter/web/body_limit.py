"""A size limit on every request body, applied before the body is read in full.

Twilio's webhooks are a few KiB and come before any signature can be checked, so an unsigned
100 MB body must never be buffered or parsed: a Content-Length past the limit is answered 413 at
once, without reading the body; a body without one (chunked) is counted as it streams in and
refused as soon as it passes the limit. Webhooks (under /twilio/ and their turns under /turn/)
have their own, smaller limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEBHOOK_PREFIXES = ("/twilio/", "/turn/")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, webhook_max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.webhook_max_bytes = webhook_max_bytes

    def limit_for(self, path: str) -> int:
        return self.webhook_max_bytes if path.startswith(WEBHOOK_PREFIXES) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = [value for name, value in scope["headers"] if name == b"content-length"]
        if declared:
            if len(declared) > 1 or not declared[0].isdigit() or len(declared[0]) > 18:
                await _refuse(send, 400, b"Bad Request: Content-Length\n")
                return
            if int(declared[0]) > limit:
                await _refuse(send, 413, b"Payload Too Large\n")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if not started:  # read outside a route (a middleware): still answered 413
                await _refuse(send, 413, b"Payload Too Large\n")


async def _refuse(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
