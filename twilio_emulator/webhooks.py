"""Signed HTTP requests to the customer's application, exactly as Twilio makes them."""

from __future__ import annotations

import secrets
import ssl
import time
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from .calls import Call
    from .clock import SimClock

API_VERSION = "2010-04-01"
_COUNTRY_PREFIXES = {"+31": "NL", "+32": "BE", "+33": "FR", "+44": "GB", "+49": "DE", "+1": "US"}


def country_of(number: str) -> str:
    for prefix, country in sorted(_COUNTRY_PREFIXES.items(), key=lambda kv: -len(kv[0])):
        if number.startswith(prefix):
            return country
    return ""


def standard_params(call: Call, account_sid: str, status: str | None = None) -> dict[str, str]:
    """The parameters Twilio sends with every voice webhook for this leg."""
    params = {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call.sid,
        "CallStatus": status or call.status,
        "Called": call.to,
        "Caller": call.from_,
        "Direction": call.direction,
        "From": call.from_,
        "To": call.to,
    }
    for side, number in (("From", call.from_), ("To", call.to), ("Called", call.to), ("Caller", call.from_)):
        params[f"{side}Country"] = country_of(number)
        params[f"{side}City"] = ""
        params[f"{side}State"] = ""
        params[f"{side}Zip"] = ""
    if call.parent is not None:
        params["ParentCallSid"] = call.parent.sid
    return params


class Recorder(Protocol):
    """Where a request is written down: a call leg's transcript, or a conference's."""

    def record(self, t: float, kind: str, /, **data: Any) -> Any: ...


class WebhookResult:
    def __init__(self, url: str, status: int, text: str, content_type: str, error: str | None = None) -> None:
        self.url = url
        self.status = status
        self.text = text
        self.content_type = content_type
        self.error = error

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class WebhookClient:
    def __init__(self, auth_token: str, clock: SimClock, timeout: float, ca_file: str | None = None) -> None:
        self.validator = RequestValidator(auth_token)
        self.clock = clock
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self.http = httpx.AsyncClient(timeout=timeout, follow_redirects=True, verify=verify,
                                      limits=httpx.Limits(max_connections=500, max_keepalive_connections=100))

    async def close(self) -> None:
        await self.http.aclose()

    def signed(self, url: str, method: str, params: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str] | None]:
        """The final URL, headers and form body of a request, signed like Twilio signs it."""
        method = method.upper()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "X-Home-Region": "us1",
        }
        if method == "GET":
            # Twilio sends the parameters in the query string and signs the whole URL.
            full = url + (("&" if "?" in url else "?") + urlencode(params) if params else "")
            headers["X-Twilio-Signature"] = self.validator.compute_signature(full, {})
            return full, headers, None
        headers["X-Twilio-Signature"] = self.validator.compute_signature(url, params)
        return url, headers, params

    async def send(self, call: Recorder, url: str, method: str, params: dict[str, str], kind: str,
                   token: str | None = None) -> WebhookResult:
        full, headers, body = self.signed(url, method, params)
        if token:
            headers["I-Twilio-Idempotency-Token"] = token
        started = time.perf_counter()
        self.clock.hold()  # a clock that pauses for webhooks stands still until the answer is in
        try:
            response = await self.http.request(method.upper(), full, headers=headers, data=body)
            result = WebhookResult(full, response.status_code, response.text,
                                   response.headers.get("content-type", ""))
        except httpx.TimeoutException:
            result = WebhookResult(full, 0, "", "", error="timeout (11205: HTTP connection failure)")
        except httpx.HTTPError as exc:
            result = WebhookResult(full, 0, "", "", error=f"{type(exc).__name__}: {exc}")
        finally:
            self.clock.release()
        record: dict[str, Any] = {"url": full, "method": method.upper(), "params": dict(params),
                                  "status": result.status, "kind": kind,
                                  "seconds": round(time.perf_counter() - started, 4)}
        if result.error:
            record["error"] = result.error
        event = "status_callback" if kind in ("status_callback", "conference_status_callback") else "webhook"
        call.record(self.clock.now(), event, **record)
        return result
