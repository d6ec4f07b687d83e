"""The demo working day, planned: who calls when and about what, and how the liaisons work.

`plan_day` turns a day shape (demo/demo_day.yaml) and the directory into timed actions (callrouter/demo/day_plan.py).
It does no I/O and draws every choice from one seeded random generator, so a seed always gives the same day.
callrouter/demo/day_run.py plays the plan through the Twilio emulator.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from callrouter.demo.day_plan import Action, DayPlan, PhoneChange, PlannedCall, PresenceChange
from callrouter.demo.day_shape import DayShape, DayShapeInvalid, load_shape, shape_from
from callrouter.domain import ivr
from callrouter.domain.directory import Caseworker, Liaison, LineKind, Organisation

if TYPE_CHECKING:
    from callrouter.adapters.sql.directory_repository import DirectorySnapshot

__all__ = ["Action", "DayPlan", "DayShape", "DayShapeInvalid", "PhoneChange", "PlannedCall", "PresenceChange",
           "load_shape", "plan_day", "shape_from"]


# -- the plan ------------------------------------------------------------------------------------

@dataclass
class _Planner:
    shape: DayShape
    directory: DirectorySnapshot
    flows: Mapping[str, ivr.Flow]
    day: date
    zone: ZoneInfo
    rng: random.Random
    shifts: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)  # liaison id -> on duty

    def at(self, moment: time, *, minutes: float = 0) -> datetime:
        local = datetime.combine(self.day, moment, tzinfo=self.zone) + timedelta(minutes=minutes)
        return local.astimezone(UTC)

    def liaisons_of(self, org: str) -> list[Liaison]:
        return sorted((li for li in self.directory.liaisons.values() if li.organisation == org), key=lambda li: li.code)

    def staffed(self, org: str, moment: datetime) -> bool:
        return any(start <= moment < end for li in self.liaisons_of(org) for start, end in self.shifts.get(li.id, ()))


def plan_day(*, shape: DayShape, directory: DirectorySnapshot, flows: Mapping[str, ivr.Flow], day: date, calls: int,
             seed: int, zone: ZoneInfo) -> DayPlan:
    """The day's calls, liaison presence and phone behaviour; the same inputs always give the same plan."""
    if calls < 0:
        raise ValueError("calls: must not be negative")
    planner = _Planner(shape, directory, flows, day, zone, random.Random(seed))
    presence, phones = _liaison_day(planner)
    planned = _calls(planner, _arrivals(planner, calls))
    caseworker_phones = tuple(sorted({cw.phone_numbers[0] for cw in directory.caseworkers_by_id.values()
                                      if cw.phone_numbers}))
    return DayPlan(day=day, clock_start=planner.at(shape.clock_start), end=planner.at(shape.off_duty),
                   calls=tuple(planned), presence=tuple(presence), phones=tuple(phones),
                   caseworker_phones=caseworker_phones)


def _liaison_day(p: _Planner) -> tuple[list[PresenceChange], list[PhoneChange]]:
    """Shifts: on duty at the organisation's hour (every second liaison half an hour later), lunch in
    turns, home at the end; a few leave their desk without saying so (their phone rings out)."""
    shape, presence, phones = p.shape, [], []
    off = p.at(shape.off_duty)
    for org in sorted(p.directory.organisations):
        on_duty = shape.organisations[org].on_duty if org in shape.organisations else time(9, 0)
        for i, li in enumerate(p.liaisons_of(org)):
            start = p.at(on_duty, minutes=30 * (i % 2))
            phone = (li.address, p.rng.uniform(*shape.answer_after_seconds))
            phones.append(PhoneChange(start, phone[0], "answer", phone[1], p.rng.uniform(*shape.talk_seconds)))
            presence.append(PresenceChange(start, li.id, li.code, "available"))
            spans = [(start, off)]
            if shape.lunch:
                lunch = p.at(shape.lunch[i % len(shape.lunch)])
                back = lunch + timedelta(minutes=shape.lunch_minutes)
                presence += [PresenceChange(lunch, li.id, li.code, "away"),
                             PresenceChange(back, li.id, li.code, "available")]
                phones.append(PhoneChange(back, phone[0], "answer", phone[1], p.rng.uniform(*shape.talk_seconds)))
                spans = [(start, lunch), (back, off)]
            presence.append(PresenceChange(off, li.id, li.code, "offline"))
            p.shifts[li.id] = spans
    candidates = sorted((li for li in p.directory.liaisons.values() if len(p.liaisons_of(li.organisation)) > 1),
                        key=lambda li: li.code)
    for li in p.rng.sample(candidates, min(shape.missed_calls, len(candidates))):
        # away from the desk for a while, in the morning or the afternoon (not over lunch)
        gone = p.at(time(10, 0) if p.rng.random() < 0.5 else time(14, 0), minutes=p.rng.uniform(0, 90))
        back = gone + timedelta(minutes=p.rng.uniform(*shape.missed_minutes))
        phones += [PhoneChange(gone, li.address, "no-answer", 0, 0),
                   PhoneChange(back, li.address, "answer", p.rng.uniform(*shape.answer_after_seconds),
                               p.rng.uniform(*shape.talk_seconds))]
        presence.append(PresenceChange(back, li.id, li.code, "available"))  # back: the router had set them away
    return presence, phones


