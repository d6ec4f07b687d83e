"""The retention job: personal data goes when its period in callrouter.domain.retention has passed.

Run by the cron worker (workers/retention_jobs.py) every hour and by `callrouter retention run`.
Safe to run in several processes at once and to stop halfway: every step selects what is due now
and changes each row with a compare-and-set, so a second run finds nothing left to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from callrouter.domain.retention import Category, RetentionPolicy, recording_sid
from callrouter.ports.calls import Clock

log = logging.getLogger("callrouter.retention")
RECORDINGS_PER_RUN = 500


class RetentionStore(Protocol):
    def mask_callback_numbers(self, cutoff: datetime, *, dry_run: bool = False) -> int: ...
    def voice_messages_due(self, cutoff: datetime, *, limit: int) -> list[tuple[int, str]]: ...
    def clear_voice_message(self, callback_id: int, url: str) -> bool: ...
    def empty_notes(self, cutoff: datetime, *, dry_run: bool = False) -> int: ...
    def delete_call_records(self, cutoff: datetime, *, dry_run: bool = False) -> tuple[int, int, int]: ...
    def open_calls_before(self, cutoff: datetime) -> int: ...
    def delete_audit_entries(self, cutoff: datetime, *, dry_run: bool = False) -> int: ...


class Recordings(Protocol):
    def delete_recording(self, sid: str) -> bool: ...


@dataclass(frozen=True)
class RetentionDeps:
    store: RetentionStore
    recordings: Recordings
    clock: Clock
    policy: RetentionPolicy = field(default_factory=RetentionPolicy)


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    callback_numbers_masked: int = 0
    voice_messages_deleted: int = 0
    voice_messages_failed: int = 0
    notes_emptied: int = 0
    calls_deleted: int = 0
    callbacks_deleted: int = 0
    cases_deleted: int = 0
    open_calls_kept: int = 0
    audit_entries_deleted: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return dict(self.__dict__)


def _voice_messages(deps: RetentionDeps, cutoff: datetime, *, dry_run: bool) -> tuple[int, int]:
    """Delete each due recording at Twilio first, then clear its link: a failure keeps the link, so
    the next run tries again and no recording is ever orphaned."""
    due = deps.store.voice_messages_due(cutoff, limit=RECORDINGS_PER_RUN)
    if dry_run:
        return len(due), 0
    deleted = failed = 0
    for callback_id, url in due:
        sid = recording_sid(url)
        try:
            if sid is not None:
                deps.recordings.delete_recording(sid)
        except Exception:  # noqa: BLE001 - Twilio down: keep the link and try again next run
            log.exception("retention.recording_delete_failed callback=%s", callback_id)
            failed += 1
            continue
        if deps.store.clear_voice_message(callback_id, url):
            deleted += 1
    return deleted, failed


def run_retention(deps: RetentionDeps, *, dry_run: bool = False) -> RetentionReport:
    cutoffs = deps.policy.cutoffs(deps.clock.now())
    voice_deleted, voice_failed = _voice_messages(deps, cutoffs[Category.VOICE_MESSAGE], dry_run=dry_run)
    masked = deps.store.mask_callback_numbers(cutoffs[Category.CALLBACK_NUMBER], dry_run=dry_run)
    notes = deps.store.empty_notes(cutoffs[Category.CONVERSATION_NOTE], dry_run=dry_run)
    # Recordings of callbacks about to be deleted are gone already: voice messages are kept shorter.
    calls, callbacks, cases = deps.store.delete_call_records(cutoffs[Category.CALL_RECORD], dry_run=dry_run)
    report = RetentionReport(dry_run=dry_run, callback_numbers_masked=masked, voice_messages_deleted=voice_deleted,
                             voice_messages_failed=voice_failed, notes_emptied=notes, calls_deleted=calls,
                             callbacks_deleted=callbacks, cases_deleted=cases,
                             open_calls_kept=deps.store.open_calls_before(cutoffs[Category.CALL_RECORD]),
                             audit_entries_deleted=deps.store.delete_audit_entries(cutoffs[Category.AUDIT_LOG],
                                                                                   dry_run=dry_run))
    log.info("retention.run %s", " ".join(f"{k}={v}" for k, v in report.as_dict().items()))
    return report
