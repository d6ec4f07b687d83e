"""Traffic for the fault tests (caseworkers calling UWV and Toeslagen, a fixed set of liaisons) and what it
came to: the emulator's transcripts compared with the SQL record."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.callback_tables import CallbackRow
from callrouter.domain.calls import EventKind
from tests.faults.cluster import Cluster, wait_until
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import CallerScript, Phone

# Ten liaisons in four organisations. The baseline places the 100 simultaneous calls; a fault test
# places 40, which keeps it near 30 s on 2 loaded cores and still has calls in every state at the fault.
CALLS = 40
LIAISONS = ["uwv-jan", "uwv-ingrid", "uwv-hasan", "tsl-marloes", "tsl-yusuf", "tsl-wendy", "svb-gerrit", "svb-naima",
            "cak-mieke", "cak-dennis"]
ORGANISATIONS = "1234"  # the Amsterdam counter's menu: UWV, TSL, SVB, CAK in some order (cluster.STAFFED)
CASEWORKERS = ["+31612345601", "+31612345602", "+31612345603"]  # Amsterdam, known by their registered phones
APOLOGY = "er ging iets mis"  # ivr_flows/professional.yaml, error
TALK_SECONDS = 15.0  # simulated: 1.5 s at time_scale 10


def _overlaps(spans: list[tuple[float, float]]) -> int:
    spans = sorted(spans)
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:], strict=False) if start < end)


@dataclass
class Figures:
    calls: int = 0
    in_flight_at_fault: int = 0
    accepted: int = 0
    answered: int = 0
    called_back: int = 0
    told_apology: int = 0
    other_end: int = 0
    lost: int = 0
    double_dials: int = 0
    double_booked: int = 0
    failed_webhooks: int = 0
    webhook_errors: int = 0  # failed webhooks other than Twilio's 15 s timeout: refused, 5xx, cut off
    timed_out: int = 0  # calls that ended on a webhook Twilio gave up waiting for (an overloaded machine)
    application_errors: int = 0
    webhooks: int = 0
    longest_webhook_s: float = 0.0
    liaisons_busy_after: int = 0
    recover_s: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Traffic:
    """`calls` caseworker calls placed over `spread` seconds, from a thread of their own."""

    def __init__(self, cluster: Cluster, *, calls: int = CALLS, spread: float = 4.0, seed: int = 7,
                 talk_seconds: float = TALK_SECONDS) -> None:
        self.cluster = cluster
        self.count = calls
        self.spread = spread
        self.rng = random.Random(seed)
        self.calls: list[CallHandle] = []
        self.before = {c.sid for c in cluster.emulator.calls}
        self.addresses = {cluster.liaison_address(code): code for code in LIAISONS}
        self.busy_before: list[str] = []
        for code in LIAISONS:
            # call_waiting: a liaison given a second call rings and answers, so a double booking shows as two
            # overlapping conversations instead of a busy tone.
            cluster.emulator.register_phone(cluster.liaison_address(code),
                                            Phone("answer", answer_after=1.0, talk_seconds=talk_seconds,
                                                  call_waiting=True))
            response = cluster.api("PUT", f"/liaisons/{cluster.liaison_id(code)}/presence", json={"status": "available"})
            if response.status_code != 200:  # left busy by an earlier fault: counted, and out of this traffic
                self.busy_before.append(code)
        for number in CASEWORKERS:  # a callback reaches the caseworker's registered phone
            cluster.emulator.register_phone(number, Phone("answer", answer_after=1.0, talk_seconds=5))
        self._thread = threading.Thread(target=self._place, daemon=True)
        self._returning = threading.Thread(target=self._liaisons_come_back, daemon=True)
        self._ended = threading.Event()
        self.came_back: list[str] = []  # liaisons set away by the router during the traffic, available again
        self.started = time.monotonic()

    def start(self) -> Traffic:
        self._thread.start()
        self._returning.start()
        return self

    def _liaisons_come_back(self) -> None:
        """The router sets away a liaison whose pick-up never became a conversation (their leg's whisper failed
        or timed out, e.g. on a frozen host); the liaison sees it in the console and is available again a few
        seconds later. Without this, an organisation whose liaisons were all set away keeps its callers on hold
        for ever, which no liaison on duty would let happen."""
        while not self._ended.wait(2.0):
            for code in LIAISONS:
                if code in self.busy_before:
                    continue
                try:
                    if self.cluster.presence(code) != "away":
                        continue
                    self.cluster.api("PUT", f"/liaisons/{self.cluster.liaison_id(code)}/presence",
                                     json={"status": "available"})
                    self.came_back.append(code)
                except Exception:  # noqa: BLE001, S112 - no host up this moment (a fault): the next round asks again
                    continue

    def _place(self) -> None:
        for n in range(self.count):
            digits: list[str | None] = ["#", self.rng.choice(ORGANISATIONS), self.rng.choice("1230")]
            self.calls.append(self.cluster.emulator.place_call(
                from_=self.rng.choice(CASEWORKERS), to="+31850001000", script=CallerScript(digits=digits)))
            time.sleep(self.spread / self.count if n < self.count - 1 else 0)

    def placed(self) -> int:
        return len(self.calls)

    def in_flight(self) -> int:
        return sum(1 for c in list(self.calls) if not c.done)

    def wait_until_placed(self, n: int, timeout: float = 30) -> None:
        wait_until(lambda: self.placed() >= n, timeout=timeout, what=f"{n} calls placed")

    def wait_until_ended(self, timeout: float = 180) -> None:
        self._thread.join(timeout=60)
        try:
            wait_until(lambda: self.placed() == self.count and self.in_flight() == 0, timeout=timeout,
                       what="every call ended", every=0.5)
        except AssertionError as exc:  # say where the calls still running are
            stuck = [c for c in list(self.calls) if not c.done]
            raise AssertionError(f"{exc}; {len(stuck)} still running, the first: "
                                 f"{stuck[0].format() if stuck else '-'}\nits record: "
                                 f"{self._record_of(stuck[0].sid) if stuck else '-'}") from None
        finally:
            self._ended.set()

    def _record_of(self, sid: str) -> str:
        """The call's row and events in the record, for a failure's explanation."""
        try:
            with self.cluster.sessions() as session:
                row = session.scalars(select(CallRow).where(CallRow.sid == sid)).first()
                if row is None:
                    return "none"
                events = session.scalars(select(CallEventRow).where(CallEventRow.call_id == row.id)
                                         .order_by(CallEventRow.id))
                lines = [f"{row.state} liaison={row.liaison_id} org={row.organisation} offered={row.offered_at}"]
                lines += [f"  {e.at:%H:%M:%S.%f} {e.kind} {e.detail}" for e in events]
                return "\n".join(lines)
        except Exception as exc:  # noqa: BLE001 - only an explanation
            return f"unreadable: {exc}"

    def new_legs(self) -> list[CallHandle]:
        """Every leg the emulator saw since the traffic began: the calls, their dial legs, callback legs."""
        return [c for c in self.cluster.emulator.calls if c.sid not in self.before]

    def settle(self, timeout: float = 60) -> float:
        """Wait until every leg has ended and no liaison is busy or in wrap-up; returns the seconds it took."""
        started = time.monotonic()
        wait_until(lambda: all(c.done for c in self.new_legs()), timeout=timeout, what="every leg ended", every=0.5)
        try:
            wait_until(lambda: all(self.cluster.presence(code) not in ("busy", "wrap_up") for code in LIAISONS
                                   if code not in self.busy_before),
                       timeout=timeout, what="every liaison free again", every=0.5)
        except AssertionError:
            pass  # counted in liaisons_busy_after
        return time.monotonic() - started

    # the figures --------------------------------------------------------------------------------------------
    def figures(self, *, in_flight_at_fault: int = 0) -> Figures:
        fig = Figures(calls=len(self.calls), in_flight_at_fault=in_flight_at_fault)
        sids = [c.sid for c in self.calls]
        with self.cluster.sessions() as session:
            rows = {r.sid: r for r in session.scalars(select(CallRow).where(CallRow.sid.in_(sids)))}
            events: dict[int, list[str]] = defaultdict(list)
            timeline: dict[int, list[str]] = defaultdict(list)  # for a problem's explanation
            for event in session.scalars(select(CallEventRow).where(CallEventRow.call_id.in_([r.id for r in rows.values()]))):
                events[event.call_id].append(event.kind)
                timeline[event.call_id].append(f"{event.at:%H:%M:%S.%f} {event.kind} {event.detail}")
            callbacks = list(session.scalars(select(CallbackRow).where(CallbackRow.call_sid.in_(sids))))
            answered_rows = list(session.scalars(select(CallRow).where(CallRow.answered_at.is_not(None),
                                                                       CallRow.sid.in_(sids))))
        callback_by_call = {cb.call_sid: cb for cb in callbacks}
        id_of = {address: self.cluster.liaison_id(code) for address, code in self.addresses.items()}

        legs = self.new_legs()
        room_legs = _room_legs(legs)
        caller_of = {leg.sid: caller for caller, placed in room_legs.items() for leg in placed}
        timed_out: set[str] = set()
        for leg in legs:
            for event in leg.transcript:
                if event.kind in ("webhook", "status_callback"):
                    fig.webhooks += 1
                    seconds = float(event.data.get("seconds", 0.0))
                    if seconds > fig.longest_webhook_s:
                        fig.longest_webhook_s = seconds
                        fig.notes["longest_webhook"] = f"{event.data.get('kind')} {str(event['url']).split('?')[0]}"
                    if not 200 <= int(event["status"]) < 300:
                        fig.failed_webhooks += 1
                        if "timeout" in str(event.data.get("error", "")):
                            if event.kind == "webhook":
                                timed_out.add(leg.parent_sid or caller_of.get(leg.sid, leg.sid))
                        else:
                            fig.webhook_errors += 1
                        fig.problems.append(f"{leg.sid} t={event.t:.1f} {event.kind} {event.data.get('kind')} answered "
                                            f"{event['status']} {event.data.get('error', '')}".strip())
                if event.kind == "application_error":
                    fig.application_errors += 1
        fig.longest_webhook_s = round(fig.longest_webhook_s, 3)

        # One call, one liaison: never two conversations, never two liaison legs ringing at once.
        emulator_spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        talks_of = {call.sid: _talks(call, room_legs.get(call.sid, [])) for call in self.calls}
        for call in self.calls:
            talks = talks_of[call.sid]
            rung = call.children + room_legs.get(call.sid, [])
            ringing = [(c.transcript[0].t, c.transcript[-1].t) for c in rung if c.transcript]
            if len(talks) > 1 or _overlaps(ringing):
                fig.double_dials += 1
                fig.problems.append(f"{call.sid}: {len(talks)} conversations, {len(rung)} liaison legs")
                fig.problems.append(self._record_of(call.sid))
                fig.problems.append(call.format())
            for leg, start, end in talks:
                emulator_spans[leg.to].append((start, end))
        # Callback attempts: at most one call to the caseworker per completed attempt.
        for leg in legs:
            if leg.direction == "outbound-api" and leg.to in self.addresses:
                emulator_spans[leg.to].extend((e.t, max(x.t for x in leg.transcript)) for e in leg.events("bridged"))
        # In the record: from the moment the router offered the call to the liaison who answered it (the
        # service's clock; answered_at comes from a status report's Timestamp, whole seconds) to its end.
        sql_spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
        sql_rows: dict[int, list[CallRow]] = defaultdict(list)
        for row in answered_rows:
            if row.liaison_id is not None and row.answered_at is not None:
                start, end = row.offered_at or row.answered_at, row.ended_at or row.answered_at
                sql_spans[row.liaison_id].append((start.timestamp(), end.timestamp()))
                sql_rows[row.liaison_id].append(row)
        for where, spans_by in (("emulator", emulator_spans), ("sql", sql_spans)):
            for who, spans in spans_by.items():
                if overlap := _overlaps(spans):
                    fig.double_booked += overlap
                    fig.problems.append(f"{where}: liaison {who} had {overlap} overlapping conversations")
                    if where == "sql":  # which calls, and their times in the record, to explain it
                        for row in sorted(sql_rows[int(who)], key=lambda r: r.offered_at or r.answered_at):
                            fig.problems.append(f"  {row.sid}: offered {row.offered_at} answered {row.answered_at} "
                                                f"ended {row.ended_at} ({row.state})")
                            fig.problems.extend(f"    {line}" for line in sorted(timeline[row.id]))

        for call in self.calls:
            first = call.webhooks("voice")
            said_first = [e for e in call.events("say")][:1]
            # Accepted: the first webhook answered, and not with the apology (a call the record never had).
            accepted = bool(first) and first[0]["status"] == 200 and not (said_first and APOLOGY in said_first[0]["text"])
            fig.accepted += accepted
            row = rows.get(call.sid)
            said = " ".join(call.said())
            if len(talks_of[call.sid]) == 1:
                fig.answered += 1
            elif call.sid in callback_by_call:
                fig.called_back += 1
            elif APOLOGY in said:
                fig.told_apology += 1
            elif call.sid in timed_out:
                fig.timed_out += 1
            else:
                fig.other_end += 1
            if not accepted:
                continue
            lost = self._lost(call, row, events.get(row.id, []) if row else [], id_of, talks_of[call.sid])
            if lost:
                fig.lost += 1
                fig.problems.append(f"{call.sid}: {lost}")
                # what the caller and the liaison legs placed for them went through, and the record's events
                for leg in (call, *room_legs.get(call.sid, []), *call.children):
                    fig.problems.append(f"  leg {leg.sid} to {leg.to}:\n{leg.format()}")
                if row is not None:
                    fig.problems.extend(f"    {line}" for line in sorted(timeline[row.id]))
            # Picked up twice in the record is a double dial, unless the first pick-up never became a
            # conversation (hung up in the whisper, or its whisper webhook timed out) and the call went back.
            kinds = events.get(row.id, []) if row is not None else []
            if kinds.count(EventKind.ANSWERED) - kinds.count(EventKind.NOT_BRIDGED) > 1:
                fig.double_dials += 1
                fig.problems.append(f"{call.sid}: answered {kinds.count(EventKind.ANSWERED)} times in the record")
        spans = [(c.transcript[0].t, c.transcript[-1].t) for c in self.calls if c.transcript]
        moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        level = peak = 0
        for _, step in moments:
            level += step
            peak = max(peak, level)
        fig.notes["peak_simultaneous_calls"] = peak
        after = {code: self.cluster.presence(code) for code in LIAISONS if code not in self.busy_before}
        # Away: set so by the router when they picked up and the call never reached them (not bridged: on a
        # loaded machine their whisper webhook timed out), as designed; busy or in wrap-up for good is a leak.
        fig.liaisons_busy_after = sum(1 for status in after.values() if status in ("busy", "wrap_up"))
        if away := sorted({*self.came_back, *(code for code, status in after.items() if status == "away")}):
            fig.notes["set_away_after_a_pick_up_that_never_bridged"] = away
        if self.busy_before:
            fig.notes["busy_before"] = self.busy_before
        fig.notes["callbacks"] = {str(cb.id): cb.state for cb in callbacks}
        fig.notes["outcomes"] = dict(sorted(_count(str(r.outcome) for r in rows.values()).items()))
        return fig

    @staticmethod
    def _lost(call: CallHandle, row: CallRow | None, kinds: list[str], id_of: dict[str, int],
              talks: list[tuple[CallHandle, float, float]]) -> str:
        """Why an accepted call's record does not match what Twilio saw ("" when it does)."""
        if row is None:
            return "accepted by a webhook, but no call in the SQL record"
        if row.ended_at is None or row.outcome is None:
            return f"ended in the emulator ({call.status}), still {row.state} in the record"
        bridged_legs = [leg for leg, _, _ in talks]
        if bridged_legs:
            if row.outcome != "answered" or EventKind.ANSWERED not in kinds:
                return f"bridged in the emulator, outcome {row.outcome} in the record"
            if row.liaison_id != id_of.get(bridged_legs[0].to):
                return f"bridged to {bridged_legs[0].to}, recorded for liaison {row.liaison_id}"
        elif row.outcome == "answered":
            return "answered in the record, never bridged in the emulator"
        return ""


