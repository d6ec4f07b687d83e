"""The TwiML interpreter: fetches documents and executes their verbs for one call leg."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urljoin

from .calls import Call, CallQueue, Fetch, Pending
from .recordings import Recording, RecordingStatusCallback, send_status

if TYPE_CHECKING:
    from .engine import Engine

DONE = "done"  # the document ran out of verbs
ENDED = "ended"  # the call ended (Hangup, Reject, application error)
LEAVE = "leave"  # <Leave> while in a queue

DEFAULT_HOLD_MUSIC = "https://s3.amazonaws.com/com.twilio.sounds.music/index.xml"
WAIT_URL_VERBS = {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"}
CONFERENCE_WAIT_VERBS = {"Play", "Say", "Pause", "Redirect"}  # <Conference> waitUrl, holdUrl
NOT_IN_WHISPER = {"Dial", "Enqueue"}
GATHER_NESTABLE = {"Say", "Play", "Pause"}
INFINITE_LOOP = 1000  # loop="0" means "until the call moves on"; Twilio caps it at 1000 too
Outcome: TypeAlias = "str | Fetch"  # DONE, ENDED or LEAVE, or the document to continue with


@dataclass
class Ctx:
    engine: Engine
    call: Call
    doc_url: str | None
    mode: str  # "call" | "wait" | "whisper" | "conference-wait" (a conference's waitUrl or holdUrl)

    def resolve(self, url: str | None) -> str | None:
        if url is None:
            return None
        url = url.strip()
        if not url:
            return url
        if self.doc_url is None:
            return url  # inline TwiML: only absolute URLs make sense (Twilio error 15004)
        return urljoin(self.doc_url, url)

    def now(self) -> float:
        return self.engine.clock.now()

    async def sleep(self, sim_seconds: float) -> None:
        await self.engine.clock.sleep(sim_seconds)


def attr_bool(el: ET.Element, name: str, default: bool = False) -> bool:
    value = el.get(name)
    return default if value is None else value.strip().lower() == "true"


def attr_int(el: ET.Element, name: str, default: int) -> int:
    try:
        return int(el.get(name, default))
    except (TypeError, ValueError):
        return default


def loops(el: ET.Element) -> int:
    n = attr_int(el, "loop", 1)
    return INFINITE_LOOP if n == 0 else max(1, n)


def text_of(el: ET.Element) -> str:
    return re.sub(r"\s+", " ", "".join(el.itertext())).strip()


# driving a call ---------------------------------------------------------------------------
async def drive(engine: Engine, call: Call, fetch: Fetch | None) -> None:
    """Run TwiML for a call from fetch on, following REST redirects, until the call ends."""
    nxt = fetch
    while nxt is not None and not call.is_over:
        try:
            await run_program(engine, call, nxt, "call")
            nxt = None
        except asyncio.CancelledError:
            _uncancel()
            if engine.closing:
                raise
            nxt = await after_interrupt(engine, call)


async def after_interrupt(engine: Engine, call: Call) -> Fetch | None:
    """Tidy up after the running TwiML was interrupted; returns where a redirect goes."""
    while True:
        pending = call.pending or Pending("hangup")
        call.pending = None
        try:
            hooks, call.exit_hooks = call.exit_hooks, []
            for hook in hooks:
                await hook.run(engine, call, pending)
        except asyncio.CancelledError:
            _uncancel()
            if engine.closing:
                raise
            continue
        if pending.kind == "redirect" and not call.is_over:
            return pending.fetch
        return None


def uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


_uncancel = uncancel


async def run_program(engine: Engine, call: Call, fetch: Fetch, mode: str) -> str:
    """Fetch and execute documents, following actions and Redirects. Returns DONE, ENDED or LEAVE."""
    nxt: Fetch | None = fetch
    while nxt is not None:
        loaded = await load(engine, call, nxt, soft=mode == "conference-wait")
        if loaded is None:
            return ENDED
        root, doc_url = loaded
        result = await execute(Ctx(engine, call, doc_url, mode), list(root))
        if isinstance(result, Fetch):
            nxt = result
            continue
        return result
    return DONE


async def load(engine: Engine, call: Call, fetch: Fetch, soft: bool = False) -> tuple[ET.Element, str | None] | None:
    """The <Response> element of the next document, or None after an application error.

    soft: a conference's waitUrl/holdUrl; a failure there is reported (an application_error event) but does not
    end the call (Twilio docs unclear: the Conference docs only say the conference "will not be fully
    established"; the emulator plays silence instead).
    """
    fail = engine.application_error if not soft else _reported(engine)
    if fetch.twiml is not None and fetch.url is None:
        text, url = fetch.twiml, None
    else:
        assert fetch.url is not None
        if not re.match(r"^https?://", fetch.url):
            fail(call, 11100, f"Invalid URL format: {fetch.url!r}", fetch.url)
            return None
        result = await engine.http.send(call, fetch.url, fetch.method, engine.params(call, **fetch.params),
                                        fetch.kind)
        url = fetch.url
        if result.error:
            fail(call, 11205, f"HTTP connection failure: {result.error}", url)
            return None
        if not result.ok:
            fail(call, 11200, f"HTTP retrieval failure: status {result.status}", url)
            return None
        ctype = result.content_type.lower()
        if ctype.startswith("audio/"):
            # Twilio plays an audio file returned in place of TwiML.
            root = ET.Element("Response")
            ET.SubElement(root, "Play").text = url
            return root, url
        if "xml" not in ctype and "html" not in ctype:
            fail(call, 12300, f"Invalid Content-Type: {result.content_type!r}", url)
            return None
        text = result.text
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        fail(call, 12100, f"Document parse failure: {exc}", url)
        return None
    if root.tag != "Response":
        fail(call, 12100, f"Document parse failure: root element is <{root.tag}>", url)
        return None
    return root, url


async def execute(ctx: Ctx, verbs: list[ET.Element]) -> Outcome:
    """Execute verbs in order. Returns DONE, ENDED, LEAVE or a Fetch to continue with."""
    engine, call = ctx.engine, ctx.call
    for el in verbs:
        if call.is_over:
            return ENDED
        verb = el.tag
        handler = HANDLERS.get(verb)
        if handler is None:
            engine.application_error(call, 12100, f"Unsupported TwiML verb <{verb}>", ctx.doc_url)
            return ENDED
        if ctx.mode == "conference-wait" and verb not in CONFERENCE_WAIT_VERBS:
            # Twilio docs unclear: a verb other than Play/Say/Pause/Redirect in a conference waitUrl/holdUrl;
            # the emulator skips it (an ignored_verb event) and goes on.
            call.record(ctx.now(), "ignored_verb", verb=verb, url=ctx.doc_url)
            continue
        if ctx.mode == "wait" and verb not in WAIT_URL_VERBS:
            engine.application_error(call, 12100, f"<{verb}> is not allowed in a waitUrl document", ctx.doc_url)
            return ENDED
        if ctx.mode == "whisper" and verb in NOT_IN_WHISPER:
            engine.application_error(call, 13201, f"<{verb}> is not allowed in a <Number url> document",
                                     ctx.doc_url)
            return ENDED
        if verb != "Reject" and not (verb == "Dial" and attr_bool(el, "answerOnBridge")):
            engine.answer(call)
        result = await handler(ctx, el)
        if result is not None:
            return result
    return DONE


def _reported(engine: Engine) -> Callable[[Call, int, str, str | None], None]:
    """An application error that only leaves a trace on the call (see load(soft=True))."""

    def report(call: Call, code: int, message: str, url: str | None = None) -> None:
        call.record(engine.clock.now(), "application_error", code=code, message=message, url=url, soft=True)

    return report


# simple verbs -----------------------------------------------------------------------------
async def do_say(ctx: Ctx, el: ET.Element) -> None:
    text = text_of(el)
    for _ in range(loops(el)):
        ctx.call.record(ctx.now(), "say", text=text, voice=el.get("voice", "man"),
                        language=el.get("language", "en-US"))
        await ctx.sleep(len(text) * ctx.engine.config.say_seconds_per_char)


async def do_play(ctx: Ctx, el: ET.Element) -> None:
    url = ctx.resolve(text_of(el))
    if not url:
        if el.get("digits"):  # <Play digits> sends DTMF tones; nobody listens to them here
            ctx.call.record(ctx.now(), "play_digits", digits=el.get("digits"))
        return
    for _ in range(loops(el)):
        ctx.call.record(ctx.now(), "play", url=url)
        await ctx.sleep(ctx.engine.config.play_seconds)


async def do_pause(ctx: Ctx, el: ET.Element) -> None:
    length = attr_int(el, "length", 1)
    ctx.call.record(ctx.now(), "pause", length=length)
    await ctx.sleep(length)


async def do_redirect(ctx: Ctx, el: ET.Element) -> Fetch:
    url = ctx.resolve(text_of(el)) or ctx.doc_url
    return Fetch(url, el.get("method", "POST").upper(), kind="redirect")


async def do_hangup(ctx: Ctx, el: ET.Element) -> str:
    ctx.engine.end(ctx.call, "completed", by="twiml")
    return ENDED


async def do_reject(ctx: Ctx, el: ET.Element) -> str:
    reason = el.get("reason", "rejected")
    ctx.call.record(ctx.now(), "rejected", reason=reason)
    # Twilio docs unclear: the final CallStatus of a rejected inbound call is not documented;
    # the emulator reports "busy" for reason="busy" and "no-answer" for reason="rejected".
    status = "busy" if reason == "busy" else "no-answer"
    if ctx.call.answered_at is not None:
        status = "completed"
    ctx.engine.end(ctx.call, status, by="reject")
    return ENDED


async def do_leave(ctx: Ctx, el: ET.Element) -> str | None:
    if ctx.mode != "wait":
        # Twilio docs unclear: <Leave> outside a waitUrl; the emulator ignores it.
        ctx.call.record(ctx.now(), "leave_ignored")
        return None
    ctx.call.record(ctx.now(), "leave")
    return LEAVE


# Gather -----------------------------------------------------------------------------------
async def do_gather(ctx: Ctx, el: ET.Element) -> Fetch | None:
    call = ctx.call
    action = ctx.resolve(el.get("action")) or ctx.doc_url
    method = el.get("method", "POST").upper()
    timeout = attr_int(el, "timeout", 5)
    finish = el.get("finishOnKey", "#")
    num_digits = attr_int(el, "numDigits", 0) or None
    on_empty = attr_bool(el, "actionOnEmptyResult")
    inputs = el.get("input", "dtmf").lower()
    entry = call.person.next_gather_input()
    if "dtmf" not in inputs:
        entry = None  # the emulator's people only press keys; they never speak
    call.record(ctx.now(), "gather_started", action=action, timeout=timeout, num_digits=num_digits,
                finish_on_key=finish, input=inputs)
    nested = [child for child in el if child.tag in GATHER_NESTABLE]
    digits, key, complete = "", "", False
    if entry:
        if nested:
            # Barge-in: the caller presses keys straight away, so the prompt stops at once.
            first = nested[0]
            by_verb: dict[str, dict[str, object]] = {
                "say": {"text": text_of(first), "voice": first.get("voice", "man"),
                        "language": first.get("language", "en-US")},
                "play": {"url": ctx.resolve(text_of(first))},
                "pause": {"length": attr_int(first, "length", 1)}}
            call.record(ctx.now(), first.tag.lower(), interrupted=True, **by_verb[first.tag.lower()])
        for ch in entry:
            await ctx.sleep(ctx.engine.config.digit_seconds)
            if finish and ch == finish:
                key, complete = ch, True
                break
            digits += ch
            if num_digits and len(digits) >= num_digits:
                # Twilio docs unclear: keys pressed after numDigits is reached; they are dropped.
                complete = True
                break
        if not complete:
            await ctx.sleep(timeout)  # Twilio waits `timeout` seconds for another key
    else:
        for child in nested:
            await HANDLERS[child.tag](ctx, child)
        await ctx.sleep(timeout)
    if digits:
        call.record(ctx.now(), "digits", digits=digits, finished_on_key=key)
    else:
        call.record(ctx.now(), "gather_timeout" if not key else "gather_empty", finished_on_key=key)
        if not on_empty:
            return None  # no input: Twilio continues with the verb after <Gather>
    if action is None:
        ctx.engine.application_error(call, 12100, "Gather without action in inline TwiML", None)
        return None
    return Fetch(action, method, {"Digits": digits, "FinishedOnKey": key}, kind="gather")


# Record -----------------------------------------------------------------------------------
RECORD_FINISH_KEYS = "1234567890*#"
RECORD_MAX_LENGTH = 3600
BEEP_SECONDS = 0.5


@dataclass
class RecordRun:
    """A <Record> under way on a call leg."""

    rec: Recording
    action: str | None
    method: str
    trim: bool
    callback: RecordingStatusCallback | None
    speech: float  # seconds the person will speak into it (0: silent)

    def finish(self, engine: Engine, call: Call, heard: float, elapsed: float, digits: str) -> bool:
        """Store the recording and report it; returns False for an empty recording."""
        rec = self.rec
        empty = heard <= 0
        # Twilio docs unclear: whether a recording with no sound but trim="do-not-trim" counts
        # as the documented "empty recording"; the emulator treats every recording without
        # speech as empty, trimmed or not.
        rec.duration = 0.0 if empty else (heard if self.trim else elapsed)
        rec.status = "absent" if empty else "completed"
        call.record(engine.clock.now(), "record_ended", recording_sid=rec.sid, duration=rec.seconds,
                    digits=digits, empty=empty)
        send_status(engine, call, rec, self.callback, rec.status)
        return not empty

    def params(self, base_url: str, digits: str) -> dict[str, str]:
        return {"RecordingUrl": self.rec.url(base_url), "RecordingSid": self.rec.sid,
                "RecordingDuration": str(self.rec.seconds), "Digits": digits}


@dataclass
class RecordExit:
    """Ends a <Record> interrupted by a hangup (or a REST redirect) and posts its action."""

    record: RecordRun
    heard: float
    elapsed: float

    async def run(self, engine: Engine, call: Call, pending: Pending) -> None:
        hangup = pending.kind == "hangup"
        # Twilio docs unclear: the copies of the Record docs at hand describe Digits only as "the
        # key (if any) pressed to end the recording" and say nothing of hang-ups; the emulator
        # still requests the action with the recording and Digits=hangup, and ignores the TwiML
        # it returns (the call is over).
        # Twilio docs unclear: a REST redirect during <Record>; the emulator keeps the recording
        # (status callback included) but does not request the action, as for <Dial>.
        # Twilio docs unclear: a hangup before any speech; the recording is empty, and as for an
        # empty recording the action is not requested.
        record = self.record
        kept = record.finish(engine, call, self.heard, self.elapsed, "hangup" if hangup else "")
        if hangup and kept and record.action:
            await engine.post_ignored(call, record.action, record.method,
                                      record.params(engine.base_url, "hangup"), "record")


def _record_plan(speech: float, finish: str, timeout: int, max_length: int, key_seconds: float
                 ) -> tuple[float, float, str]:
    """(seconds of speech recorded, seconds the recording lasts, the key that ended it)."""
    if speech <= 0:
        # Silent: the recording ends after `timeout` seconds of silence (or at maxLength).
        return 0.0, float(min(timeout, max_length) if timeout > 0 else max_length), ""
    if speech >= max_length:
        # Twilio docs unclear: the Digits sent when maxLength ends the recording; no key was
        # pressed, so the emulator sends an empty Digits.
        return float(max_length), float(max_length), ""
    if "#" in finish:
        if speech + key_seconds >= max_length:
            return speech, float(max_length), ""
        return speech, speech + key_seconds, "#"
    if timeout > 0:
        # Twilio docs unclear: the Digits sent when silence ends the recording; the emulator
        # sends an empty Digits, as <Gather> does when it times out.
        return speech, float(min(speech + timeout, max_length)), ""
    return speech, float(max_length), ""


async def do_record(ctx: Ctx, el: ET.Element) -> Fetch | None:
    engine, call = ctx.engine, ctx.call
    action = ctx.resolve(el.get("action")) or ctx.doc_url
    method = el.get("method", "POST").upper()
    # Twilio docs unclear: timeout="0"; the emulator then ends the recording only on a key,
    # maxLength or a hangup (no silence detection).
    timeout = max(0, attr_int(el, "timeout", 5))
    finish = el.get("finishOnKey", RECORD_FINISH_KEYS)
    max_length = attr_int(el, "maxLength", RECORD_MAX_LENGTH)
    if max_length < 1:
        # Twilio docs unclear: maxLength must be "greater than 1"; anything else gets the default.
        max_length = RECORD_MAX_LENGTH
    trim = el.get("trim", "trim-silence").strip().lower() != "do-not-trim"
    callback = None
    if el.get("recordingStatusCallback"):
        events = el.get("recordingStatusCallbackEvent", "completed").replace(",", " ").split()
        callback = RecordingStatusCallback(ctx.resolve(el.get("recordingStatusCallback")) or "",
                                           el.get("recordingStatusCallbackMethod", "POST").upper(),
                                           tuple(e.lower() for e in events) or ("completed",))
    # transcribe / transcribeCallback: ignored (no transcriptions are made).
    speech = call.person.next_record_input() or 0.0
    if attr_bool(el, "playBeep", True):
        call.record(ctx.now(), "beep")
        await ctx.sleep(BEEP_SECONDS)
    rec = Recording.start(call, ctx.now())
    engine.recordings[rec.sid] = rec
    run = RecordRun(rec, action, method, trim, callback, speech)
    call.record(rec.started_at, "record_started", recording_sid=rec.sid, action=action, timeout=timeout,
                finish_on_key=finish, max_length=max_length, trim="trim-silence" if trim else "do-not-trim")
    send_status(engine, call, rec, callback, "in-progress")
    heard, elapsed, key = _record_plan(speech, finish, timeout, max_length, engine.config.digit_seconds)
    try:
        await ctx.sleep(elapsed)
    except asyncio.CancelledError:
        so_far = max(0.0, ctx.now() - rec.started_at)
        call.exit_hooks.append(RecordExit(run, min(heard, so_far), min(elapsed, so_far)))
        raise
    if not run.finish(engine, call, heard, elapsed, key):
        # The Record docs: "if Twilio receives an empty recording, it will not make a request to
        # the 'action' URL. The current call flow will continue with the next verb".
        return None
    if action is None:
        engine.application_error(call, 12100, "Record without action in inline TwiML", None)
        return None
    return Fetch(action, method, run.params(engine.base_url, key), kind="record")


# Enqueue ----------------------------------------------------------------------------------
@dataclass
class EnqueueExit:
    """Posts the Enqueue action when the call left the queue by a REST redirect or a hangup."""

    queue: CallQueue
    action: str | None
    method: str
    queue_time: int

    async def run(self, engine: Engine, call: Call, pending: Pending) -> None:
        # The Enqueue docs: "In the case where a call is dequeued due to a REST API request ...
        # the action URL is requested right away" with QueueResult=redirected.
        # Twilio docs unclear: what happens to the TwiML that action returns; the call follows the
        # redirect, so the emulator requests the action and ignores its answer.
        result = "redirected" if pending.kind == "redirect" else "hangup"
        call.record(engine.clock.now(), "queue_left", queue=self.queue.name, result=result,
                    queue_time=self.queue_time)
        if self.action:
            await engine.post_ignored(call, self.action, self.method, _queue_result(self, result), "action")


def _queue_result(exit_: EnqueueExit, result: str) -> dict[str, str]:
    return {"QueueResult": result, "QueueSid": exit_.queue.sid, "QueueTime": str(exit_.queue_time)}


async def do_enqueue(ctx: Ctx, el: ET.Element) -> Outcome | None:
    engine, call = ctx.engine, ctx.call
    name = text_of(el)
    action = ctx.resolve(el.get("action"))
    method = el.get("method", "POST").upper()
    wait_url = ctx.resolve(el.get("waitUrl")) if el.get("waitUrl") is not None else None
    wait_method = el.get("waitUrlMethod", "POST" if wait_url is not None else "GET").upper()
    queue = engine.queue(name)
    if len(queue.members) >= queue.max_size:
        call.record(ctx.now(), "queue_left", queue=name, result="queue-full", queue_time=0)
        if action:
            return Fetch(action, method, {"QueueResult": "queue-full"}, kind="action")
        return None
    started = ctx.now()
    queue.members.append((call, started))
    call.record(started, "enqueued", queue=name, queue_sid=queue.sid, position=queue.position(call))
    try:
        outcome = await _wait_in_queue(ctx, queue, started, wait_url, wait_method)
    except asyncio.CancelledError:
        queue.remove(call)
        call.exit_hooks.append(EnqueueExit(queue, action, method, int(ctx.now() - started)))
        raise
    queue.remove(call)
    exit_ = EnqueueExit(queue, action, method, int(ctx.now() - started))
    if outcome == LEAVE:
        call.record(ctx.now(), "queue_left", queue=name, result="leave", queue_time=exit_.queue_time)
        if action:
            return Fetch(action, method, _queue_result(exit_, "leave"), kind="action")
        return None  # "Execution proceeds with the next verb after the <Enqueue> verb."
    # The call ended while queued: <Hangup> in the waitUrl TwiML, or an application error there.
    # Twilio docs unclear: the QueueResult for <Hangup> in waitUrl TwiML; the emulator sends
    # "hangup" (and "error" for an application error), and ignores the TwiML the action returns.
    result = "hangup" if call.ended_by == "twiml" else "error"
    call.record(ctx.now(), "queue_left", queue=name, result=result, queue_time=exit_.queue_time)
    if action:
        await engine.post_ignored(call, action, method, _queue_result(exit_, result), "action")
    return ENDED


async def _wait_in_queue(ctx: Ctx, queue: CallQueue, started: float, wait_url: str | None,
                         wait_method: str) -> str:
    engine, call = ctx.engine, ctx.call
    while True:
        loop_started = ctx.now()
        if wait_url is None:
            call.record(loop_started, "play", url=DEFAULT_HOLD_MUSIC, hold_music=True)
            await ctx.sleep(30)
            continue
        if wait_url == "":
            await ctx.sleep(60)  # waitUrl="" means silence
            continue
        now = ctx.now()
        params = {
            "QueuePosition": str(queue.position(call)),
            "QueueSid": queue.sid,
            "QueueTime": str(int(now - started)),
            "AvgQueueTime": str(queue.average_wait(now)),
            "CurrentQueueSize": str(len(queue.members)),
            "MaxQueueSize": str(queue.max_size),
        }
        result = await run_program(engine, call, Fetch(wait_url, wait_method, params, kind="wait"), "wait")
        if result in (LEAVE, ENDED):
            return result
        # "Once the TwiML document located at the waitUrl runs out of verbs to execute, Twilio
        # re-requests the waitUrl." Guard against an empty document spinning without pause.
        if ctx.now() - loop_started < 1.0:
            await ctx.sleep(1.0)


async def do_dial(ctx: Ctx, el: ET.Element) -> Outcome | None:
    from .dial import dial_verb

    return await dial_verb(ctx, el)


# A verb's handler: None to go on with the next verb, or the outcome that ends this document.
HANDLERS: dict[str, Callable[[Ctx, ET.Element], Awaitable[Outcome | None]]] = {
    "Say": do_say,
    "Play": do_play,
    "Pause": do_pause,
    "Gather": do_gather,
    "Redirect": do_redirect,
    "Hangup": do_hangup,
    "Reject": do_reject,
    "Leave": do_leave,
    "Enqueue": do_enqueue,
    "Dial": do_dial,
    "Record": do_record,
}
