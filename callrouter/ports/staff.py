"""Ports of the staff side (accounts, outcomes, console queries); SQL adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callrouter.domain.staff import Account, ConversationOutcome, ConversationResult, Grant


@dataclass(frozen=True)
class CallSummary:
    """A call as the console shows it: names resolved, no phone numbers."""

    sid: str
    state: str
    organisation: str | None
    topic: str | None
    location_name: str | None
    caseworker_name: str | None
    liaison_id: int | None
    received_at: datetime
    queued_at: datetime | None
    offered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    callback_id: int | None = None  # the row of a callback's conversation

    @property
    def waited_seconds(self) -> float | None:
        if self.queued_at is None:
            return None
        until = self.offered_at or self.ended_at
        return (until - self.queued_at).total_seconds() if until else None


@dataclass(frozen=True)
class Audio:
    content: bytes
    media_type: str


class VoiceMessages(Protocol):
    """A callback's voice message, fetched from Twilio with the account's credentials (the browser never gets
    Twilio's media URL)."""

    def audio(self, recording_url: str) -> Audio | None:
        """The recording's audio, or None when it is not one of this account's recordings or Twilio no longer
        has it (deleted by the retention job, or never finished)."""
        ...


class StaffAccounts(Protocol):
    def record_login(self, *, issuer: str, subject: str, display_name: str | None, at: datetime) -> Account: ...
    def get(self, account_id: int) -> Account | None: ...
    def find(self, *, issuer: str, subject: str) -> Account | None: ...
    def grant(self, *, issuer: str, subject: str, grant: Grant, by: str, at: datetime) -> Account: ...
    def revoke(self, *, issuer: str, subject: str, grant: Grant) -> bool: ...
    def all(self) -> list[Account]: ...


class Outcomes(Protocol):
    def get(self, call_sid: str) -> ConversationOutcome | None: ...
    def save(self, *, call_sid: str, liaison_id: int, result: ConversationResult, referred_organisation: str | None,
             note: str, at: datetime, by: int, expect_revision: int | None = None) -> ConversationOutcome:
        """Raises OutcomeChanged when `expect_revision` (0: none yet) is not the current one; writes nothing then."""
        ...


class CallQueries(Protocol):
    def call(self, sid: str) -> CallSummary | None: ...
    def calls_of_liaison(self, liaison_id: int, *, limit: int = 20) -> list[CallSummary]: ...
    def without_outcome(self, liaison_id: int, *, since: datetime, limit: int = 50) -> list[CallSummary]:
        """This liaison's conversations (answered calls, callback conversations) that ended since `since` and
        have no recorded outcome, newest first."""
        ...
