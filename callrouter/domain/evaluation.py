"""Whether a conversation worked: the liaison's recorded result and the caseworker's verdict, from the event log.

A **conversation** is a call a liaison answered, or a callback whose caller was reached (its own call row,
marked by a `callback_conversation` event). The liaison records its result in the console (an
`outcome_recorded` event per recording or change; the last one counts). On a line with the verdict
question, the caseworker hears once, after the liaison has left: "Is uw vraag beantwoord? Toets 1 voor ja,
2 voor deels, 3 voor nee." (`verdict_asked`), and a key 1-3 is their verdict (`verdict`). Silence, a
hang-up or another key records nothing, and the question is never asked twice.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from callrouter.domain.staff import ConversationResult

CALLBACK_CONVERSATION = "callback_conversation"
OUTCOME_RECORDED = "outcome_recorded"
VERDICT_ASKED = "verdict_asked"
VERDICT = "verdict"

Event = tuple[str, datetime, Mapping[str, object]]


class Verdict(enum.StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


VERDICT_KEYS: dict[str, Verdict] = {"1": Verdict.YES, "2": Verdict.PARTLY, "3": Verdict.NO}
_VERDICT_VALUES = frozenset(v.value for v in Verdict)
VERDICT_NAMES_NL: dict[str, str] = {Verdict.YES: "Ja", Verdict.PARTLY: "Deels", Verdict.NO: "Nee"}
# The results a liaison records, in the order shown.
RESULTS = tuple(result.value for result in ConversationResult)


def read_verdict(digits: str | None) -> Verdict | None:
    """The caseworker's key: 1, 2 or 3; anything else (silence, another key, several keys) is no verdict."""
    return VERDICT_KEYS.get((digits or "").strip())


@dataclass(frozen=True)
class Evaluation:
    """What one call contributes to the evaluation figures."""

    callback_conversation: bool = False  # the row of a callback's conversation, not a call that arrived
    result: str | None = None  # the liaison's last recorded result (a RESULTS value)
    referred_organisation: str | None = None
    verdict_asked: bool = False
    verdict: Verdict | None = None


def evaluation(events: Iterable[Event]) -> Evaluation:
    """Read from the events in any order: the last recording (by time, then revision) is the result."""
    result: tuple[datetime, int, str, str | None] | None = None
    asked = callback = False
    verdict: tuple[datetime, Verdict] | None = None
    for kind, at, detail in events:
        if kind == CALLBACK_CONVERSATION:
            callback = True
        elif kind == VERDICT_ASKED:
            asked = True
        elif kind == VERDICT:
            answer = detail.get("answer")
            if isinstance(answer, str) and answer in _VERDICT_VALUES and (verdict is None or at < verdict[0]):
                verdict = (at, Verdict(answer))
        elif kind == OUTCOME_RECORDED:
            chosen = detail.get("result")
            revision = detail.get("revision")
            referred = detail.get("referred_organisation")
            if not isinstance(chosen, str) or chosen not in RESULTS:
                continue
            key = (at, revision if isinstance(revision, int) else 0)
            if result is None or key > result[:2]:
                result = (*key, chosen, referred if isinstance(referred, str) else None)
    return Evaluation(callback_conversation=callback, result=result[2] if result else None,
                      referred_organisation=result[3] if result else None,
                      verdict_asked=asked or verdict is not None, verdict=verdict[1] if verdict else None)
