"""The demo day's evaluation: caseworkers who answer the question after the conversation, and liaisons who
record each conversation's result during wrap-up (a fixed mix, some referrals).

Kept apart from the plan (callrouter/demo/day.py) so the seeded day stays the same: every choice here is
drawn from the call itself (its caller and moment, or its place in the day), not from the plan's generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callrouter.domain.staff import ConversationResult
from twilio_emulator.calls import Event
from twilio_emulator.people import CallerScript

# Per ten caseworkers asked: 3 stay silent, 5 say yes, 1 partly, 1 no.
VERDICT_KEYS = (None, None, None, "1", "1", "1", "1", "1", "2", "3")
# Per ten conversations, in the order they ended: the result the liaison records (None: forgets to).
RESULTS: tuple[ConversationResult | None, ...] = (
    ConversationResult.RESOLVED, ConversationResult.RESOLVED, ConversationResult.FOLLOW_UP,
    ConversationResult.REFERRED, ConversationResult.RESOLVED, ConversationResult.NOT_FOR_US,
    ConversationResult.RESOLVED, None, ConversationResult.FOLLOW_UP, ConversationResult.REFERRED)
RECORDED_AFTER = timedelta(seconds=40)  # of wrap-up, in virtual time


def verdict_key(*, caller: str, at: datetime) -> str | None:
    """The key this caller presses after the conversation (None: silent), the same for the same call."""
    digest = hashlib.sha256(f"{caller}|{at.isoformat()}".encode()).digest()
    return VERDICT_KEYS[digest[0] % len(VERDICT_KEYS)]


@dataclass
class CaseworkerScript(CallerScript):
    """A caller of the demo day: the planned keys for the menus and the hold, and, once the liaison has hung up
    (a gather after the bridge can only be the question after the conversation), the verdict key."""

    verdict: str | None = None
    _asked: bool = field(default=False, init=False, repr=False)

    def next_gather_input(self) -> str | None:
        seen: list[Event] = getattr(self.hangup_when, "transcript", None) or []
        if not self._asked and any(_talked(event) for event in seen):
            self._asked = True
            return self.verdict
        return super().next_gather_input()


def _talked(event: Event) -> bool:
    """The caller was with a liaison: bridged by <Dial>, or hearing someone in the conference room."""
    return event.kind == "bridged" or (event.kind == "hearing" and bool(event.get("with")))


def result_for(index: int) -> ConversationResult | None:
    return RESULTS[index % len(RESULTS)]


def referred_to(organisation: str, organisations: list[str], index: int) -> str | None:
    others = sorted(code for code in organisations if code != organisation)
    return others[index % len(others)] if others else None
