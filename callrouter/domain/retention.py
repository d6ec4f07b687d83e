"""What personal data the service keeps, why, and for how long: the register behind the retention job.

Pure: the categories, their purpose and period, and the moment before which each must be gone. The
job (callrouter.services.retention) enforces it; docs/privacy.md is this table in words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Category(enum.StrEnum):
    CALLBACK_NUMBER = "callback_number"
    VOICE_MESSAGE = "voice_message"
    CONVERSATION_NOTE = "conversation_note"
    CALL_RECORD = "call_record"
    AUDIT_LOG = "audit_log"


@dataclass(frozen=True)
class Rule:
    category: Category
    where: str
    purpose: str
    counted_from: str
    action: str


RULES: tuple[Rule, ...] = (
    Rule(Category.CALLBACK_NUMBER, "callbacks.phone_number",
         "to call the caseworker back", "the callback closed (completed, failed, cancelled, expired)",
         "replaced by the masked number (+316******78)"),
    Rule(Category.VOICE_MESSAGE, "callbacks.voice_message_url and the recording at Twilio",
         "the liaison hears the question before the callback", "the callback closed",
         "recording deleted at Twilio, link cleared"),
    Rule(Category.CONVERSATION_NOTE, "conversation_outcomes.note",
         "the liaison's follow-up of a conversation", "the outcome was recorded",
         "note emptied (the outcome itself stays with the call record)"),
    Rule(Category.CALL_RECORD, "calls, call_events, conversation_outcomes, closed callbacks and their events, "
                               "cases (with their case-reference pseudonym) once no call is left in them",
         "drill-down behind the figures, complaints, audit", "the call arrived",
         "deleted; the 15-minute rollups keep the counts, which hold no personal data"),
    Rule(Category.AUDIT_LOG, "staff_audit_log (staff account, moment, call page / drill-down / export and its filters)",
         "accountability: who looked at which calls (AVG art. 5(2), 32; BIO logging)", "the page was opened",
         "deleted"),
)


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each category is kept after the moment it is counted from (settings CALLROUTER_RETENTION_*)."""

    callback_number_days: int = 7
    voice_message_days: int = 7
    conversation_note_days: int = 90
    call_record_days: int = 400
    audit_log_days: int = 730

    def __post_init__(self) -> None:
        for name, days in self.days().items():
            if days < 1:
                raise ValueError(f"retention for {name} must be at least 1 day, not {days}")
        if self.call_record_days < max(self.callback_number_days, self.voice_message_days, self.conversation_note_days):
            raise ValueError("call records must be kept at least as long as the data attached to them")

    def days(self) -> dict[Category, int]:
        return {Category.CALLBACK_NUMBER: self.callback_number_days, Category.VOICE_MESSAGE: self.voice_message_days,
                Category.CONVERSATION_NOTE: self.conversation_note_days, Category.CALL_RECORD: self.call_record_days,
                Category.AUDIT_LOG: self.audit_log_days}

    def cutoffs(self, now: datetime) -> dict[Category, datetime]:
        """Per category: data counted from before this moment is due for its action."""
        return {category: now - timedelta(days=days) for category, days in self.days().items()}


def recording_sid(url: str) -> str | None:
    """The RE… sid at the end of a Twilio recording URL (…/Recordings/RE…[.wav|.mp3|.json]); None if it is not one."""
    last = url.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    return last if last.startswith("RE") and len(last) == 34 and last[2:].isalnum() else None
