"""Pointing the official twilio library at the emulator."""

from __future__ import annotations

import re
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

_TWILIO_API = re.compile(r"^https://api(\.[a-z0-9-]+)*\.twilio\.com")


class RewritingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio has no type information (no py.typed)
    """A TwilioHttpClient that sends requests for https://api.twilio.com to base_url instead."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, _TWILIO_API.sub(self.base_url, url), *args, **kwargs)


def rewriting_http_client(base_url: str) -> RewritingHttpClient:
    return RewritingHttpClient(base_url)


def emulator_client(base_url: str, account_sid: str, auth_token: str) -> Client:
    """A twilio.rest.Client that talks to the emulator at base_url."""
    return Client(account_sid, auth_token, http_client=rewriting_http_client(base_url))
