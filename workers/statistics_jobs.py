"""RQ jobs for the statistics rollups (registered in workers/cron.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from callrouter.bootstrap import SystemClock
from callrouter.services.statistics import statistics
from workers.jobs import container

log = logging.getLogger("callrouter.workers")


def deps() -> statistics.StatsDeps:
    app = container()
    return statistics.StatsDeps(store=app.parts.stats_store, clock=SystemClock(), policy=app.parts.stats_policy,
                                zone=ZoneInfo(app.settings.timezone),
                                history_kept_days=app.settings.retention_call_record_days)


def rollup_recent() -> int:
    """Recompute the current and recent intervals (and those of calls that changed since); their number."""
    return statistics.rollup_recent(deps())


def rollup_since(since: str) -> int:
    """Recompute every interval from `since` (ISO 8601 with offset) to now: a backfill after downtime."""
    return statistics.rollup_since(deps(), since=datetime.fromisoformat(since))
