"""RQ job for the weekly research file (registered in workers/cron.py when CALLROUTER_RESEARCH_EXPORT_DIR is set)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from callrouter.bootstrap import research_deps
from callrouter.ports.audit import AuditEntry
from callrouter.services.statistics import research
from workers.jobs import container

log = logging.getLogger("callrouter.workers")
JOB_ACCOUNT = 0  # the audit log's account for what no person asked for


def write_weekly_export(today: str | None = None) -> str:
    """Write the previous ISO week's research CSV into CALLROUTER_RESEARCH_EXPORT_DIR, unless it is there already.
    Hourly and idempotent: a week missed while the scheduler was down is written at the next run. The file's
    path, or why nothing was written."""
    app = container()
    folder = app.settings.research_export_dir
    if not folder:
        return "off: CALLROUTER_RESEARCH_EXPORT_DIR is not set"
    zone = ZoneInfo(app.settings.timezone)
    day = datetime.fromisoformat(today).date() if today else datetime.now(zone).date()
    first, last = research.previous_week(day)
    asked = research.ask(first_day=first, last_day=last, fmt="csv", kept_days=app.settings.retention_call_record_days)
    target = Path(folder) / research.file_name(asked)
    if target.exists():
        return f"already there: {target}"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        for chunk in research.export_chunks(research_deps(app.settings, app.parts), asked):
            out.write(chunk)
    partial.replace(target)  # whole or not at all: a reader never sees half a file
    app.parts.audit.record(AuditEntry(at=datetime.now(UTC), account_id=JOB_ACCOUNT, action="export",
                                      target=str(target)[:300], filters={"from": first.isoformat(), "to": last.isoformat(),
                                                                          "format": "csv", "job": "weekly"}))
    log.info("research.weekly_export path=%s", target)
    return str(target)
