"""Configuration of one emulated Twilio account: credentials, phone numbers, speed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WALL_CLOCKS = ("simulated", "real")


@dataclass(frozen=True)
class NumberConfig:
    """The voice settings of one incoming phone number, as in the Twilio console."""

    voice_url: str
    status_callback_url: str | None = None
    status_callback_events: tuple[str, ...] = ("completed",)
    voice_method: str = "POST"
    status_callback_method: str = "POST"


@dataclass
class EmulatorConfig:
    account_sid: str
    auth_token: str
    numbers: Mapping[str, NumberConfig] = field(default_factory=dict)
    # Simulated seconds per real second: 50 makes a 20 s Dial timeout last 0.4 s.
    time_scale: float = 1.0
    # How long <Say> takes, per character of text (simulated seconds).
    say_seconds_per_char: float = 0.05
    # How long one loop of <Play> takes (simulated seconds); the emulator fetches no audio.
    play_seconds: float = 3.0
    # Time a caller needs to press one key (simulated seconds).
    digit_seconds: float = 0.2
    # Twilio gives up on a webhook after 15 s; this is real time, not scaled.
    webhook_timeout: float = 15.0
    duplicate_status_callbacks: bool = False
    reorder_status_callbacks: bool = False
    # Fault: deliver every status callback this many simulated seconds after its event (still in
    # order per leg); its Timestamp stays the moment of the event, as with a late Twilio delivery.
    status_callback_delay: float = 0.0
    # The wall clock of the dates the emulator writes (status callback Timestamp, REST dates):
    # "simulated" runs time_scale times as fast as real time from the moment the emulator starts,
    # like the transcript; "real" is the machine's clock, for an application that runs on real time.
    wall_clock: str = "simulated"
    # Fault: answer a REST call create this many real seconds late (the call is placed at once),
    # so a test can kill the client while its request is in flight.
    rest_create_delay: float = 0.0
    # Twilio starts calls created through the REST API (Calls and conference Participants) at most this many per
    # second (simulated), queueing the rest: "By default, each Twilio account can make 1 outgoing call per-second
    # (CPS)"; the limit can be raised. None or 0: no pacing.
    calls_per_second: float | None = 1.0

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.wall_clock not in WALL_CLOCKS:
            raise ValueError(f"wall_clock must be one of {WALL_CLOCKS}, not {self.wall_clock!r}")
        if self.calls_per_second is not None and self.calls_per_second < 0:
            raise ValueError("calls_per_second must not be negative")
        if self.status_callback_delay < 0:
            raise ValueError("status_callback_delay must not be negative")
        self.numbers = {num: _number(cfg) for num, cfg in dict(self.numbers).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmulatorConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def from_file(cls, path: str | Path) -> EmulatorConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _number(cfg: NumberConfig | Mapping[str, Any]) -> NumberConfig:
    if isinstance(cfg, NumberConfig):
        return cfg
    data = dict(cfg)
    if "status_callback_events" in data:
        data["status_callback_events"] = tuple(data["status_callback_events"])
    return NumberConfig(**data)
