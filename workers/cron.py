"""Periodic jobs for `rq cron workers/cron.py` (RQ's own scheduler; see the Procfile)."""

from rq import cron

from workers.jobs import QUEUE, reconcile_live_state
from workers.retention_jobs import purge_expired
from workers.statistics_jobs import rollup_recent

cron.register(reconcile_live_state, queue_name=QUEUE, interval=10, job_timeout=60)
cron.register(rollup_recent, queue_name=QUEUE, interval=60, job_timeout=300)
cron.register(purge_expired, queue_name=QUEUE, interval=3600, job_timeout=1800)
