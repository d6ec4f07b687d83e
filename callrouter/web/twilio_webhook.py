"""How every Twilio webhook is received: signature, replay, parsing, and a reply that is always valid TwiML.

Signatures are checked against the configured public URL + path + query (never request.url,
which is wrong behind a TLS proxy), in constant time by twilio's RequestValidator, failing
closed. A request delivered twice gets the first response and has no second effect.

Replays are recognised by what Twilio signs, in canonical form (`canonical_request`): the URL and
the form parameters, parsed, decoded and sorted, so no unsigned header, field order, percent-encoding,
repeated field or stray `&` makes a second effect. Two identical key presses in one call are still two
requests: every Gather action and Redirect the service hands out carries a fresh turn (`/turn/<t>`
before the webhook path), so Twilio signs a different URL for each turn and the same one for a retry. So does
every redirect sent through the REST API (voice_paths.url_maker's fresh turn): Twilio's request after one carries
only the call's own parameters, the same for two redirects of a call to one step.
A late replay of an older turn (after the replay window) is stale by the call's state (flow.RESUME).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response
from starlette.background import BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from twilio.request_validator import RequestValidator

from callrouter.adapters.redis_replay import ReplayGuard
from callrouter.adapters.twiml import TwimlRenderer
from callrouter.domain.voice import Hangup, Say, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.routing import RouteAfterReply, dispatch
from callrouter.services.calls.speech import public_phone
from callrouter.web.voice_paths import PREFIX, new_turn

log = logging.getLogger("callrouter.webhook")
TWIML = "application/xml"
TURN_PREFIX = "/turn/{turn}"  # before PREFIX, so a step's own URL stays the end of every URL handed out
_TURN = re.compile(r"^/turn/[A-Za-z0-9_-]{1,16}(?=/)")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_request(url: str, form: dict[str, str]) -> bytes:
    """What Twilio signs, in one canonical form: scheme and host lower case without a default port,
    the path, the query and form parameters decoded and sorted. Two deliveries of one signed request
    give the same bytes, however the body was encoded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return json.dumps([scheme, netloc, parts.path or "/", query, sorted(form.items())],
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def step_path(path: str) -> str:
    """The webhook path without its turn: '/twilio/voice/pin' for '/turn/x1/twilio/voice/pin'."""
    return _TURN.sub("", path, count=1)


class BadInput(ValueError):
    """A webhook field missing or not in Twilio's documented form: answered as bad input (a warning, no trace)."""


class MissingField(BadInput):
    def __init__(self, name: str):
        super().__init__(f"missing form field {name}")
        self.name = name


class InvalidField(BadInput):
    def __init__(self, name: str, why: str):
        super().__init__(f"invalid field {name}: {why}")  # never the value: it may be a phone number
        self.name = name


# Twilio's documented forms of the fields the service reads (a value is checked before it is used).
_E164 = r"\+[1-9][0-9]{1,14}"
FORMS: dict[str, re.Pattern[str]] = {name: re.compile(pattern) for name, pattern in {
    "CallSid": r"CA[0-9a-f]{32}",
    "call": r"CA[0-9a-f]{32}",  # the query parameter that names a caller's call
    "AccountSid": r"AC[0-9a-f]{32}",
    # E.164, a Twilio Client identity, a SIP URI; Twilio also sends these words for a hidden number
    "From": rf"{_E164}|client:[A-Za-z0-9_.@-]{{1,121}}|sip:[!-~]{{1,250}}|anonymous|restricted|unknown",
    "To": rf"{_E164}|client:[A-Za-z0-9_.@-]{{1,121}}|sip:[!-~]{{1,250}}",
    "Digits": r"[0-9*#]{0,64}",
    "CallStatus": r"[a-z-]{1,20}",
    "DialCallStatus": r"[a-z-]{1,20}",
    "QueueResult": r"[a-z-]{1,30}",
    "DialBridged": r"(?i:true|false)",
    "RecordingUrl": r"https?://[!-~]{1,500}",
    "Timestamp": r"[ -~]{1,64}",  # RFC 2822, parsed by the reader
    "step": r"[a-z_-]{1,32}",
    "StatusCallbackEvent": r"[a-z-]{1,40}",  # a conference's report
    "via": r"room",
    "ConferenceSid": r"CF[0-9a-f]{32}",
    "again": r"1",  # a liaison leg placed into the call's conference
}.items()}
# Bounded integers: (least, most). Twilio's seconds fit a day; ids fit the database's integer.
BOUNDS: dict[str, tuple[int, int]] = {
    "QueueTime": (0, 7 * 86400), "DialCallDuration": (0, 7 * 86400), "SequenceNumber": (0, 2**31 - 1),
    "cb": (1, 2**31 - 1), "a": (1, 1000), "liaison": (1, 2**31 - 1), "offer": (0, 10**9 - 1),
}
_TURN_VALUE = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class TwilioRequest:
    form: dict[str, str]
    query: dict[str, str]

    def field(self, name: str) -> str:
        """A required form field, in its documented form."""
        value = self.optional(name)
        if not value:
            raise MissingField(name)
        return value

    def optional(self, name: str, default: str = "", *, source: str = "form") -> str:
        """A form (or query) field that may be absent or empty; present, it must be in its documented form."""
        value = (self.form if source == "form" else self.query).get(name)
        if value is None or value == "":
            return default
        form = FORMS.get(name)
        if form is not None and not form.fullmatch(value):
            raise InvalidField(name if source == "form" else f"{name} (query)", "not in Twilio's form")
        return value

    def integer(self, name: str, *, source: str = "form") -> int | None:
        """A whole number in its bounds, or None when absent; anything else is bad input."""
        raw = (self.form if source == "form" else self.query).get(name, "")
        if raw == "":
            return None
        least, most = BOUNDS.get(name, (0, 2**31 - 1))
        label = name if source == "form" else f"{name} (query)"
        # Checked as text first: int() of 4,300 digits raises, and a huge number must not reach SQL or float().
        if len(raw) > 12 or not raw.isascii() or not raw.lstrip("-").isdigit():
            raise InvalidField(label, "not a whole number in range")
        value = int(raw)
        if not least <= value <= most:
            raise InvalidField(label, f"out of range {least}..{most}")
        return value


Handler = Callable[[CallDeps, TwilioRequest], VoiceReply | None]


@dataclass
class WebhookEdge:
    deps: CallDeps
    after: RouteAfterReply  # the deps' AfterReply port: routing waits until the reply is sent
    renderer: TwimlRenderer
    validator: RequestValidator | None  # None when no auth token is configured: every request is refused
    replay: ReplayGuard
    public_url: str
    latency: Callable[[str, float], None] = lambda _path, _seconds: None

    def __post_init__(self) -> None:
        self._rendered = lru_cache(maxsize=512)(lambda reply: self.renderer.render(reply).encode())
        base = re.escape(self.public_url.rstrip("/").encode())
        # A Gather's action and a Redirect: where the next request of this call may repeat an earlier one.
        self._turn_urls = re.compile(rb'(action="|<Redirect\b[^>]*>)(' + base + rb')(' + re.escape(PREFIX.encode()) + rb'/)')

    def with_turn(self, xml: bytes) -> bytes:
        """The TwiML with a fresh turn in each URL Twilio will post the caller's next keys to."""
        return self._turn_urls.sub(rb"\1\2" + new_turn().encode() + rb"\3", xml)

    def signed_url(self, request: Request) -> str:
        query = request.url.query
        return self.public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")

    async def handle(self, request: Request, handler: Handler, *, voice: bool = True) -> Response:
        started = time.perf_counter()
        try:
            body = await request.body()
        except ClientDisconnect:  # Twilio gave up (15 s) before it had sent the body: nobody reads an answer
            log.warning("webhook.client_gone path=%s before its body was read", request.url.path)
            return Response(status_code=400)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        signature = request.headers.get("X-Twilio-Signature", "")
        url = self.signed_url(request)
        if self.validator is None or not signature or not self.validator.validate(url, form, signature):
            log.warning("webhook.refused path=%s reason=%s", request.url.path,
                        "no auth token configured" if self.validator is None else "bad or missing signature")
            return Response("Forbidden: invalid Twilio signature\n", status_code=403, media_type="text/plain")

        # Keyed on what is signed, never on I-Twilio-Idempotency-Token (unsigned: anyone replaying a
        # request may drop or change it). A retry is the same signed request; two identical key presses
        # are two, since each went to the URL of its own turn.
        digest = ReplayGuard.digest(canonical_request(url, form))
        twilio_request = TwilioRequest(form=form, query=dict(request.query_params))
        # Everything that blocks (Redis, SQL) in one trip to the threadpool, never on the event loop.
        xml, after, mark = await run_in_threadpool(self.respond, request.url.path, digest, handler, twilio_request,
                                                   voice)
        tasks = BackgroundTasks()
        if after:
            tasks.add_task(run_in_threadpool, self.dispatch_all, list(dict.fromkeys(after)), mark)
        self.latency(step_path(request.url.path), time.perf_counter() - started)
        return Response(xml, media_type=TWIML, background=tasks)

    def respond(self, path: str, digest: str, handler: Handler, twilio_request: TwilioRequest,
                voice: bool) -> tuple[bytes, list[str], str | None]:
        """The TwiML for a verified request, the organisations to route after it is sent, and the demo clock's
        mark of that routing (begun here, before the reply goes out; None outside the demo).

        Runs in a worker thread: the replay claim, the handler (which commits what it records
        before this returns, so before the response is sent); the response for replays is stored by the
        guard's writer (its claim renewed until then).
        """
        try:
            # One round trip for a first delivery; a retry waits for the first's answer, or takes over the
            # claim of a holder that died (its claim lapses within seconds: adapters/redis_replay.py).
            found = self.replay.acquire(digest)
        except Exception:  # noqa: BLE001 - Redis down: carry on without replay protection
            log.exception("webhook.replay_guard_unavailable path=%s", path)
            found = None
        if isinstance(found, bytes):
            log.info("webhook.replayed path=%s", path)
            return found, [], None
        claim = found  # None: no guard (Redis down) or a hung holder: answer rather than let Twilio give up
        try:
            xml, after = self._handled(path, handler, twilio_request, voice)
        except BaseException:
            if claim is not None:
                self.replay.forget(claim)  # not renewed: it lapses and a retry handles the request
            raise
        if claim is not None:
            self.replay.store_later(claim, xml)  # pipelined with others', off this request's path
        return xml, after, (self.after.begin_work() if after else None)

    def _handled(self, path: str, handler: Handler, twilio_request: TwilioRequest,
                 voice: bool) -> tuple[bytes, list[str]]:
        raw_sid = twilio_request.form.get("CallSid", "")
        call_sid = raw_sid if FORMS["CallSid"].fullmatch(raw_sid) else ""  # only a well-formed one is looked up or logged
        after: list[str] = []
        try:
            with self.after.collect() as after:
                reply = handler(self.deps, twilio_request)
        except Exception as exc:  # noqa: BLE001 - a caller must never hear "an application error"
            if isinstance(exc, BadInput):
                log.warning("webhook.bad_request path=%s %s", path, exc)
            else:
                log.exception("webhook.failed path=%s call_sid=%s", path, call_sid or "-")
            reply = self.apology(call_sid) if voice else None
        return self.with_turn(self.render(reply or VoiceReply())), after

    def render(self, reply: VoiceReply) -> bytes:
        """TwiML for a reply; a reply is a frozen value, so the same reply (a menu) is rendered once."""
        try:
            return self._rendered(reply)
        except TypeError:  # an unhashable reply: render it as it is
            return self.renderer.render(reply).encode()

    def dispatch_all(self, orgs: list[str], mark: str | None) -> None:
        """After the reply: route each organisation, then end the demo clock's mark."""
        try:
            for org in orgs:
                self.dispatch_quietly(org)
        finally:
            self.after.end_work(mark)

    def dispatch_quietly(self, org: str) -> None:
        self.after.run(org, self._dispatch)  # one pass per organisation in flight (the port coalesces)

    def _dispatch(self, org: str) -> None:
        try:
            dispatch(self.deps, org=org)
        except Exception:  # noqa: BLE001 - the next waitUrl turn tries again
            log.exception("voice.dispatch_failed org=%s", org)

    def apology(self, call_sid: str) -> VoiceReply:
        """A short apology and the organisation's public number; works even when the database does not."""
        phone = self.deps.general_public_phone
        flow = self.deps.flow_for("professional")
        try:
            record = self.deps.calls.get(call_sid) if call_sid else None
            phone = public_phone(self.deps, record)
            flow = self.deps.flow_for(record.line_kind) if record else flow
        except Exception:  # noqa: BLE001
            log.exception("webhook.apology_lookup_failed")
        return VoiceReply.of(Say(flow.text("error", "nl", public_phone=phone), "nl"), Hangup())