def _room_legs(legs: list[CallHandle]) -> dict[str, list[CallHandle]]:
    """The liaison legs the conference bridge placed by REST, by the caller's CallSid (the `call` parameter of the
    whisper URL the leg was created with); a <Dial> bridge places none (its legs are the call's children)."""
    placed: dict[str, list[CallHandle]] = defaultdict(list)
    for leg in legs:
        if leg.direction != "outbound-api" or not leg.url:
            continue
        query = parse_qs(urlsplit(leg.url).query)
        if query.get("via") == ["room"] and query.get("call"):
            placed[query["call"][0]].append(leg)
    return placed


def _talks(call: CallHandle, room_legs: list[CallHandle]) -> list[tuple[CallHandle, float, float]]:
    """The liaison legs that talked with the caller, from when to when (emulator time): a <Dial> leg that was
    bridged, or a leg placed into the call's room (`call-<CallSid>`) while it heard the caller there. A leg that
    joined the room when the caller was not (yet, or any more) in it talked to nobody: that is a pick-up that
    never bridged, which the service must send back in line, not a second conversation."""
    talks = []
    for leg in call.children:
        if bridged := leg.events("bridged"):
            end = max(e.t for e in leg.transcript if e.kind in ("unbridged", "hangup"))
            talks.append((leg, bridged[0].t, end))
    room = f"call-{call.sid}"
    for leg in room_legs:
        heard = [(e.t, call.sid in e.get("hears", [])) for e in leg.events("hearing") if e.get("conference") == room]
        started = [t for t, hears in heard if hears]
        if started:
            ended = [t for t, hears in heard if not hears and t >= started[0]] or [leg.transcript[-1].t]
            talks.append((leg, started[0], ended[0]))
    return talks


def _count(items: Any) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for item in items:
        counted[item] += 1
    return dict(counted)


def under_traffic(cluster: Cluster, inject: Callable[[], float | None], *, after_calls: int = 20) -> Figures:
    """Start the traffic, inject the fault once `after_calls` calls are placed (and a second more), let every
    call end and the liaisons come free; `inject` returns its time to recover (or None)."""
    cluster.ensure_running()
    traffic = Traffic(cluster).start()
    traffic.wait_until_placed(after_calls)
    time.sleep(1.0)
    in_flight = traffic.in_flight()
    at = cluster.emulator.engine.clock.now()
    recover = inject()
    traffic.wait_until_ended()
    traffic.settle()
    figures = traffic.figures(in_flight_at_fault=in_flight)
    figures.recover_s = None if recover is None else round(recover, 2)
    figures.notes["fault_at_emulator_t"] = round(at, 1)
    return figures
