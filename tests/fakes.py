"""In-memory fakes of every port in callrouter/ports/calls.py, faithful to the real adapters' contracts, and
`make_deps`: a CallDeps on those fakes, with a small directory and the real voice menus of ivr_flows/.

- FakeCallStore keeps the SQL adapter's rules (adapters/sql/call_repository.py): a `move` only from a state in
  MOVES[move].sources, `only_in` likewise, a repeated `dedupe` key is not applied, a `state` change raises
  IllegalMove, unknown fields raise ValueError; details come back as JSON gives them back.
- FakeRouter keeps the Lua scripts' rules (adapters/lua/*.lua): one line per organisation, served in the order of
  domain.queueing (the reference of dispatch.lua), a claim makes the liaison busy, enqueue is idempotent.
- FakeCallbackStore keeps adapters/sql/callback_repository.py's compare-and-set (expect, expect_attempts) and its
  one open callback per open key.

Unit tests need no servers: nothing here talks to Redis, a database or Twilio.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo

from callrouter.adapters.flow_files import load_flows
from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto
from callrouter.domain.callbacks import CLOSED, Callback, CallbackOrigin, CallbackState, can_move
from callrouter.domain.calls import (
    HOLDING_STATES,
    MOVES,
    CallEvent,
    CallMove,
    CallRecord,
    CallState,
    EventKind,
    IllegalMove,
    LiaisonTaken,
    Outcome,
)
from callrouter.domain.directory import Caseworker, Liaison, Line, LineKind, Location, Organisation, Topic
from callrouter.domain.hours import OpeningHours, no_holidays
from callrouter.domain.pin_limits import Backoff, PinLimits
from callrouter.domain.queueing import (
    ANY_TOPIC,
    AbandonResult,
    CallClass,
    Claim,
    FreeLiaison,
    OrgSnapshot,
    Presence,
    PresenceResult,
    QueuePosition,
    RequeueResult,
    RoutingRules,
    WaitHistory,
    WaitingCall,
    next_pair,
)
from callrouter.domain.voice import Action, Gather, Say, VoiceReply
from callrouter.ports.calls import NetworkLeg
from callrouter.services.calls.deps import CallDeps

if TYPE_CHECKING:
    from callrouter.ports.calls import (
        AfterReply,
        CallbackStore,
        CallStore,
        Clock,
        Directory,
        Guard,
        Jobs,
        PinVerifier,
        PresenceStore,
        Router,
        Telephony,
    )
    from callrouter.ports.cases import CaseStore

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FLOWS_DIR = Path(__file__).resolve().parents[1] / "ivr_flows"
PSEUDONYM_KEY = b"unit-test-pseudonym-key"
# A Wednesday morning: every organisation of the small directory is open.
WEDNESDAY_10 = datetime(2026, 11, 25, 10, 0, tzinfo=AMSTERDAM)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _as_json(detail: dict[str, object] | None) -> dict[str, object]:
    """A detail as a JSON column hands it back (one JSON cannot hold fails here, as it would in SQL)."""
    return dict(json.loads(json.dumps(detail or {})))


# -- the clock ---------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self, moment: datetime = WEDNESDAY_10) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, seconds: float) -> datetime:
        self.moment += timedelta(seconds=seconds)
        return self.moment


# -- the call record ---------------------------------------------------------------------------------------

_CALL_FIELDS = frozenset(f.name for f in dataclasses.fields(CallRecord))
_CALL_TIMES = ("received_at", "queued_at", "offered_at", "answered_at", "ended_at")


def _stored_call(values: dict[str, Any]) -> CallRecord:
    """A record as the SQL adapter reads it back: datetimes in UTC, state and outcome as enums."""
    values = dict(values)
    for name in _CALL_TIMES:
        values[name] = _utc(values[name])
    values["state"] = CallState(values["state"])
    values["outcome"] = Outcome(values["outcome"]) if values["outcome"] else None
    return CallRecord(**values)


def _values_of(record: CallRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _CALL_FIELDS}


@dataclass(frozen=True)
class StoredEvent:
    event: CallEvent
    dedupe: str | None


class FakeCallStore:
    """The CallStore of adapters/sql/call_repository.py, in memory."""

    def __init__(self) -> None:
        self.records: dict[str, CallRecord] = {}
        self.log: dict[str, list[StoredEvent]] = {}
        self.same_case: dict[str, str] = {}  # a callback conversation's sid -> the call whose case it joins

    # -- test setup and inspection --

    def put(self, record: CallRecord) -> CallRecord:
        """A call as the database holds it now (without events): test setup."""
        stored = _stored_call(_values_of(record))
        self.records[record.sid] = stored
        self.log.setdefault(record.sid, [])
        return stored

    def kinds(self, sid: str) -> list[EventKind]:
        return [stored.event.kind for stored in self.log.get(sid, [])]

    def details(self, sid: str, kind: EventKind) -> list[dict[str, object]]:
        return [stored.event.detail for stored in self.log.get(sid, []) if stored.event.kind == kind]

    def dedupes(self, sid: str) -> list[str]:
        return [stored.dedupe for stored in self.log.get(sid, []) if stored.dedupe is not None]

    def _append(self, sid: str, kind: EventKind, at: datetime, detail: dict[str, object] | None,
                dedupe: str | None) -> None:
        self.log.setdefault(sid, []).append(
            StoredEvent(CallEvent(sid, kind, _utc(at) or at, _as_json(detail)), dedupe))

    # -- the port --

    def open_call(self, record: CallRecord, *, detail: dict[str, object]) -> tuple[CallRecord, bool]:
        existing = self.records.get(record.sid)
        if existing is not None:
            return existing, False
        stored = self.put(record)
        self._append(record.sid, EventKind.RECEIVED, record.received_at, detail, "received")
        return stored, True

    def open_identified(self, record: CallRecord, *, detail: dict[str, object], identified_at: datetime,
                        identified: dict[str, object]) -> tuple[CallRecord, bool]:
        existing = self.records.get(record.sid)
        if existing is not None:
            return existing, False
        stored = self.put(record)
        self._append(record.sid, EventKind.RECEIVED, record.received_at, detail, "received")
        self._append(record.sid, EventKind.IDENTIFIED, identified_at, identified, None)
        return stored, True

    def open_conversation(self, record: CallRecord, *, events: Sequence[tuple[EventKind, datetime, dict[str, object]]],
                          same_case_as: str | None = None) -> tuple[CallRecord, bool]:
        existing = self.records.get(record.sid)
        if existing is not None:
            return existing, False
        stored = self.put(record)
        for kind, at, detail in events:
            self._append(record.sid, kind, at, detail, kind.value)
        if same_case_as is not None:
            self.same_case[record.sid] = same_case_as
        return stored, True

    def get(self, sid: str) -> CallRecord | None:
        return self.records.get(sid)

    def apply(self, sid: str, *, event: EventKind, at: datetime, move: CallMove | None = None,
              detail: dict[str, object] | None = None, dedupe: str | None = None,
              only_in: frozenset[CallState] | None = None, **changes: object) -> CallRecord | None:
        unknown = set(changes) - _CALL_FIELDS
        if unknown:
            raise ValueError(f"unknown call fields {sorted(unknown)}")
        if "state" in changes:
            raise IllegalMove("a call's state changes only by a named move (domain.calls.MOVES)")
        record = self.records.get(sid)
        if record is None:
            return None
        if move is not None and record.state not in MOVES[move].sources:
            return None
        if only_in is not None and record.state not in only_in:
            return None
        if dedupe is not None and dedupe in self.dedupes(sid):
            return None
        values = _values_of(record)
        values.update(changes)
        if move is not None:
            values["state"] = MOVES[move].target
        liaison = values.get("liaison_id")
        if liaison is not None and values["state"] in HOLDING_STATES and any(  # uq_calls_open_liaison
                r.sid != sid and r.liaison_id == liaison and r.state in HOLDING_STATES for r in self.records.values()):
            raise LiaisonTaken(liaison, sid)
        self._append(sid, event, at, detail, dedupe)
        updated = _stored_call(values)
        self.records[sid] = updated
        return updated

    def events(self, sid: str) -> list[CallEvent]:
        return [stored.event for stored in self.log.get(sid, [])]

    def calls_in_states(self, states: frozenset[CallState]) -> list[CallRecord]:
        return [record for record in self.records.values() if record.state in states]

    def calls_holding(self, liaison_id: int) -> list[CallRecord]:
        return [r for r in self.records.values()
                if r.liaison_id == liaison_id and r.state in HOLDING_STATES]


# -- the directory -----------------------------------------------------------------------------------------

class FakeDirectory:
    """The Directory, built from domain objects (as the SQL adapter's snapshot holds them)."""

    def __init__(self, *, organisations: Iterable[Organisation] = (), locations: Iterable[Location] = (),
                 lines: Iterable[Line] = (), caseworkers: Iterable[Caseworker] = (),
                 liaisons: Iterable[Liaison] = ()) -> None:
        self.organisations = {org.code: org for org in organisations}
        self.locations = {loc.code: loc for loc in locations}
        self.lines = {line.number: line for line in lines}
        self.caseworkers = {cw.id: cw for cw in caseworkers}
        self.liaisons = {lia.id: lia for lia in liaisons}

    def line_by_number(self, number: str) -> Line | None:
        return self.lines.get(number)

    def caseworker_by_phone(self, number: str) -> Caseworker | None:
        return next((cw for cw in self.caseworkers.values() if number in cw.phone_numbers), None)

    def caseworker_by_code(self, code: str) -> Caseworker | None:
        return next((cw for cw in self.caseworkers.values() if cw.code == code), None)

    def caseworker(self, caseworker_id: int) -> Caseworker | None:
        return self.caseworkers.get(caseworker_id)

    def location(self, code: str) -> Location | None:
        return self.locations.get(code)

    def organisation(self, code: str) -> Organisation | None:
        return self.organisations.get(code)

    def organisations_at(self, location_code: str) -> list[Organisation]:
        location = self.locations.get(location_code)
        if location is None:
            return []
        return [self.organisations[code] for code in location.organisations if code in self.organisations]

    def liaison(self, liaison_id: int) -> Liaison | None:
        return self.liaisons.get(liaison_id)

    def liaisons_of(self, org_code: str) -> list[Liaison]:
        return [lia for lia in self.liaisons.values() if lia.organisation == org_code]

    def all_organisations(self) -> list[Organisation]:
        return list(self.organisations.values())


# -- the router --------------------------------------------------------------------------------------------

@dataclass
class LiveCall:
    topic: str | None  # None: a connected call the rebuild knows only by its liaison
    klass: str
    enqueued_at_ms: int
    liaison: int | None = None  # claimed for (offered to, or connected with) this liaison

    @property
    def waiting(self) -> bool:
        return self.liaison is None and self.topic is not None


@dataclass
class LiveLiaison:
    topics: tuple[str, ...] = ()
    status: Presence | None = None
    since_ms: int = 0
    call: str | None = None

    def set_status(self, status: Presence, now_ms: int) -> None:
        if self.status == status:  # as prelude.lua: the idle time counts from the last change
            return
        self.status = status
        self.since_ms = now_ms


@dataclass
class OrgLine:
    topics: set[str] = field(default_factory=set)  # the topic index
    calls: dict[str, LiveCall] = field(default_factory=dict)
    liaisons: dict[int, LiveLiaison] = field(default_factory=dict)
    waits: dict[str, list[int]] = field(default_factory=dict)  # newest first
    claims: list[int] = field(default_factory=list)  # newest first


class FakeRouter:
    """The Router of adapters/redis_router.py and its Lua scripts, in memory."""

    def __init__(self, *, widen_after_ms: int = 60_000, citizen_promote_after_ms: int = 600_000,
                 history_size: int = 50, clock: Clock | None = None) -> None:
        self.rules = RoutingRules(widen_after_ms=widen_after_ms, citizen_promote_after_ms=citizen_promote_after_ms)
        self.history_size = history_size
        self._clock = clock
        self.orgs: dict[str, OrgLine] = {}

    def _org(self, org: str) -> OrgLine:
        return self.orgs.setdefault(org, OrgLine())

    def _now(self, now_ms: int | None) -> int:
        """'' in the scripts: the server's time."""
        if now_ms is not None:
            return int(now_ms)
        return ms(self._clock.now()) if self._clock is not None else 0

    @staticmethod
    def _queue(line: OrgLine, topic: str, klass: str) -> list[tuple[int, str]]:
        """One sorted set: by enqueue time, then by member."""
        return sorted((c.enqueued_at_ms, sid) for sid, c in line.calls.items()
                      if c.waiting and c.topic == topic and c.klass == klass)

    # -- test setup and inspection --

    def org(self, org: str) -> OrgLine:
        """The organisation's live state itself (as the Redis keys of its hash tag)."""
        return self._org(org)

    def line(self, org: str) -> list[str]:
        """The calls waiting, in the order they are served (professional before citizen, oldest first)."""
        line = self._org(org)
        promote = self.rules.citizen_promote_after_ms
        waiting = [(c.enqueued_at_ms + (promote if c.klass == CallClass.CIT else 0), c.klass != CallClass.PRO, sid)
                   for sid, c in line.calls.items() if c.waiting]
        return [sid for _, _, sid in sorted(waiting)]

    def known(self, *, call_sid: str, org: str) -> bool:
        return call_sid in self._org(org).calls

    def enqueued_at(self, *, call_sid: str, org: str) -> int | None:
        call = self._org(org).calls.get(call_sid)
        return None if call is None else call.enqueued_at_ms

    # -- calls --

    def enqueue(self, *, call_sid: str, org: str, topic: str, klass: CallClass | str, enqueued_at_ms: int) -> bool:
        klass = CallClass(klass)
        line = self._org(org)
        if call_sid in line.calls:
            return False
        line.topics.add(topic)
        line.calls[call_sid] = LiveCall(topic, klass.value, int(enqueued_at_ms))
        return True

    def dispatch(self, *, org: str, now_ms: int) -> list[Claim]:
        line = self._org(org)
        claims: list[Claim] = []
        while True:
            waiting = [WaitingCall(sid, c.topic or ANY_TOPIC, CallClass(c.klass), c.enqueued_at_ms)
                       for sid, c in line.calls.items() if c.waiting]
            free = [FreeLiaison(lid, frozenset(lia.topics), lia.since_ms) for lid, lia in line.liaisons.items()
                    if lia.status == Presence.AVAILABLE and lia.call is None]
            found = next_pair(waiting=waiting, free=free, now_ms=now_ms, rules=self.rules)
            if found is None:
                return claims
            head, chosen = found
            liaison = line.liaisons[chosen.liaison_id]
            liaison.set_status(Presence.BUSY, now_ms)
            liaison.call = head.call_sid
            line.calls[head.call_sid].liaison = chosen.liaison_id
            waited = max(0, now_ms - head.enqueued_at_ms)
            line.waits[head.topic] = [waited, *line.waits.get(head.topic, [])][: self.history_size]
            line.claims = [now_ms, *line.claims][: self.history_size]
            claims.append(Claim(call_sid=head.call_sid, liaison_id=chosen.liaison_id, org=org, topic=head.topic,
                                klass=head.klass, waited_ms=waited))

    def claim(self, *, call_sid: str, liaison_id: int, org: str, now_ms: int) -> str:
        line = self._org(org)
        call = line.calls.get(call_sid)
        if call is None or call.liaison is not None:
            return "not_waiting"
        liaison = line.liaisons.get(liaison_id)
        if liaison is None or liaison.status != Presence.AVAILABLE:
            return "not_available"
        liaison.set_status(Presence.BUSY, now_ms)
        liaison.call = call_sid
        call.liaison = liaison_id
        return "ok"

    def requeue_after_no_answer(self, *, call_sid: str, liaison_id: int, org: str,
                                now_ms: int | None = None) -> RequeueResult:
        line = self._org(org)
        now = self._now(now_ms)
        requeued = away = False
        call = line.calls.get(call_sid)
        if call is not None and call.liaison == liaison_id and call.topic is not None:
            call.liaison = None
            requeued = True
        liaison = line.liaisons.get(liaison_id)
        if liaison is not None and liaison.call == call_sid:
            liaison.call = None
            liaison.set_status(Presence.AWAY, now)
            away = True
        return RequeueResult(requeued=requeued, liaison_set_away=away)

    def abandon(self, *, call_sid: str, org: str, now_ms: int | None = None) -> AbandonResult:
        line = self._org(org)
        now = self._now(now_ms)
        call = line.calls.pop(call_sid, None)
        if call is None:
            return AbandonResult(was_queued=False, freed_liaison_id=None)
        if call.liaison is None:
            return AbandonResult(was_queued=call.topic is not None, freed_liaison_id=None)
        liaison = line.liaisons.get(call.liaison)
        if liaison is not None and liaison.call == call_sid:
            liaison.call = None
            liaison.set_status(Presence.AVAILABLE, now)
            return AbandonResult(was_queued=False, freed_liaison_id=call.liaison)
        return AbandonResult(was_queued=False, freed_liaison_id=None)

    # -- liaisons --

    def set_presence(self, *, liaison_id: int, org: str, topics: Iterable[str], status: Presence | str,
                     now_ms: int, only_from: Presence | None = None) -> PresenceResult:
        status = Presence(status)
        if status is Presence.BUSY:
            raise ValueError("busy is set by the router when it claims a call")
        wanted = sorted(set(topics) - {ANY_TOPIC})
        line = self._org(org)
        liaison = line.liaisons.get(liaison_id)
        if liaison is not None and liaison.call:
            return PresenceResult(accepted=False, status=liaison.status, call_sid=liaison.call,
                                  reason="busy_with_call")
        if only_from is not None and not (liaison is not None and liaison.status == only_from):
            return PresenceResult(accepted=False, status=liaison.status if liaison else None,
                                  reason="status_changed")
        line.topics.update(wanted)
        if liaison is None:
            liaison = line.liaisons[liaison_id] = LiveLiaison()
        liaison.topics = tuple(wanted)
        liaison.set_status(status, int(now_ms))
        return PresenceResult(accepted=True, status=liaison.status)

    def release_liaison(self, *, liaison_id: int, org: str, status: Presence | str, now_ms: int,
                        call_sid: str | None = None) -> PresenceResult:
        status = Presence(status)
        if status is Presence.BUSY:
            raise ValueError("a released liaison is not busy")
        line = self._org(org)
        liaison = line.liaisons.get(liaison_id)
        if liaison is None:
            return PresenceResult(accepted=False, status=None, reason="unknown_liaison")
        if call_sid and liaison.call != call_sid:
            return PresenceResult(accepted=False, status=liaison.status, call_sid=liaison.call,
                                  reason="not_this_call")
        ended = liaison.call
        if ended:
            call = line.calls.get(ended)
            if call is not None and call.liaison == liaison_id:
                del line.calls[ended]
            liaison.call = None
        liaison.set_status(status, int(now_ms))
        return PresenceResult(accepted=True, status=liaison.status, call_sid=ended)

    def call_of_liaison(self, *, liaison_id: int, org: str) -> str | None:
        liaison = self._org(org).liaisons.get(liaison_id)
        return None if liaison is None else liaison.call

    def liaison_status(self, *, liaison_id: int, org: str) -> Presence | None:
        liaison = self._org(org).liaisons.get(liaison_id)
        return None if liaison is None else liaison.status

    def liaison_since_ms(self, *, liaison_id: int, org: str) -> int | None:
        liaison = self._org(org).liaisons.get(liaison_id)
        return None if liaison is None or liaison.status is None else liaison.since_ms

    def liaison_of_call(self, *, call_sid: str, org: str) -> int | None:
        call = self._org(org).calls.get(call_sid)
        return None if call is None else call.liaison

    # -- figures --

    def position(self, *, call_sid: str, org: str) -> QueuePosition | None:
        """As position.lua: ahead are those the same liaisons serve first (same topic and '*', both classes)."""
        line = self._org(org)
        call = line.calls.get(call_sid)
        if call is None or not call.waiting or call.topic is None:
            return None
        promote = self.rules.citizen_promote_after_ms
        ahead = self._queue(line, call.topic, call.klass).index((call.enqueued_at_ms, call_sid))
        rank = call.enqueued_at_ms + (promote if call.klass == CallClass.CIT else 0)
        topics = [call.topic]
        if call.topic == ANY_TOPIC:
            topics = sorted(line.topics)
        elif ANY_TOPIC in line.topics:
            topics.append(ANY_TOPIC)
        size = 0
        for topic in topics:
            for klass in (CallClass.PRO.value, CallClass.CIT.value):
                queue = self._queue(line, topic, klass)
                size += len(queue)
                if (topic, klass) == (call.topic, call.klass):
                    continue
                bound = rank - (promote if klass == CallClass.CIT else 0)
                strictly = klass == CallClass.CIT and call.klass == CallClass.PRO
                ahead += sum(1 for at, _ in queue if (at < bound if strictly else at <= bound))
        return QueuePosition(position=ahead + 1, size=size)

    def waiting_count(self, *, org: str) -> int:
        return sum(1 for call in self._org(org).calls.values() if call.waiting)

    def oldest_wait_ms(self, *, org: str, now_ms: int) -> int | None:
        times = [call.enqueued_at_ms for call in self._org(org).calls.values() if call.waiting]
        return None if not times else max(0, int(now_ms) - min(times))

    def presence_counts(self, *, org: str) -> dict[Presence, int]:
        counts = {status: 0 for status in Presence}
        for liaison in self._org(org).liaisons.values():
            if liaison.status is not None:
                counts[liaison.status] += 1
        return counts

    def recent_waits(self, *, org: str, topic: str) -> list[int]:
        return list(self._org(org).waits.get(topic, []))

    def recent_claim_times(self, *, org: str) -> list[int]:
        return list(self._org(org).claims)

    def wait_history(self, *, org: str, topic: str) -> WaitHistory:
        return WaitHistory(waits_ms=tuple(self.recent_waits(org=org, topic=topic)),
                           claim_times_ms=tuple(self.recent_claim_times(org=org)),
                           presence=self.presence_counts(org=org))

    def rebuild(self, *, snapshots: Iterable[OrgSnapshot]) -> None:
        """As redis_router._snapshot_json + rebuild.lua: an offer counts only if both sides agree on it;
        the history of waits and claims is kept."""
        for snap in snapshots:
            holders = {lia.call_sid: lia.liaison_id for lia in snap.liaisons if lia.call_sid}
            calls: dict[str, LiveCall] = {}
            topics: set[str] = set()
            for call in snap.calls:
                agreed = call.liaison_id is not None and holders.get(call.call_sid) == call.liaison_id
                calls[call.call_sid] = LiveCall(call.topic, CallClass(call.klass).value, int(call.enqueued_at_ms),
                                                call.liaison_id if agreed else None)
                topics.add(call.topic)
            liaisons: dict[int, LiveLiaison] = {}
            for lia in snap.liaisons:
                lia_topics = tuple(sorted(set(lia.topics) - {ANY_TOPIC}))
                topics.update(lia_topics)
                sid = lia.call_sid
                queued = sid in calls and calls[sid].liaison != lia.liaison_id
                if sid and holders.get(sid) == lia.liaison_id and not queued:
                    liaisons[lia.liaison_id] = LiveLiaison(lia_topics, Presence.BUSY, int(lia.since_ms), sid)
                    calls.setdefault(sid, LiveCall(None, "", 0, lia.liaison_id))
                else:
                    status = Presence(lia.status)
                    liaisons[lia.liaison_id] = LiveLiaison(
                        lia_topics, Presence.AWAY if status is Presence.BUSY else status, int(lia.since_ms))
            line = self._org(snap.org)
            line.topics, line.calls, line.liaisons = topics, calls, liaisons


# -- telephony, jobs, routing after the reply ------------------------------------------------------------------

@dataclass(frozen=True)
class CreatedCall:
    sid: str
    to: str
    from_: str
    answer: Goto
    status: Goto
    timeout: int


class FakeTelephony:
    """Twilio's REST API: records redirects and created calls; `fail_with` makes every redirect raise it."""

    def __init__(self, *, fail_with: Exception | None = None) -> None:
        self.redirects: list[tuple[str, Goto]] = []
        self.created: list[CreatedCall] = []
        self.hung_up: list[str] = []
        self.holds: list[tuple[str, str, bool, Goto | None]] = []
        self.room_ends: list[tuple[str, str, bool]] = []
        self.fail_with = fail_with
        self.network: dict[str, NetworkLeg] = {}
        self.fail_create_with: Exception | None = None

    def redirect(self, *, call_sid: str, to: Goto) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.redirects.append((call_sid, to))

    def create_call(self, *, to: str, from_: str, answer: Goto, status: Goto, timeout: int) -> str:
        if self.fail_create_with is not None:
            raise self.fail_create_with
        sid = f"CAout{len(self.created) + 1:04d}"
        self.created.append(CreatedCall(sid, to, from_, answer, status, timeout))
        return sid

    def leg_status(self, *, call_sid: str) -> NetworkLeg | None:
        """What `network` says of the call (set by a test); None: unknown."""
        return self.network.get(call_sid)
    def hang_up(self, *, call_sid: str) -> None:
        self.hung_up.append(call_sid)

    def hold_member(self, *, room_sid: str, member: str, hold: bool, music: Goto | None = None) -> None:
        self.holds.append((room_sid, member, hold, music))

    def set_member_ends_room(self, *, room_sid: str, member: str, ends: bool) -> None:
        self.room_ends.append((room_sid, member, ends))


class FakeJobs:
    def __init__(self) -> None:
        self.attempts: list[tuple[int, int]] = []  # (callback, liaison)
        self.due: list[tuple[int, datetime]] = []  # (callback, at)
        self.wrap_ups: list[tuple[int, datetime]] = []  # (liaison, at)

    def start_attempt(self, *, callback_id: int, liaison_id: int) -> None:
        self.attempts.append((callback_id, liaison_id))

    def make_due_at(self, *, callback_id: int, at: datetime) -> None:
        self.due.append((callback_id, at))

    def end_wrap_up_at(self, *, liaison_id: int, at: datetime) -> None:
        self.wrap_ups.append((liaison_id, at))


class FakeAfterReply:
    """Records the organisations to route after the reply (the tests route them by hand when they want)."""

    def __init__(self) -> None:
        self.orgs: list[str] = []
        self.rechecks: list[str] = []  # hold turns' routing (RouteAfterReply does it about once a second)

    def route(self, *, org: str) -> None:
        self.orgs.append(org)

    def recheck(self, *, org: str) -> None:
        self.rechecks.append(org)


# -- callbacks ------------------------------------------------------------------------------------------------

_CALLBACK_FIELDS = frozenset(f.name for f in dataclasses.fields(Callback))
_CALLBACK_TIMES = ("place_at", "due_at", "expires_at", "created_at", "attempt_started_at", "next_attempt_at")


def _stored_callback(values: dict[str, Any]) -> Callback:
    values = dict(values)
    for name in _CALLBACK_TIMES:
        if name in values:
            values[name] = _utc(values[name])
    values["state"] = CallbackState(values["state"])
    values["origin"] = CallbackOrigin(values["origin"])
    return Callback(**values)


@dataclass(frozen=True)
class CallbackEvent:
    callback_id: int
    at: datetime
    from_state: CallbackState | None
    to_state: CallbackState
    cause: str
    detail: dict[str, object]


class FakeCallbackStore:
    """The CallbackStore of adapters/sql/callback_repository.py, in memory: compare-and-set moves, one open
    callback per open key (the unique index), an event per change."""

    def __init__(self) -> None:
        self.callbacks: dict[int, Callback] = {}
        self.open_keys: dict[str, int] = {}
        self.log: list[CallbackEvent] = []
        self._ids = itertools.count(1)

    def events(self, callback_id: int) -> list[CallbackEvent]:
        return [event for event in self.log if event.callback_id == callback_id]

    def create(self, values: dict[str, object], *, open_key: str, cause: str) -> tuple[Callback, bool]:
        if open_key in self.open_keys:
            return self.callbacks[self.open_keys[open_key]], False
        unknown = set(values) - _CALLBACK_FIELDS
        if unknown:
            raise ValueError(f"unknown callback fields {sorted(unknown)}")
        callback = _stored_callback({"id": next(self._ids), **cast(dict[str, Any], values)})
        self.callbacks[callback.id] = callback
        self.open_keys[open_key] = callback.id
        self.log.append(CallbackEvent(callback.id, callback.created_at, None, callback.state, cause, {}))
        return callback, True

    def get(self, callback_id: int) -> Callback | None:
        return self.callbacks.get(callback_id)

    def move(self, callback_id: int, *, to: CallbackState, cause: str, at: datetime,
             expect: frozenset[CallbackState], expect_attempts: int | None = None,
             detail: dict[str, object] | None = None, **changes: object) -> Callback | None:
        unknown = set(changes) - _CALLBACK_FIELDS
        if unknown:
            raise ValueError(f"unknown callback fields {sorted(unknown)}")
        current = self.callbacks.get(callback_id)
        if current is None:
            return None
        source = current.state
        if source not in expect or (expect_attempts is not None and current.attempts != expect_attempts):
            return None
        if source != to and not can_move(source, to):
            raise ValueError(f"callback cannot move from {source} to {to}")
        values: dict[str, Any] = {name: getattr(current, name) for name in _CALLBACK_FIELDS}
        values.update(changes)
        values["state"] = to
        moved = _stored_callback(values)
        self.callbacks[callback_id] = moved
        if to in CLOSED:
            self.open_keys = {key: cid for key, cid in self.open_keys.items() if cid != callback_id}
        self.log.append(CallbackEvent(callback_id, _utc(at) or at, source, to, cause, _as_json(detail)))
        return moved

    def in_states(self, states: frozenset[CallbackState], *, organisation: str | None = None) -> list[Callback]:
        found = [cb for cb in self.callbacks.values()
                 if cb.state in states and (not organisation or cb.organisation == organisation)]
        return sorted(found, key=lambda cb: (cb.place_at, cb.id))

    def due(self, *, now: datetime) -> list[Callback]:
        return [cb for cb in self.callbacks.values()
                if (cb.state == CallbackState.REQUESTED and cb.due_at <= now)
                or (cb.state == CallbackState.RETRY and cb.next_attempt_at is not None and cb.next_attempt_at <= now)]


# -- presence, guard, PINs, cases -----------------------------------------------------------------------------

class FakePresenceStore:
    def __init__(self) -> None:
        self.saved: dict[int, tuple[str, str, datetime]] = {}  # liaison -> (organisation, status, since)
        self.history: list[tuple[int, str, str, datetime]] = []

    def save(self, *, liaison_id: int, organisation: str, status: str, since: datetime) -> None:
        status = Presence(status).value
        self.saved[liaison_id] = (organisation, status, since)
        self.history.append((liaison_id, organisation, status, since))

    def status_of(self, liaison_id: int) -> str | None:
        saved = self.saved.get(liaison_id)
        return None if saved is None else saved[1]

    def all(self) -> list[tuple[int, str, str, datetime]]:
        return [(lid, org, status, since) for lid, (org, status, since) in self.saved.items()]


class FakeGuard:
    """adapters/redis_guard.RedisGuard's PIN buckets, in memory: the backoff of domain/pin_limits.py per caller
    number, per code (apart for the code's own numbers) and across all codes per hour (no expiry)."""

    def __init__(self, *, limits: PinLimits | None = None, announce_after_seconds: int = 30,
                 announce_every_seconds: int = 90, announce_always: bool = False) -> None:
        self.limits = limits or PinLimits()
        self.announce_after_seconds = announce_after_seconds
        self.announce_every_seconds = announce_every_seconds
        self.announce_always = announce_always
        self.wrong: Counter[tuple[str, str]] = Counter()  # (bucket kind, caller or code) -> wrong PINs in a row
        self.closed_until: dict[tuple[str, str], datetime] = {}
        self.wrong_in_hour: Counter[int] = Counter()
        self.announced: dict[str, float] = {}

    def _closed(self, bucket: tuple[str, str], now: datetime) -> bool:
        until = self.closed_until.get(bucket)
        return until is not None and now < until

    def _count(self, bucket: tuple[str, str], backoff: Backoff, now: datetime) -> None:
        self.wrong[bucket] += 1
        wait = backoff.wait_after(self.wrong[bucket])
        if wait:
            self.closed_until[bucket] = now + timedelta(seconds=wait)

    def is_locked(self, *, caller: str, now: datetime) -> bool:
        return self._closed(("number", caller), now)

    def pin_closed(self, *, caller: str, code: str, own_number: bool, now: datetime) -> bool:
        if self._closed(("number", caller), now):
            return True
        if own_number:
            return self._closed(("own", code), now)
        hour = int(now.timestamp() // 3600)
        return self._closed(("code", code), now) or self.wrong_in_hour[hour] >= self.limits.global_per_hour

    def record_wrong_pin(self, *, caller: str, code: str | None, own_number: bool, now: datetime) -> None:
        self._count(("number", caller), self.limits.number, now)
        if code is not None:
            self._count(("own" if own_number else "code", code), self.limits.own if own_number else self.limits.code,
                        now)
            self.wrong_in_hour[int(now.timestamp() // 3600)] += 1

    def record_right_pin(self, *, caller: str, code: str, own_number: bool) -> None:
        for bucket in [("number", caller)] + ([("own", code)] if own_number else []):
            self.wrong.pop(bucket, None)
            self.closed_until.pop(bucket, None)

    def should_announce(self, *, call_sid: str, queue_seconds: float) -> bool:
        if self.announce_always:
            return True
        if queue_seconds < self.announce_after_seconds:
            return False
        last = self.announced.get(call_sid)
        if last is not None and queue_seconds - last < self.announce_every_seconds:
            return False
        self.announced[call_sid] = queue_seconds
        return True


class FakePins:
    """A PIN's 'hash' is `pin:<PIN>`: no argon2 in unit tests."""

    def __init__(self) -> None:
        self.checked: list[str] = []  # the hashes checked, never the PINs

    @staticmethod
    def hash(pin: str) -> str:
        return f"pin:{pin}"

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.checked.append(pin_hash)
        return pin_hash == self.hash(pin)

    def verify_nothing(self, pin: str) -> bool:
        self.checked.append("dummy")
        return False


class FakeCases:
    """The CaseStore: a call keeps the case it was attached to first (as SqlCaseStore)."""

    def __init__(self, *, fail_with: Exception | None = None) -> None:
        self.attached: list[tuple[str, int, str, str | None]] = []  # (call, caseworker, location, reference)
        self.case_of: dict[str, int] = {}
        self.fail_with = fail_with

    def attach(self, *, call_sid: str, caseworker_id: int, location: str, reference: str | None,
               at: datetime) -> int | None:
        if self.fail_with is not None:
            raise self.fail_with
        self.attached.append((call_sid, caseworker_id, location, reference))
        return self.case_of.setdefault(call_sid, len(self.case_of) + 1)


# -- the small directory ------------------------------------------------------------------------------------

WORKING_HOURS = OpeningHours(weekly={day: ((time(8, 0), time(17, 0)),) for day in range(5)})
WW = Topic("UWV", "ww", "WW-uitkering", "unemployment benefit")
ZW = Topic("UWV", "zw", "Ziektewet", "sickness benefit")
AOW = Topic("SVB", "aow", "AOW", "state pension")
UWV = Organisation("UWV", "UWV", "+31880898929", WORKING_HOURS, topics=(WW, ZW))  # two topics
SVB = Organisation("SVB", "SVB", "+31205656565", WORKING_HOURS, topics=(AOW,))  # one topic
AMS = Location("AMS", "Amsterdam", ("UWV", "SVB"))
UTR = Location("UTR", "Utrecht", ("UWV",))  # one organisation: no organisation menu
PRO_LINE = Line("+31850001000", LineKind.PROFESSIONAL, (), "Professionallijn")
CIT_LINE = Line("+31850001101", LineKind.CITIZEN, ("UWV",), "UWV voor burgers")
SANNE_PHONE = "+31612345601"
SANNE = Caseworker(1, "1001", "Sanne", "AMS", (SANNE_PHONE,), FakePins.hash("4321"))  # number, and code + PIN
PIET = Caseworker(2, "2002", "Piet", "UTR", (), FakePins.hash("2468"))  # code + PIN only
JAN = Liaison(11, "uwv-jan", "Jan", "UWV", ("ww",), "+31201110011")
EVA = Liaison(12, "uwv-eva", "Eva", "UWV", ("ww", "zw"), "client:eva")
SEM = Liaison(21, "svb-sem", "Sem", "SVB", ("aow",), "sip:sem@svb.example")
UNKNOWN_CALLER = "+31698765400"
CITIZEN_CALLER = "+31611112222"


def make_directory(*, organisations: Iterable[Organisation] = (UWV, SVB),
                   locations: Iterable[Location] = (AMS, UTR), lines: Iterable[Line] = (PRO_LINE, CIT_LINE),
                   caseworkers: Iterable[Caseworker] = (SANNE, PIET),
                   liaisons: Iterable[Liaison] = (JAN, EVA, SEM)) -> FakeDirectory:
    return FakeDirectory(organisations=organisations, locations=locations, lines=lines, caseworkers=caseworkers,
                         liaisons=liaisons)


_FLOWS = load_flows(FLOWS_DIR)


def real_flows() -> dict[str, ivr.Flow]:
    """The voice menus of ivr_flows/ (loaded once; flows are frozen)."""
    return dict(_FLOWS)


def make_deps(**overrides: Any) -> CallDeps:
    """A CallDeps on fresh fakes; any field may be overridden (a `clock` is shared with the router)."""
    clock = overrides.pop("clock", None) or FakeClock()
    values: dict[str, Any] = {
        "flows": real_flows(), "directory": make_directory(), "calls": FakeCallStore(),
        "router": FakeRouter(clock=clock), "presence": FakePresenceStore(), "telephony": FakeTelephony(),
        "guard": FakeGuard(), "pins": FakePins(), "clock": clock, "pseudonym_key": PSEUDONYM_KEY,
        "holidays": no_holidays, "callbacks": FakeCallbackStore(), "jobs": FakeJobs(), "after": FakeAfterReply(),
    }
    values.update(overrides)
    return CallDeps(**values)


# -- typed access to the fakes behind a CallDeps -------------------------------------------------------------

T = TypeVar("T")


def _fake(value: object, kind: type[T]) -> T:
    assert isinstance(value, kind), f"expected a {kind.__name__}, got {type(value).__name__}"
    return value


@dataclass(frozen=True)
class Fakes:
    calls: FakeCallStore
    directory: FakeDirectory
    router: FakeRouter
    presence: FakePresenceStore
    telephony: FakeTelephony
    guard: FakeGuard
    pins: FakePins
    clock: FakeClock
    callbacks: FakeCallbackStore
    jobs: FakeJobs
    after: FakeAfterReply


def fakes(deps: CallDeps) -> Fakes:
    return Fakes(calls=_fake(deps.calls, FakeCallStore), directory=_fake(deps.directory, FakeDirectory),
                 router=_fake(deps.router, FakeRouter), presence=_fake(deps.presence, FakePresenceStore),
                 telephony=_fake(deps.telephony, FakeTelephony), guard=_fake(deps.guard, FakeGuard),
                 pins=_fake(deps.pins, FakePins), clock=_fake(deps.clock, FakeClock),
                 callbacks=_fake(deps.callbacks, FakeCallbackStore), jobs=_fake(deps.jobs, FakeJobs),
                 after=_fake(deps.after, FakeAfterReply))


# -- test helpers -----------------------------------------------------------------------------------------------

def seed_call(deps: CallDeps, sid: str, *, state: CallState, line: Line = PRO_LINE, **fields: Any) -> CallRecord:
    """Put a call in the store as it would be in `state` (a professional call of Sanne at Amsterdam unless
    told otherwise); no events."""
    professional = line.kind == LineKind.PROFESSIONAL
    values: dict[str, Any] = {
        "sid": sid, "line_number": line.number, "line_kind": line.kind.value, "caller_pseudonym": f"p-{sid}",
        "caller_masked": "+316******01", "state": state, "received_at": deps.clock.now(),
        "caseworker_id": SANNE.id if professional else None, "location": SANNE.location if professional else None,
        "language": "nl",
    }
    values.update(fields)
    return _fake(deps.calls, FakeCallStore).put(CallRecord(**values))


def on_duty(deps: CallDeps, *liaisons: Liaison, status: Presence = Presence.AVAILABLE) -> None:
    """Liaisons set their presence (with the topics they know), now."""
    for liaison in liaisons:
        result = deps.router.set_presence(liaison_id=liaison.id, org=liaison.organisation, topics=liaison.topics,
                                          status=status, now_ms=ms(deps.clock.now()))
        assert result.accepted, result


def prompts_of(reply: VoiceReply) -> list[Action]:
    """Every action of the reply, with a Gather's prompts in its place (after the Gather itself)."""
    out: list[Action] = []
    for action in reply.actions:
        out.append(action)
        if isinstance(action, Gather):
            out.extend(action.prompts)
    return out


def said(reply: VoiceReply) -> str:
    """Everything the reply says, in order, Gather prompts included."""
    return " ".join(action.text for action in prompts_of(reply) if isinstance(action, Say))


def verbs(reply: VoiceReply) -> list[str]:
    return [type(action).__name__ for action in reply.actions]


def gather_of(reply: VoiceReply) -> Gather:
    gathers = [action for action in reply.actions if isinstance(action, Gather)]
    assert len(gathers) == 1, reply
    return gathers[0]


A = TypeVar("A")


def only(reply: VoiceReply, kind: type[A]) -> A:
    found = [action for action in reply.actions if isinstance(action, kind)]
    assert len(found) == 1, reply
    return found[0]


if TYPE_CHECKING:  # mypy --strict checks that every fake is the port it stands in for
    _call_store: CallStore = FakeCallStore()
    _directory: Directory = FakeDirectory()
    _router: Router = FakeRouter()
    _presence: PresenceStore = FakePresenceStore()
    _telephony: Telephony = FakeTelephony()
    _jobs: Jobs = FakeJobs()
    _after: AfterReply = FakeAfterReply()
    _callbacks: CallbackStore = FakeCallbackStore()
    _pins: PinVerifier = FakePins()
    _guard: Guard = FakeGuard()
    _clock: Clock = FakeClock()
    _cases: CaseStore = FakeCases()