def _arrivals(p: _Planner, calls: int) -> list[datetime]:
    """Arrival moments: calls shared over the hours by weight (largest remainder), uniform within an hour."""
    first, last = p.at(p.shape.first_arrival), p.at(p.shape.last_arrival)
    windows: dict[int, tuple[datetime, datetime]] = {}
    for hour, weight in sorted(p.shape.arrivals_by_hour.items()):
        start, end = max(p.at(time(hour)), first), min(p.at(time(hour)) + timedelta(hours=1), last)
        if weight > 0 and start < end:
            windows[hour] = (start, end)
    if not windows:
        raise DayShapeInvalid("arrivals_by_hour: no hour with weight lies between first_arrival and last_arrival")
    total = sum(p.shape.arrivals_by_hour[h] for h in windows)
    exact = {h: calls * p.shape.arrivals_by_hour[h] / total for h in windows}
    counts = {h: int(v) for h, v in exact.items()}
    for h in sorted(windows, key=lambda h: (counts[h] - exact[h], h))[: calls - sum(counts.values())]:
        counts[h] += 1
    moments = []
    for hour, (start, end) in windows.items():
        seconds = (end - start).total_seconds()
        moments += [start + timedelta(seconds=round(p.rng.uniform(0, seconds), 3)) for _ in range(counts[hour])]
    return sorted(moments)


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    codes = sorted(code for code, weight in weights.items() if weight > 0)
    return rng.choices(codes, weights=[weights[c] for c in codes])[0]


def _calls(p: _Planner, arrivals: list[datetime]) -> list[PlannedCall]:
    shape, d = p.shape, p.directory
    professional = sorted((line for line in d.lines.values() if line.kind == LineKind.PROFESSIONAL),
                          key=lambda line: line.number)
    citizen_lines = {line.organisations[0]: line.number for line in d.lines.values()
                     if line.kind == LineKind.CITIZEN and len(line.organisations) == 1}
    caseworkers = sorted((cw for cw in d.caseworkers_by_id.values() if cw.phone_numbers), key=lambda cw: cw.code)
    weights = {code: o.weight for code, o in shape.organisations.items() if code in d.organisations}
    planned: list[PlannedCall] = []
    recent: list[tuple[PlannedCall, Caseworker]] = []  # professional calls that may get a follow-up
    busy_until: dict[int, datetime] = {}
    for at in arrivals:
        staffed = {code: w for code, w in weights.items() if p.staffed(code, at)} or weights
        follow = _follow_up(p, at, recent, staffed)
        if follow is not None:
            call, caseworker = follow
        elif professional and caseworkers and p.rng.random() >= shape.citizen_share:
            call, caseworker = _professional(p, at, professional[0].number, caseworkers, staffed, busy_until)
        else:
            open_lines = {code: w for code, w in staffed.items() if code in citizen_lines}
            if not open_lines:
                continue
            org = _weighted(p.rng, open_lines)
            call, caseworker = _citizen(p, at, citizen_lines[org], d.organisations[org]), None
        planned.append(call)
        if caseworker is not None:
            busy_until[caseworker.id] = at + timedelta(minutes=10)
            if not call.follow_up:
                recent.append((call, caseworker))
    return planned


def _professional(p: _Planner, at: datetime, line: str, caseworkers: list[Caseworker], staffed: Mapping[str, float],
                  busy_until: Mapping[int, datetime]) -> tuple[PlannedCall, Caseworker]:
    free = [cw for cw in caseworkers if busy_until.get(cw.id, at) <= at] or caseworkers
    caseworker = p.rng.choice(free)
    reachable = {c: w for c, w in staffed.items() if c in p.directory.locations[caseworker.location].organisations}
    org = _weighted(p.rng, reachable or staffed)
    return _professional_call(p, at, line, caseworker, p.directory.organisations[org]), caseworker


