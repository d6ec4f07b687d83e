"""`callrouter demo day`: plan a working day, play it through the Twilio emulator on a demo stack whose
clock runs `scale` times as fast, then roll the day up so the supervisor dashboard shows it.

What runs on the demo clock: every moment the service records (calls, events, callbacks, presence),
routing ages, RQ's enqueue_at (translated back to real time), the emulator's ringing, prompts, hold,
talk and patience, and the driver's own schedule.

The clock stands still while a webhook is answered (`honest_clock`, the default): the emulator stops its
simulated time from sending a webhook until the answer is in and writes each stop and start to the demo
Redis (redis_keys.demo_clock_pauses), where every process of the stack reads it (bootstrap.ScaledClock).
So the service's own latency is no caller's waiting time; without it each real millisecond of a webhook
became 0.72 virtual seconds of waiting at 720x (the service level at 20 s read about 0 %). It also stands
still while the service routes after a webhook's reply (the claim, the record, the REST calls to the
emulator): a web process opens a mark in Redis before its reply goes out and ends it when that routing is
done (bootstrap.DemoWorkMarks, redis_keys.demo_clock_work), and the emulator's clock does not run on after
an answer while a mark is open (SharedPauses.settled, at most 5 s real). Before, that routing cost each
routed caller about 3 virtual seconds more at 360x on a quiet machine, and on a loaded CI machine it put
the demo's service level at 20 s at 38 %. What still runs while the service works: RQ jobs (a few
milliseconds each, so a few virtual seconds). What stays real: RQ's scheduler poll (1 s real), Redis
expiries (replay window, lockouts, staff sessions) and the directory cache.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import redis as redis_lib

from callrouter.adapters.flow_files import load_flows
from callrouter.adapters.sql.demo_day_repository import SqlDemoDay
from callrouter.adapters.sql.directory_repository import DirectorySnapshot, load_snapshot
from callrouter.bootstrap import Record, SystemClock, open_record
from callrouter.config import Settings
from callrouter.demo.day import load_shape, plan_day
from callrouter.demo.day_evaluation import CaseworkerScript, verdict_key
from callrouter.demo.day_plan import DayPlan, PhoneChange, PlannedCall, PresenceChange
from callrouter.demo.day_stack import (
    ROOT,
    DemoStack,
    Say,
    demo_redis_url,
    free_port,
    live_workers_paused,
    pauses_key,
    running_stack,
    work_key,
)
from callrouter.domain.statistics_intervals import period_bounds
from callrouter.domain.statistics_totals import Totals
from callrouter.services.statistics import statistics
from twilio_emulator.calls import Event
from twilio_emulator.config import EmulatorConfig, NumberConfig
from twilio_emulator.driver import Emulator
from twilio_emulator.people import Phone

DEFAULT_SCALE = 720.0  # 07:55-17:00 in about 45 s
SETTLE_SECONDS = 20.0  # real time the last calls and callbacks get after the day's last action


class DemoDayRefused(RuntimeError):
    """The demo day cannot run here (production settings, an empty directory)."""


@dataclass(frozen=True)
class DaySummary:
    day: date
    placed: int
    received: int
    offered: int
    answered: int
    abandoned: int
    callbacks_requested: int
    callbacks_completed: int
    callbacks_cancelled: int  # still open when the day ended: cancelled so the live demo leaves them alone
    unsettled: int  # calls of the day not ended (should be 0)
    conversations: int  # answered calls and callback conversations
    results_recorded: int  # of those, with the liaison's result
    verdicts_asked: int
    verdicts: int
    max_lag_seconds: float  # how late (virtual seconds) the driver was with an action at worst
    seconds: float  # real time the whole run took
    dashboard_url: str

    def lines(self) -> list[str]:
        return [f"demo day {self.day.isoformat()}: {self.placed} calls placed in {self.seconds:.0f} s",
                f"  received {self.received}, in a queue {self.offered}, answered {self.answered}, "
                f"abandoned {self.abandoned}",
                f"  callbacks asked {self.callbacks_requested}, completed {self.callbacks_completed}, "
                f"cancelled at the end of the day {self.callbacks_cancelled}",
                f"  conversations {self.conversations}, with a result {self.results_recorded}, verdict asked "
                f"{self.verdicts_asked}, given {self.verdicts}",
                f"  dashboard: {self.dashboard_url}  (log in as beheer)"]


class Patience:
    """A caller's hang-up condition: gives up after waiting this long in the queue (from the first
    time they were put in it), unless they are out of it by then (put through, or arranging a callback)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.transcript: list[Event] = []  # what the caller went through so far (CaseworkerScript reads it)
        self._first: float | None = None
        self._in_queue = False
        self._seen = 0

    def __call__(self, transcript: list[Event]) -> bool:
        self.transcript = transcript
        for event in transcript[self._seen:]:
            if event.kind == "enqueued":
                self._first = event.t if self._first is None else self._first
                self._in_queue = True
            elif event.kind == "queue_left":
                self._in_queue = False
        self._seen = len(transcript)
        return self._in_queue and self._first is not None and transcript[-1].t - self._first >= self.seconds


