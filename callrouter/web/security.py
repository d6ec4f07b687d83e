"""Security events in the log, rate-limit refusals, and the guard on unsigned webhooks.

A security event is one log line `security.<event> key=value ... origin=<address>` on the logger
`callrouter.security` (refused signature, CSRF, foreign Origin, cross-organisation access, API 401/403,
rate limits). Values from outside are escaped by the log formatter (callrouter/logging_setup.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callrouter.adapters.rate_limits import RedisRateLimits, Verdict
from callrouter.web.voice_paths import PREFIX as WEBHOOK_PREFIX

log = logging.getLogger("callrouter.security")

LOGIN_START = "login_start"
API_TOKEN_FAILURE = "api_token_failure"
UNSIGNED_WEBHOOK = "unsigned_webhook"
EXPORT = "export"
MAX_BLOCKED = 10_000  # sources this process remembers as over the unsigned-webhook limit


def source_of(request: Request | Scope) -> str:
    client = request.client if isinstance(request, Request) else request.get("client")
    return str(client[0]) if client else "-"


def security_event(request: Request | Scope, event: str, **fields: object) -> None:
    path = request.url.path if isinstance(request, Request) else request.get("path", "")
    details = " ".join(f"{k}={v}" for k, v in fields.items())
    log.warning("security.%s path=%s %s%sorigin=%s", event, path, details, " " if details else "", source_of(request))


def limits_of(request: Request) -> RedisRateLimits:
    limits: RedisRateLimits = request.app.state.container.rate_limits
    return limits


def too_many(verdict: Verdict, *, json: bool = False, body: Any = None) -> Response:
    headers = {"Retry-After": str(verdict.retry_after)}
    if json:
        return JSONResponse(body or {"error": "rate_limited", "detail": "too many requests",
                                     "retry_after": verdict.retry_after}, status_code=429, headers=headers)
    return Response("Too many requests\n", status_code=429, media_type="text/plain", headers=headers)


class UnsignedWebhookLimit:
    """Counts refused (unsigned or badly signed) webhooks per source address in Redis; over the limit a
    source gets 429 with Retry-After instead of 403.

    Signed requests never touch the limiter: a refusal (403 from the webhook edge) is counted after the
    fact, and a source found over the limit is refused up front by this process until its window ends,
    without a Redis round trip on the way of Twilio's own requests.
    """

    def __init__(self, app: ASGIApp, *, limits: RedisRateLimits, clock: Any = time.monotonic):
        self.app = app
        self.limits = limits
        self.clock = clock
        self.blocked: dict[str, float] = {}  # source -> until (this process's monotonic clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(WEBHOOK_PREFIX):
            await self.app(scope, receive, send)
            return
        source = source_of(scope)
        until = self.blocked.get(source)
        if until is not None:
            if self.clock() < until:
                await self._refuse(scope, receive, send, Verdict(False, max(1, int(until - self.clock()) + 1)))
                return
            self.blocked.pop(source, None)
        state: dict[str, Verdict] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                verdict = await run_in_threadpool(self.limits.hit, UNSIGNED_WEBHOOK, source)
                security_event(scope, "signature_refused")
                if not verdict.allowed:
                    state["refused"] = verdict
                    if len(self.blocked) >= MAX_BLOCKED:  # many sources: forget the ones whose window ended
                        now = self.clock()
                        self.blocked = {k: v for k, v in self.blocked.items() if v > now}
                    self.blocked[source] = self.clock() + verdict.retry_after
                    security_event(scope, "rate_limited", limit=UNSIGNED_WEBHOOK)
                    response = too_many(verdict)
                    message = {"type": "http.response.start", "status": 429, "headers": response.raw_headers}
                    await send(message)
                    await send({"type": "http.response.body", "body": response.body})
                    return
            if "refused" in state:
                return  # the 403's body is replaced by the 429 above
            await send(message)

        await self.app(scope, receive, watch)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict) -> None:
        await too_many(verdict)(scope, receive, send)