def _follow_up(p: _Planner, at: datetime, recent: list[tuple[PlannedCall, Caseworker]],
               staffed: Mapping[str, float]) -> tuple[PlannedCall, Caseworker] | None:
    """Sometimes a question needs a second organisation: the same caseworker calls it a few minutes later."""
    low, high = (timedelta(minutes=m) for m in p.shape.follow_up_after_minutes)
    eligible = [(call, cw) for call, cw in recent if low <= at - call.at <= high]
    if not eligible or p.rng.random() >= p.shape.follow_up_share:
        return None
    first, caseworker = eligible[0]
    recent.remove((first, caseworker))
    others = {c: w for c, w in staffed.items()
              if c != first.organisation and c in p.directory.locations[caseworker.location].organisations}
    if not others:
        return None
    org = p.directory.organisations[_weighted(p.rng, others)]
    call = _professional_call(p, at, first.line, caseworker, org, case_reference=first.case_reference)
    return replace(call, follow_up=True), caseworker


def _professional_call(p: _Planner, at: datetime, line: str, caseworker: Caseworker, org: Organisation, *,
                       case_reference: str | None = None) -> PlannedCall:
    """A caseworker's call: the case number if the flow asks (a follow-up keys the first call's), the
    organisation and topic menus, and perhaps hold turns and key 1 for a callback."""
    flow = p.flows[LineKind.PROFESSIONAL.value]
    if case_reference is None and p.rng.random() < p.shape.case_reference_share:
        case_reference = f"{p.rng.randrange(10**5, 10**7)}"  # the counter's own number: 6-7 digits, never a BSN
    case_keys = [f"{case_reference or ''}#"] if flow.case_reference else []
    scope = p.directory.lines[line].organisations
    choices = [ivr.Choice(code, p.directory.organisations[code].name)
               for code in p.directory.locations[caseworker.location].organisations
               if code in p.directory.organisations and (not scope or code in scope)]
    keys: list[str | None] = [*_slip(p), *menu_keys(flow, "organisation", choices, org.code)] if len(choices) > 1 else []
    topic, topic_keys = _topic(p, flow, org)
    asks = p.rng.random() < p.shape.callback_share
    turns = p.rng.randint(*p.shape.callback_after_turns) if asks else 0
    digits = (*case_keys, *keys, *topic_keys, *((None,) * turns + ("1", "1") if asks else ()))
    return PlannedCall(at=at, caller=caseworker.phone_numbers[0], line=line, organisation=org.code, topic=topic,
                       digits=digits, patience_seconds=_patience(p), asks_callback=asks,
                       record_seconds=(3.0,) if asks else (), case_reference=case_reference)


WRONG_KEY = "8"  # no menu has an 8: at most four options (UX.md), 9 is the language key


def _slip(p: _Planner) -> list[str | None]:
    """Before a menu's keys, perhaps a slip as callers make them: `*` to hear it again, nothing, a wrong key."""
    draw, edge = p.rng.random(), 0.0
    for kind, key in (("repeat", "*"), ("silence", None), ("wrong", WRONG_KEY)):
        edge += p.shape.menu_slips.get(kind, 0.0)
        if draw < edge:
            return [key]
    return []


def _citizen(p: _Planner, at: datetime, line: str, org: Organisation) -> PlannedCall:
    topic, keys = _topic(p, p.flows[LineKind.CITIZEN.value], org)
    caller = f"+3161{p.rng.randrange(10**7):07d}"  # fictional mobile numbers
    return PlannedCall(at=at, caller=caller, line=line, organisation=org.code, topic=topic, digits=tuple(keys),
                       patience_seconds=_patience(p), asks_callback=False)


def _topic(p: _Planner, flow: ivr.Flow, org: Organisation) -> tuple[str, list[str | None]]:
    if not org.topics:
        return "*", []
    shaped = p.shape.organisations.get(org.code)
    weights = {t.code: (shaped.topics.get(t.code, 1.0) if shaped else 1.0) for t in org.topics}
    topic = _weighted(p.rng, weights)
    if len(org.topics) == 1:
        return topic, []
    slip = _slip(p)
    if p.rng.random() < p.shape.person_share:  # 0: any liaison of the organisation, no topic
        return "*", [*slip, "0"]
    return topic, [*slip, *menu_keys(flow, "topic", [ivr.Choice(t.code, t.name_nl) for t in org.topics], topic)]


def _patience(p: _Planner) -> float:
    span = p.shape.impatient_seconds if p.rng.random() < p.shape.impatient_share else p.shape.patient_seconds
    return round(p.rng.uniform(*span), 1)


def menu_keys(flow: ivr.Flow, step: str, choices: list[ivr.Choice], code: str) -> list[str]:
    """The keys a caller presses to reach `code` in a menu, paging with the 'more' key as needed."""
    keys: list[str] = []
    for page in range(len(choices)):
        menu = ivr.build_menu(flow=flow, step=step, choices=choices, page=page)
        for key, choice in menu.options:
            if choice.code == code:
                return [*keys, key]
        if menu.more_key is None:
            break
        keys.append(menu.more_key)
    raise ValueError(f"{code!r} is not in the {step} menu")