def default_day(today: date) -> date:
    """The last weekday before today."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return period_bounds(first_day=day, last_day=day, zone=zone)


def calls_on(record: SqlDemoDay, day: date, zone: ZoneInfo, *, open_only: bool = False) -> int:
    start, end = day_bounds(day, zone)
    return record.calls_received(start=start, end=end, open_only=open_only)


def dashboard_url(settings: Settings, day: date) -> str:
    return f"{settings.public_url.rstrip('/')}/staff/dashboard?periode=eigen&van={day}&tot={day}"


class Player:
    """Plays the plan's actions at their virtual moments: calls through the emulator, phones in the
    emulator, presence through the JSON API (retried while the liaison is on a call: 409)."""

    def __init__(self, plan: DayPlan, *, stack: DemoStack, emulator: Emulator, scale: float):
        self.plan, self.stack, self.emulator = plan, stack, emulator
        self.scale = scale
        self.pending: dict[int, PresenceChange] = {}
        self.max_lag = 0.0

    def now(self) -> datetime:
        """The demo clock as the emulator keeps it (it stands still while webhooks are answered)."""
        clock = self.emulator.engine.clock
        return clock.wall(clock.now())

    def play(self) -> None:
        for action in self.plan.actions():
            self.wait_until(action.at)
            self.max_lag = max(self.max_lag, (self.now() - action.at).total_seconds())
            with self.emulator.clock_held():  # the driver's own work is no time of the day
                self.do(action)

    def wait_until(self, moment: datetime) -> None:
        while (left := (moment - self.now()).total_seconds()) > 0:
            self.stack.check_redis()  # DemoRedisGone: nothing to play on any more
            if self.pending:
                with self.emulator.clock_held():
                    self.retry_presence()
            time.sleep(min(left / self.scale, 0.02))

    def do(self, action: PlannedCall | PresenceChange | PhoneChange) -> None:
        if isinstance(action, PlannedCall):
            script = CaseworkerScript(digits=list(action.digits), record=list(action.record_seconds),
                                      hangup_when=Patience(action.patience_seconds),
                                      verdict=verdict_key(caller=action.caller, at=action.at))
            self.emulator.place_call(from_=action.caller, to=action.line, script=script)
        elif isinstance(action, PhoneChange):
            # whisper_digits: on a callback the liaison is called first and presses 1 to be connected
            self.emulator.register_phone(action.address, Phone(action.behaviour, answer_after=action.answer_after,
                                                               talk_seconds=action.talk_seconds, whisper_digits=["1"]))
        else:
            self.pending[action.liaison_id] = action
            self.retry_presence()

    def retry_presence(self) -> None:
        for liaison_id, change in list(self.pending.items()):
            status = self.stack.set_presence(liaison_id, change.status)
            if status != 409:  # 409: on a call; tried again until the call ends
                del self.pending[liaison_id]

    def finish(self, *, timeout: float) -> None:
        """Let the last calls end (liaisons going home after their call); hang up what still runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stack.check_redis()
            self.retry_presence()
            if not self.pending and all(c.done for c in self.emulator.calls):
                return
            time.sleep(0.05)
        config = self.emulator.config
        for call in self.emulator.calls:
            if not call.done and call.direction == "inbound":
                httpx.post(f"{self.emulator.base_url}/2010-04-01/Accounts/{config.account_sid}/Calls/{call.sid}.json",
                           data={"Status": "completed"}, auth=(config.account_sid, config.auth_token), timeout=10)
        self.emulator.wait_until_idle(timeout=15)
        self.retry_presence()


def emulator_for(settings: Settings, snapshot: DirectorySnapshot, plan: DayPlan, *, app_url: str,
                 scale: float) -> Emulator:
    """The emulator with every line of the directory pointing at the demo stack, and the caseworkers' phones."""
    base = app_url
    numbers = {number: NumberConfig(voice_url=f"{base}/twilio/voice/incoming",
                                    status_callback_url=f"{base}/twilio/voice/status") for number in snapshot.lines}
    emulator = Emulator(EmulatorConfig(account_sid=settings.twilio_account_sid,
                                       auth_token=settings.twilio_auth_token.get_secret_value(),
                                       numbers=numbers, time_scale=scale))
    for number in plan.caseworker_phones:
        emulator.register_phone(number, Phone("answer", answer_after=5, talk_seconds=240))
    return emulator


