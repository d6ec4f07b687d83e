"""The emulated account: calls, phones, queues, hangups, redirects and status callbacks.

Everything here runs on the emulator's event loop; driver.py reaches it from other threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import secrets
import threading
import traceback
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from . import dial, twiml
from .calls import Call, CallQueue, Fetch, Pending, StatusCallbackSpec
from .clock import SimClock
from .conference import Conference
from .config import EmulatorConfig, NumberConfig
from .people import CallerScript, Person, Phone
from .recordings import Recording
from .webhooks import WebhookClient, standard_params

# CallStatus sent with each status callback event.
_EVENT_STATUS = {"initiated": "initiated", "ringing": "ringing", "answered": "in-progress"}
# SIP response codes Twilio reports for the final status of a leg.
_SIP_CODES = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487", "failed": "503"}


# A status callback waiting to be sent: where, what, its idempotency token, when (simulated time).
_QueuedCallback = tuple[StatusCallbackSpec, dict[str, str], str, float]


class NotInProgress(Exception):
    """Twilio error 21220: the call cannot be redirected because it is not in progress."""


class Engine:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = SimClock(config.time_scale, config.wall_clock)
        self.lock = threading.Condition()
        self.calls: dict[str, Call] = {}
        self.phones: dict[str, Phone] = {}
        self.queues: dict[str, CallQueue] = {}
        self.conferences: dict[str, Conference] = {}  # by ConferenceSid, in order of creation
        self._next_api_call_at = 0.0  # simulated time the next REST-created leg may start (calls per second)
        self.recordings: dict[str, Recording] = {}
        self.deleted_recordings: list[str] = []  # sids deleted through the REST API, in order
        self.dial_counts: Counter[str] = Counter()
        self.webhooks: WebhookClient | None = None
        self.base_url = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    # lifecycle of the engine ------------------------------------------------------------
    async def open(self) -> None:
        self.webhooks = WebhookClient(self.config.auth_token, self.clock, self.config.webhook_timeout,
                                      ca_file=self.config.webhook_ca_file)

    async def close(self) -> None:
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.webhooks is not None:
            await self.webhooks.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def http(self) -> WebhookClient:
        assert self.webhooks is not None, "engine not opened"
        return self.webhooks

    # calls ------------------------------------------------------------------------------
    def new_call(self, *, from_: str, to: str, direction: str, person: Person | None = None,
                 parent: Call | None = None, status_callback: StatusCallbackSpec | None = None,
                 number: NumberConfig | None = None) -> Call:
        call = Call(account_sid=self.config.account_sid, from_=from_, to=to, direction=direction, person=person,
                    parent=parent, status_callback=status_callback, lock=self.lock, clock_now=self.clock.now(),
                    number=number)
        with self.lock:
            self.calls[call.sid] = call
        if parent is not None:
            parent.children.append(call)
        call.record(self.clock.now(), "call_started", sid=call.sid, from_=from_, to=to, direction=direction,
                    parent_call_sid=call.parent_sid)
        condition = call.person.condition()
        if condition is not None:
            self._watch_condition(call, condition, getattr(call.person, "hangup_delay", 0.0))
        return call

    def _watch_condition(self, call: Call, condition: Any, delay: float) -> None:
        fired = False

        def listener(c: Call) -> None:
            nonlocal fired
            if fired or c.is_over:
                return
            if condition(c.transcript):
                fired = True
                self.spawn(self._hangup_later(c, delay, "caller"))

        call.add_listener(listener)

    async def _hangup_later(self, call: Call, delay: float, by: str) -> None:
        await self.clock.sleep(delay)
        self.hangup(call, by=by)

    def place_inbound(self, from_: str, to: str, script: CallerScript | None = None) -> Call:
        number = self.config.numbers.get(to)
        if number is None:
            raise ValueError(f"{to} is not a phone number of this account")
        person = dataclasses.replace(script) if script is not None else CallerScript()
        spec = StatusCallbackSpec.of(number.status_callback_url, number.status_callback_events,
                                     number.status_callback_method)
        call = self.new_call(from_=from_, to=to, direction="inbound", person=person, status_callback=spec,
                             number=number)
        call.runner = self.spawn(self._run_leg(call, self._inbound(call, number)))
        if person.hangup_after is not None:
            self.spawn(self._hangup_later(call, person.hangup_after, "caller"))
        return call

    async def _inbound(self, call: Call, number: NumberConfig) -> None:
        call.status = "ringing"
        # Twilio docs unclear: which progress events a phone number's status callback can get;
        # the emulator sends whichever of initiated/ringing/answered/completed the NumberConfig lists.
        self.status_event(call, "initiated")
        self.status_event(call, "ringing")
        await twiml.drive(self, call, Fetch(number.voice_url, number.voice_method.upper(), kind="voice"))

    def create_api_call(self, *, to: str, from_: str, url: str | None, method: str, twiml_text: str | None,
                        status_callback: StatusCallbackSpec | None, timeout: float) -> Call:
        phone = self.phones.get(to)
        person = phone.person() if phone else None
        call = self.new_call(from_=from_, to=to, direction="outbound-api", person=person,
                             status_callback=status_callback)
        call.url, call.method, call.twiml, call.timeout = url, method, twiml_text, timeout
        self.reserve_start(call)
        call.runner = self.spawn(self._run_leg(call, self._outbound_api(call)))
        return call

    async def _outbound_api(self, call: Call) -> None:
        await self.paced(call)
        if not await dial.ring(self, call, timeout=call.timeout):
            return
        phone = self.phones.get(call.to)
        if phone is not None and phone.behaviour == "hangup-on-whisper":
            self.spawn(self._hangs_up_before_joining(call, phone.whisper_hangup_after))
        await twiml.drive(self, call, Fetch(call.url, call.method, twiml=call.twiml, kind="voice"))

    async def _hangs_up_before_joining(self, call: Call, after: float) -> None:
        """A REST-created leg's phone that picked up hangs up `after` seconds into the leg's TwiML (its whisper),
        unless the leg has joined a conference or been bridged by then: "hangup-on-whisper" for legs placed by
        REST, as for <Dial> legs."""
        await self.clock.sleep(after)
        if call.is_over or any(e.kind in ("conference_joined", "bridged") for e in call.transcript):
            return
        self.hangup(call, by="callee")

    async def _run_leg(self, call: Call, body: Coroutine[Any, Any, None]) -> None:
        try:
            await body
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            if self.closing:
                return
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator must not hang the call
            call.record(self.clock.now(), "emulator_error", error=repr(exc), traceback=traceback.format_exc())
            self.end(call, "failed" if call.answered_at is None else "completed", by="emulator_error")
        await self.finalize(call)

    # outbound call pacing ------------------------------------------------------------------
    def reserve_start(self, call: Call) -> None:
        """Twilio queues API-created calls and starts them at the account's calls per second (CPS): give this leg
        the next free start time (simulated), at least 1/CPS after the previous one."""
        cps = self.config.calls_per_second
        now = self.clock.now()
        start = now if not cps or cps <= 0 else max(now, self._next_api_call_at)
        if cps and cps > 0:
            self._next_api_call_at = start + 1.0 / cps
        call.start_at = start

    async def paced(self, call: Call) -> None:
        """Stay queued until the leg's start time (see reserve_start)."""
        wait = call.start_at - self.clock.now()
        if wait > 0:
            await self.clock.sleep(wait)
        call.started_at = self.clock.now()
        # the slot is what the pacing gives; started_at may come a little after it when the event loop is busy
        call.record(call.started_at, "started", queued_for=round(max(0.0, call.started_at - call.created_at), 3),
                    slot=round(call.start_at, 6))

    # conferences ------------------------------------------------------------------------
    def live_conference(self, name: str) -> Conference | None:
        """The account's conference of that name that has not ended, if any."""
        with self.lock:
            for conference in reversed(self.conferences.values()):
                if conference.friendly_name == name and conference.status != "completed":
                    return conference
        return None

    def conference_named(self, name: str) -> Conference:
        """The account's conference of that name that has not ended, or a new one (status init)."""
        conference = self.live_conference(name)
        if conference is None:
            conference = Conference(self, name)
            with self.lock:
                self.conferences[conference.sid] = conference
        return conference

    def conference_of(self, call_sid: str) -> tuple[Conference, Any] | None:
        """The live conference a leg is in (or being dialled into), with its participant."""
        for conference in reversed(list(self.conferences.values())):
            if conference.status == "completed":
                continue
            for p in conference.participants:
                if p.sid == call_sid:
                    return conference, p
        return None

    def hears(self, call_sid: str) -> frozenset[str]:
        """What a leg hears now: in a conference, see Conference.hears; bridged by <Dial>, the other leg."""
        found = self.conference_of(call_sid)
        if found is not None:
            conference, p = found
            return conference.hears(p)
        call = self.calls.get(call_sid)
        if call is None or call.is_over or call.bridge_peer is None or call.bridge_peer.is_over:
            return frozenset()
        return frozenset({call.bridge_peer.sid})

    # state changes ----------------------------------------------------------------------
    def answer(self, call: Call) -> None:
        if call.answered_at is not None or call.is_over:
            return
        call.answered_at = self.clock.now()
        call.status = "in-progress"
        phone = call.phone
        if phone is not None:
            phone.active_calls += 1
        call.record(call.answered_at, "answered")
        self.status_event(call, "answered")

    def end(self, call: Call, status: str = "completed", by: str = "twilio") -> bool:
        """Mark a leg ended (no interruption of its TwiML). Returns False if it had ended already."""
        if call.is_over:
            return False
        if status == "completed" and call.answered_at is None:
            # An outbound leg hung up before it was answered was never connected: "canceled".
            # Twilio docs unclear: the status of an inbound call whose caller hangs up before the
            # TwiML answered it; the emulator reports "completed".
            status = "canceled" if call.direction != "inbound" else "completed"
        call.status = status
        call.ended_at = self.clock.now()
        call.ended_by = by
        phone = call.phone
        if phone is not None and call.answered_at is not None:
            phone.active_calls = max(0, phone.active_calls - 1)
        call.record(call.ended_at, "hangup", by=by, status=status)
        for listener in list(call.end_listeners):
            listener(call)
        return True

    def hangup(self, call: Call, status: str = "completed", by: str = "twilio") -> None:
        """End a leg from outside its TwiML: the person hangs up, REST, or the other side."""
        if not self.end(call, status, by):
            return
        call.pending = Pending("hangup")
        runner = call.runner
        if runner is not None and not runner.done() and runner is not asyncio.current_task():
            runner.cancel()

    def redirect(self, call: Call, fetch: Fetch) -> None:
        if call.status != "in-progress":
            raise NotInProgress(call.sid)
        call.record(self.clock.now(), "redirected", url=fetch.url, method=fetch.method, twiml=fetch.twiml)
        call.pending = Pending("redirect", fetch)
        runner = call.runner
        if runner is not None and not runner.done():
            runner.cancel()

    def application_error(self, call: Call, code: int, message: str, url: str | None = None) -> None:
        """What Twilio does when a webhook fails: the caller hears an error message and the call ends."""
        now = self.clock.now()
        call.record(now, "application_error", code=code, message=message, url=url)
        call.record(now, "say", text="We are sorry, an application error has occurred. Goodbye.",
                    voice="woman", language="en-US", system=True)
        self.end(call, "completed" if call.answered_at is not None else "failed", by="application_error")

    def queue(self, name: str) -> CallQueue:
        if name not in self.queues:
            self.queues[name] = CallQueue(name)
        return self.queues[name]

    async def finalize(self, call: Call) -> None:
        self.end(call, "completed", by=call.ended_by or "twiml")
        if not self.closing:
            self.status_event(call, "completed")
            held = call.held_callbacks
            if held:
                for item in reversed(held):
                    self._chain_callback(call, item)
                held.clear()
            if call.cb_task is not None:
                await asyncio.gather(call.cb_task, return_exceptions=True)
            if call.background:
                await asyncio.gather(*call.background, return_exceptions=True)
            if call.conference is not None:
                await call.conference.settled()  # its participant-leave (and conference-end) callbacks
        call.mark_done()

    # webhooks ---------------------------------------------------------------------------
    def params(self, call: Call, **extra: Any) -> dict[str, str]:
        params = standard_params(call, self.config.account_sid)
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return params

    async def post_ignored(self, call: Call, url: str, method: str, extra: dict[str, str], kind: str) -> None:
        """A webhook whose TwiML answer cannot be used any more (the call ended or moved on)."""
        await self.http.send(call, url, method, self.params(call, **extra), kind)

    def status_event(self, call: Call, event: str) -> None:
        spec = call.status_callback
        if spec is None or event not in spec.events or self.closing:
            return
        status = _EVENT_STATUS.get(event, call.status)
        params = standard_params(call, self.config.account_sid, status=status)
        params.update({
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(call.callback_seq),
            "Timestamp": self.clock.rfc2822(),
        })
        if event == "completed":
            params["CallDuration"] = str(call.duration())
            params["Duration"] = str(math.ceil(call.duration() / 60))
            params["SipResponseCode"] = _SIP_CODES.get(call.status, "200")
        call.callback_seq += 1
        # Sent at `due` (simulated), status_callback_delay after the event: a late delivery.
        item = (spec, params, secrets.token_hex(16), self.clock.now() + self.config.status_callback_delay)
        if self.config.reorder_status_callbacks:
            call.held_callbacks.append(item)
            return
        self._chain_callback(call, item)

    def _chain_callback(self, call: Call, item: _QueuedCallback) -> None:
        previous = call.cb_task
        call.cb_task = self.spawn(self._send_callback(call, previous, item))

    async def _send_callback(self, call: Call, previous: asyncio.Task[None] | None, item: _QueuedCallback) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        spec, params, token, due = item
        if due > self.clock.now():
            await self.clock.sleep(due - self.clock.now())
        times = 2 if self.config.duplicate_status_callbacks else 1
        for _ in range(times):
            await self.http.send(call, spec.url, spec.method, params, "status_callback", token=token)
