"""RQ job for the retention of personal data (registered in workers/cron.py, hourly)."""

from __future__ import annotations

from callrouter.services.retention import run_retention
from workers.jobs import container


def purge_expired() -> dict[str, int | bool]:
    """Apply every retention rule once; what it did, by category."""
    return run_retention(container().parts.retention).as_dict()
