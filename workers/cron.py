"""Periodic jobs for `rq cron workers/cron.py` (RQ's own scheduler; see the Procfile)."""

from rq import cron

from callrouter.config import Settings
from workers.jobs import QUEUE, RECONCILE_EVERY_SECONDS, reconcile_live_state
from workers.research_jobs import write_weekly_export
from workers.retention_jobs import purge_expired
from workers.statistics_jobs import rollup_recent

cron.register(reconcile_live_state, queue_name=QUEUE, interval=RECONCILE_EVERY_SECONDS, job_timeout=60)
cron.register(rollup_recent, queue_name=QUEUE, interval=60, job_timeout=300)
cron.register(purge_expired, queue_name=QUEUE, interval=3600, job_timeout=1800)
if Settings().research_export_dir:  # optional: the previous week's research file, checked hourly, written once
    cron.register(write_weekly_export, queue_name=QUEUE, interval=3600, job_timeout=3600)
