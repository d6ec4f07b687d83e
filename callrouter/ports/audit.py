"""The audit log of the staff pages: who opened which call page, drill-down or export, when, with what filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

ACTIONS = ("call_page", "drilldown", "export", "voice_message")


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    account_id: int
    action: str  # one of ACTIONS
    target: str  # the page's path, e.g. /staff/dashboard/oproepen/3
    filters: dict[str, str] = field(default_factory=dict)  # the query parameters it was opened with
    origin: str = "-"  # the source address
    id: int | None = None
    account: str = ""  # "issuer subject" when read back


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...
    def entries(self, *, since: datetime | None = None, until: datetime | None = None, account_id: int | None = None,
                action: str | None = None, limit: int = 100) -> list[AuditEntry]: ...
    def delete_before(self, cutoff: datetime, *, dry_run: bool = False) -> int: ...