def close_open_callbacks(settings: Settings, *, redis_url: str, plan: DayPlan, scale: float,
                         timeout: float = 10.0) -> int:
    """Cancel the day's callbacks still open at its end (none is being dialled any more), so the live
    demo's reconciler, which shares the record, never dials them; the number cancelled."""
    from callrouter.bootstrap import build
    from callrouter.domain.callbacks import OPEN, CallbackState
    from callrouter.services.callbacks.lifecycle import close

    demo = settings.model_copy(update={"redis_url": redis_url, "demo_clock_start": plan.clock_start,
                                       "demo_time_scale": scale})
    container = build(demo)
    try:
        start, end = day_bounds(plan.day, ZoneInfo(settings.timezone))
        store = container.voice.callbacks

        def open_of_day() -> list:  # type: ignore[type-arg]
            return [cb for cb in store.in_states(OPEN) if start <= cb.created_at < end]

        deadline = time.monotonic() + timeout
        while any(cb.state == CallbackState.DIALLING for cb in open_of_day()) and time.monotonic() < deadline:
            time.sleep(0.1)
        closed = 0
        for callback in open_of_day():
            if callback.state != CallbackState.DIALLING:
                close(container.voice, callback_id=callback.id, to=CallbackState.CANCELLED,
                      cause="end of the demo day", organisation=None)
                closed += 1
        return closed
    finally:
        container.close()


def record_results(settings: Settings, record: Record, day: date, *, organisations: list[str]) -> int:
    """The liaisons' results of the day's conversations, as each records it during wrap-up (a fixed mix with
    some referrals, callrouter/demo/day_evaluation.py), through the outcome store; how many were recorded.
    Each liaison records as a demo account of its own (issuer `demo-day`, no role: it cannot log in)."""
    from callrouter.demo.day_evaluation import RECORDED_AFTER, referred_to, result_for
    from callrouter.domain.staff import ConversationResult, OutcomeChanged

    start, end = day_bounds(day, ZoneInfo(settings.timezone))
    accounts: dict[int, int] = {}
    recorded = 0
    for index, (sid, liaison_id, organisation, ended_at) in enumerate(record.demo_day.conversations(start=start,
                                                                                                    end=end)):
        result = result_for(index)
        referred = referred_to(organisation, organisations, index) if result == ConversationResult.REFERRED else None
        if result is None or (result == ConversationResult.REFERRED and referred is None):
            continue
        at = ended_at + RECORDED_AFTER
        if liaison_id not in accounts:
            accounts[liaison_id] = record.parts.staff_accounts.record_login(
                issuer="demo-day", subject=f"liaison-{liaison_id}", display_name=None, at=at).id
        try:
            record.parts.outcomes.save(call_sid=sid, liaison_id=liaison_id, result=result, referred_organisation=referred,
                                       note="", at=at, by=accounts[liaison_id], expect_revision=0)
            recorded += 1
        except OutcomeChanged:  # recorded before (the same day played again)
            continue
    return recorded


def roll_up(settings: Settings, record: Record, day: date) -> Totals:
    """Recompute the day's 96 intervals and read the day's totals."""
    zone = ZoneInfo(settings.timezone)
    deps = statistics.StatsDeps(store=record.parts.stats_store, clock=SystemClock(), zone=zone,
                                policy=record.parts.stats_policy)
    start, end = day_bounds(day, zone)
    statistics.rollup_since(deps, since=start, until=end - timedelta(microseconds=1))
    rows = statistics.by_day(deps, first_day=day, last_day=day)
    return rows[0].totals if rows else Totals()


def run_demo_day(settings: Settings, *, day: date, calls: int, seed: int, scale: float, shape_path: Path,
                 say: Say, log_dir: Path = ROOT / "var" / "demo-day", honest_clock: bool = True) -> DaySummary:
    began = time.monotonic()
    if settings.environment == "production":
        raise DemoDayRefused("the demo day refuses to run with CALLROUTER_ENVIRONMENT=production")
    with open_record(settings) as record:
        with record.sessions() as session:
            snapshot = load_snapshot(session)
        if not snapshot.lines or not snapshot.liaisons or not snapshot.caseworkers_by_id:
            raise DemoDayRefused("the directory has no lines, liaisons or caseworkers: import one first "
                                 "(make run does: callrouter directory import demo/directory.yaml)")
        plan = plan_day(shape=load_shape(shape_path), directory=snapshot, flows=load_flows(settings.ivr_flows_dir),
                        day=day, calls=calls, seed=seed, zone=ZoneInfo(settings.timezone))
        presence_before = record.demo_day.presence()
        redis_url = demo_redis_url(settings.redis_url)
        with live_workers_paused(settings.redis_url, say):
            summary = _play(settings, snapshot, plan, scale=scale, redis_url=redis_url, log_dir=log_dir, say=say,
                            honest_clock=honest_clock)
        record.demo_day.restore_presence(presence_before)
        record_results(settings, record, day, organisations=sorted(snapshot.organisations))
        totals = roll_up(settings, record, day)
        return DaySummary(day=day, placed=len(plan.calls), received=totals.received, offered=totals.offered,
                          answered=totals.answered, abandoned=totals.abandoned,
                          callbacks_requested=totals.callbacks_requested,
                          callbacks_completed=totals.callbacks_completed, callbacks_cancelled=summary[0],
                          unsettled=calls_on(record.demo_day, day, ZoneInfo(settings.timezone), open_only=True),
                          conversations=totals.conversations, results_recorded=totals.results_recorded,
                          verdicts_asked=totals.verdicts_asked, verdicts=totals.verdicts,
                          max_lag_seconds=summary[1], seconds=time.monotonic() - began,
                          dashboard_url=dashboard_url(settings, day))


