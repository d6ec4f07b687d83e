"""Security headers for the staff pages: a strict CSP (no inline script or style), no framing, no referrer."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STAFF_PREFIX = "/staff"


def content_security_policy(provider_issuers: list[str]) -> str:
    # Logging out posts a form that redirects to the provider's end_session endpoint; browsers
    # apply form-action to that redirect, so the providers' origins are allowed there.
    origins = sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, provider_issuers)})
    form_action = " ".join(["'self'", *origins])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            f"font-src 'self'; object-src 'none'; base-uri 'none'; form-action {form_action}; "
            "frame-ancestors 'none'")


class StaffSecurityHeaders:
    """Adds the headers to every response under /staff (the JSON API and the webhooks are left alone)."""

    def __init__(self, app: ASGIApp, *, csp: str):
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(STAFF_PREFIX):
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STAFF_PREFIX + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.headers)
                if not static:  # pages hold personal data: never cached
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
