"""Twilio's REST API through the official client; the base URL is a setting (Twilio or the emulator)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from callrouter.domain.call_flow import Goto, LegStatus
from callrouter.ports.calls import NetworkLeg
from callrouter.ports.staff import Audio

log = logging.getLogger("callrouter.twilio")
TWILIO_API = "https://api.twilio.com"
RECORDING_SID = re.compile(r"(?<=/Recordings/)RE[0-9a-fA-F]{32}")
# A call resource's status (Twilio's words) as the service names it.
CALL_STATUS = {"queued": LegStatus.STARTING, "initiated": LegStatus.STARTING, "ringing": LegStatus.STARTING,
               "in-progress": LegStatus.ANSWERED, "completed": LegStatus.COMPLETED, "busy": LegStatus.BUSY,
               "no-answer": LegStatus.NOT_ANSWERED, "failed": LegStatus.FAILED, "canceled": LegStatus.CANCELLED}


class CallGone(Exception):
    """The call has ended or is unknown to Twilio, so it cannot be redirected."""


# Every request to Twilio gives up after this long: the library's own client has no timeout, so a connection
# that stalls would hold a webhook's thread or a worker for good.
REQUEST_TIMEOUT_SECONDS = 10.0
# A path whose last part is a resource's sid (two letters, 32 hex digits) names one resource; a POST there
# updates it (sets the fields given: the same again changes nothing), a POST anywhere else creates one.
RESOURCE_SID = re.compile(r"/[A-Z]{2}[0-9a-fA-F]{32}(\.json)?$")


def closed_under_us(exc: BaseException) -> bool:
    """The connection was closed or reset by the other side as the request went out on it: what a kept-alive
    connection that the server closed while idle does when it is used again at that moment."""
    todo, seen = [exc], set()
    while todo:  # the exception, what it was raised from, and what it carries (urllib3's ProtocolError)
        found = todo.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, (ConnectionResetError, BrokenPipeError)):  # http.client.RemoteDisconnected is one
            return True
        todo += [e for e in (found.__cause__, found.__context__, *found.args) if isinstance(e, BaseException)]
    return False


def may_send_again(method: str, url: str) -> bool:
    """GET and DELETE, and a POST that updates one resource (a redirect, a hang-up, a participant's hold): the
    same request again has the same effect. Never a POST that creates (a call: a second one would dial twice)."""
    method = method.upper()
    return method in ("GET", "DELETE") or (method == "POST" and RESOURCE_SID.search(urlsplit(url).path) is not None)


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type information
    """The library's HTTP client with a timeout, sending its api.twilio.com requests to another base URL when one
    is set (the emulator in tests and demo), and sending a request that may be sent again once more when its
    kept-alive connection turns out closed by Twilio (the request went nowhere; a new connection is opened)."""

    def __init__(self, base_url: str = TWILIO_API, **kwargs: Any):
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        super().__init__(**kwargs)
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if url.startswith(TWILIO_API):
            url = self._base + url[len(TWILIO_API):]
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as exc:
            if not (closed_under_us(exc) and may_send_again(method, url)):
                raise
            log.info("twilio.sent_again method=%s path=%s (the kept-alive connection was closed: %s)",
                     method.upper(), urlsplit(url).path, exc)
            return super().request(method, url, *args, **kwargs)


class TwilioCalls:
    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str, url_of: Callable[[Goto], str],
                 redirect_url_of: Callable[[Goto], str] | None = None):
        """`redirect_url_of`: the URL a redirect sends a call to, unique per redirect (web/voice_paths.url_maker's
        fresh turn); by default `url_of`."""
        http = BaseUrlHttpClient(api_base_url)
        self._client = Client(account_sid, auth_token, http_client=http)
        self._url_of = url_of
        self._redirect_url_of = redirect_url_of or url_of

    def redirect(self, *, call_sid: str, to: Goto) -> None:
        """Make a live call (also one waiting in a queue) fetch new TwiML from that step's webhook."""
        try:
            self._client.calls(call_sid).update(url=self._redirect_url_of(to), method="POST")
        except TwilioRestException as exc:
            if exc.status in (400, 404):  # 21220 not in progress, 20404 unknown
                raise CallGone(f"{exc.code}: {exc.msg}") from exc
            raise

    def create_call(self, *, to: str, from_: str, answer: Goto, status: Goto, timeout: int) -> str:
        """Place an outbound call (a callback's liaison leg); returns Twilio's CallSid."""
        call = self._client.calls.create(
            to=to, from_=from_, url=self._url_of(answer), method="POST", timeout=timeout,
            status_callback=self._url_of(status), status_callback_method="POST",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
        return str(call.sid)

    def leg_status(self, *, call_sid: str) -> NetworkLeg | None:
        """The call's status now (GET /Calls/{sid}) and its end time; None when Twilio does not know it or
        says something new."""
        try:
            call = self._client.calls(call_sid).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise
        status = CALL_STATUS.get(str(call.status))
        ended = call.end_time if isinstance(call.end_time, datetime) and call.end_time.tzinfo else None
        return None if status is None else NetworkLeg(status, ended)


    def hold_member(self, *, room_sid: str, member: str, hold: bool, music: Goto | None = None) -> None:
        """Participants update Hold (and HoldUrl, POST) of a member of the conference."""
        options: dict[str, Any] = {"hold": hold}
        if hold and music is not None:
            options.update(hold_url=self._url_of(music), hold_method="POST")
        self._client.conferences(room_sid).participants(member).update(**options)

    def set_member_ends_room(self, *, room_sid: str, member: str, ends: bool) -> None:
        self._client.conferences(room_sid).participants(member).update(end_conference_on_exit=ends)

    def hang_up(self, *, call_sid: str) -> None:
        """End a call whatever its state: `Status=completed` hangs up a call in progress and cancels one that is
        still queued or ringing (`canceled` would leave a call in progress as it is). Gone already: no error."""
        try:
            self._client.calls(call_sid).update(status="completed")
        except TwilioRestException as exc:
            if exc.status not in (400, 404):  # 404 unknown; 400 (21220) no longer in progress
                raise
            log.info("twilio.hang_up_not_needed call_sid=%s (already over)", call_sid)


class TwilioRecordings:
    """Callback voice messages at Twilio: their audio for the console (fetched with the account's credentials,
    as Twilio asks when media URLs need HTTP auth), and deleted when their retention period has passed."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base_url: str,
                 transport: httpx.BaseTransport | None = None):
        http = BaseUrlHttpClient(api_base_url)
        self._client = Client(account_sid, auth_token, http_client=http)
        self._account, self._token, self._base = account_sid, auth_token, api_base_url.rstrip("/")
        self._transport = transport

    def audio(self, recording_url: str) -> Audio | None:
        """GET …/Accounts/{this account}/Recordings/{RE…}.wav. Only the recording's sid is taken from the stored
        URL: the request always goes to the configured API base and this account, never to a URL from a row."""
        found = RECORDING_SID.search(recording_url)
        if found is None:
            return None
        url = f"{self._base}/2010-04-01/Accounts/{self._account}/Recordings/{found.group(0)}.wav"
        with httpx.Client(auth=(self._account, self._token), timeout=10, transport=self._transport) as client:
            response = client.get(url)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return Audio(response.content, response.headers.get("content-type", "audio/x-wav"))

    def delete_recording(self, sid: str) -> bool:
        """True when Twilio deleted it (204) or no longer has it (404); other errors raise."""
        try:
            self._client.recordings(sid).delete()
        except TwilioRestException as exc:
            if exc.status == 404:
                return True
            raise
        return True
