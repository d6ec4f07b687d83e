"""The settings that shape callbacks, as the services see them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallbackPolicy:
    max_attempts: int = 3
    retry_delay_seconds: int = 300
    expiry_hours: int = 48
    offer_after_seconds: int = 120  # offer a callback once the expected wait passes this
    postpone_seconds: int = 900
    auto_after_abandon_seconds: int | None = None  # a callback after a long wait that ended in a hang-up
