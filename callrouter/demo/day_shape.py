"""The shape of a demo working day (demo/demo_day.yaml): arrivals by hour, the organisation and topic mix,
caller behaviour and liaison shifts, checked at load with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

Range = tuple[float, float]


class DayShapeInvalid(ValueError):
    """The day shape file has a missing or bad value; names the field."""


@dataclass(frozen=True)
class OrgShape:
    weight: float
    on_duty: time
    topics: Mapping[str, float]


@dataclass(frozen=True)
class DayShape:
    clock_start: time
    first_arrival: time
    last_arrival: time
    arrivals_by_hour: Mapping[int, float]
    citizen_share: float
    organisations: Mapping[str, OrgShape]
    callback_share: float
    callback_after_turns: tuple[int, int]
    impatient_share: float
    impatient_seconds: Range
    patient_seconds: Range
    follow_up_share: float
    follow_up_after_minutes: Range
    case_reference_share: float
    answer_after_seconds: Range
    talk_seconds: Range
    lunch: tuple[time, ...]
    lunch_minutes: int
    off_duty: time
    missed_calls: int
    missed_minutes: Range
    # Of the menus a caller answers: shares that first press * (repeat), press nothing, or a wrong key.
    menu_slips: Mapping[str, float] = field(default_factory=dict)
    person_share: float = 0.0  # callers who press 0 in the topic menu (any liaison) instead of a topic


def load_shape(path: Path) -> DayShape:
    import yaml

    return shape_from(yaml.safe_load(path.read_text()) or {})


def shape_from(data: Mapping[str, Any]) -> DayShape:
    callers, liaisons = data.get("callers") or {}, data.get("liaisons") or {}
    organisations = {str(code): OrgShape(weight=_number(o, "weight", f"organisations.{code}.weight"),
                                         on_duty=_time(o.get("on_duty", "09:00"), f"organisations.{code}.on_duty"),
                                         topics={str(k): float(v) for k, v in (o.get("topics") or {}).items()})
                     for code, o in (data.get("organisations") or {}).items()}
    if not organisations or not any(o.weight > 0 for o in organisations.values()):
        raise DayShapeInvalid("organisations: at least one organisation with a weight above 0 is needed")
    hours = {int(h): float(w) for h, w in (data.get("arrivals_by_hour") or {}).items()}
    if not hours or any(not 0 <= h <= 23 or w < 0 for h, w in hours.items()) or sum(hours.values()) <= 0:
        raise DayShapeInvalid("arrivals_by_hour: hours 0-23 with weights >= 0, not all 0")
    return DayShape(
        clock_start=_time(data.get("clock_start", "07:55"), "clock_start"),
        first_arrival=_time(data.get("first_arrival", "08:00"), "first_arrival"),
        last_arrival=_time(data.get("last_arrival", "17:00"), "last_arrival"),
        arrivals_by_hour=hours, citizen_share=_share(data, "citizen_share"), organisations=organisations,
        callback_share=_share(callers, "callback_share"),
        callback_after_turns=tuple(int(v) for v in _range(callers, "callback_after_turns")),  # type: ignore[arg-type]
        impatient_share=_share(callers, "impatient_share"),
        impatient_seconds=_range(callers, "impatient_seconds"), patient_seconds=_range(callers, "patient_seconds"),
        follow_up_share=_share(callers, "follow_up_share"),
        follow_up_after_minutes=_range(callers, "follow_up_after_minutes"),
        case_reference_share=_share(callers, "case_reference_share"),
        answer_after_seconds=_range(liaisons, "answer_after_seconds"), talk_seconds=_range(liaisons, "talk_seconds"),
        lunch=tuple(_time(t, "liaisons.lunch") for t in liaisons.get("lunch") or ()),
        lunch_minutes=int(liaisons.get("lunch_minutes", 30)),
        off_duty=_time(liaisons.get("off_duty", "17:00"), "liaisons.off_duty"),
        missed_calls=int(liaisons.get("missed_calls", 0)), missed_minutes=_range(liaisons, "missed_minutes"),
        menu_slips=_slips(callers.get("menu_slips") or {}), person_share=_share(callers, "person_share"),
    )


MENU_SLIPS = ("repeat", "silence", "wrong")


def _slips(data: Mapping[str, Any]) -> dict[str, float]:
    unknown = set(data) - set(MENU_SLIPS)
    if unknown:
        raise DayShapeInvalid(f"callers.menu_slips: unknown {sorted(unknown)} (known: {', '.join(MENU_SLIPS)})")
    slips = {kind: _share(data, kind) for kind in MENU_SLIPS}
    if sum(slips.values()) > 1:
        raise DayShapeInvalid("callers.menu_slips: the shares add up to more than 1")
    return slips


def _time(value: object, name: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DayShapeInvalid(f"{name}: {value!r} is not a time (HH:MM)") from None


def _number(data: Mapping[str, Any], key: str, name: str) -> float:
    try:
        value = float(data[key])
    except (KeyError, TypeError, ValueError):
        raise DayShapeInvalid(f"{name}: a number is needed") from None
    if value < 0:
        raise DayShapeInvalid(f"{name}: must not be negative")
    return value


def _share(data: Mapping[str, Any], key: str) -> float:
    value = _number({key: data.get(key, 0)}, key, key)
    if value > 1:
        raise DayShapeInvalid(f"{key}: a share between 0 and 1 is needed")
    return value


def _range(data: Mapping[str, Any], key: str) -> Range:
    value = data.get(key, (0, 0))
    if not isinstance(value, Sequence) or len(value) != 2 or float(value[0]) > float(value[1]) or float(value[0]) < 0:
        raise DayShapeInvalid(f"{key}: [low, high] with 0 <= low <= high is needed")
    return float(value[0]), float(value[1])
