"""Periodic jobs for `rq cron workers/cron.py` (RQ's own scheduler; see the Procfile)."""

from rq import cron

from workers.jobs import QUEUE, reconcile_live_state

cron.register(reconcile_live_state, queue_name=QUEUE, interval=10, job_timeout=60)