class SharedPauses:
    """The demo clock's stops, where every process of the stack reads them (bootstrap.shared_pauses): standing
    still from the stack's start (running_stack(clock_stopped=True)) until `start`, then whenever the emulator
    waits for a webhook's answer (its clock's listener)."""

    def __init__(self, redis_url: str, *, clock_start: str, scale: float):
        self.conn = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
        self.key = pauses_key(clock_start, scale)
        self.work = work_key(clock_start, scale)
        self.before = 0.0  # real seconds stood still before the day started (counted from the anchor)

    def start(self, anchor: float) -> None:
        """The day starts now: the clock reads its start (the time since the anchor stood still)."""
        stopped = self.conn.hget(self.key, "since")
        since = float(stopped) if stopped else anchor
        self.before = max(0.0, time.time() - max(since, anchor))
        self.write(0.0, None)

    def write(self, stood: float, since: float | None) -> None:
        self.conn.hset(self.key, mapping={"stood": repr(self.before + stood), "since": repr(since) if since else ""})

    def open_marks(self) -> int:
        """The service's marks of routing after a reply still open (bootstrap.DemoWorkMarks; lapsed ones not)."""
        return int(self.conn.zcount(self.work, f"({time.time()!r}", "+inf"))

    async def settled(self) -> None:
        """The emulator's clock settle (after each webhook's answer): until the service has routed what that
        answer left to route, polled every millisecond of real time (the emulator's clock bounds the wait)."""
        while await asyncio.to_thread(self.open_marks):
            await asyncio.sleep(0.001)

    def close(self) -> None:
        self.conn.close()


def _play(settings: Settings, snapshot: DirectorySnapshot, plan: DayPlan, *, scale: float, redis_url: str,
          log_dir: Path, say: Say, honest_clock: bool = True) -> tuple[int, float]:
    """The stack up, the day played, the stack down; (callbacks cancelled, the driver's worst lag)."""
    port = free_port()
    shared = SharedPauses(redis_url, clock_start=plan.clock_start.isoformat(), scale=scale)
    emulator = emulator_for(settings, snapshot, plan, app_url=f"http://127.0.0.1:{port}", scale=scale).start()
    try:
        with running_stack(settings, emulator_url=emulator.base_url, clock_start=plan.clock_start.isoformat(),
                           scale=scale, log_dir=log_dir, port=port, clock_stopped=honest_clock) as stack:
            anchor = stack.set_anchor(start=plan.clock_start.isoformat(), scale=scale)
            if honest_clock:
                shared.start(anchor)
                emulator.pause_clock_during_webhooks(shared.write, settle=shared.settled)
                # The emulator's dates (status callbacks' Timestamp, which the service records) follow the demo clock.
                emulator.set_wall_clock(plan.clock_start)
            else:  # the clock has run since the anchor (a process may have read it before the driver set it)
                emulator.set_wall_clock(plan.clock_start + timedelta(seconds=(time.time() - anchor) * scale))
            zone = ZoneInfo(settings.timezone)
            say(f"playing {plan.day.isoformat()} {plan.clock_start.astimezone(zone):%H:%M}-"
                f"{plan.end.astimezone(zone):%H:%M} at {scale:g}x: {len(plan.calls)} calls "
                f"(about {(plan.end - plan.clock_start).total_seconds() / scale:.0f} s)")
            player = Player(plan, stack=stack, emulator=emulator, scale=scale)
            player.play()
            player.finish(timeout=SETTLE_SECONDS)
            cancelled = close_open_callbacks(settings, redis_url=redis_url, plan=plan, scale=scale)
            return cancelled, player.max_lag
    finally:
        emulator.stop()
        shared.close()
