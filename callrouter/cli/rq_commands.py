"""`callrouter worker` and `callrouter cron`: RQ's worker and cron scheduler on the service's own Redis client.

`rq worker --url` takes one Redis URL (and `-c` a settings module with RQ's own Sentinel dictionary);
these wrappers take the connection from bootstrap instead, so a worker finds Redis exactly as the web
processes do: CALLROUTER_RQ_REDIS_URL / _RQ_REDIS_SENTINEL_SERVICE, or CALLROUTER_REDIS_SENTINELS, or
CALLROUTER_REDIS_URL, with the password and TLS settings (see docs/operations.md).
"""

from __future__ import annotations

import typer

from callrouter.config import Settings

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(value: str) -> str:
    if value.upper() not in LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LEVELS)}")
    return value.upper()


def worker(queues: list[str] = typer.Argument(None, help="Queues to work on (default: callrouter)."),
           with_scheduler: bool = typer.Option(False, "--with-scheduler", help="Also run RQ's scheduler."),
           burst: bool = typer.Option(False, "--burst", help="Quit when the queues are empty."),
           fork: bool = typer.Option(False, "--fork", help="RQ's forking Worker: a new process (and services "
                                     "built anew) per job, about 0.6 s each; default: SimpleWorker."),
           simple: bool = typer.Option(False, "--simple", hidden=True, help="The default (kept for old units)."),
           logging_level: str = typer.Option("INFO", "--logging-level", callback=_level)) -> None:
    """An RQ worker (like `rq worker`) on the Redis the settings name.

    RQ's SimpleWorker by default: jobs run in the worker process, on services built once (workers/jobs.py
    `container`), so a callback is dispatched in milliseconds instead of a fork and a rebuild per job. A job
    that kills the process kills the worker (systemd and the Procfile restart it); its callback attempt is
    locked on its row before dialling, so the reconciler finishes it without a second dial."""
    from rq import SimpleWorker, Worker

    from callrouter.bootstrap import rq_redis_client

    worker_class = Worker if fork and not simple else SimpleWorker
    connection = rq_redis_client(Settings())
    worker_class(queues or ["callrouter"], connection=connection).work(
        burst=burst, with_scheduler=with_scheduler, logging_level=logging_level)


def cron(config_path: str = typer.Argument(..., help="The cron module, e.g. workers/cron.py."),
         logging_level: str = typer.Option("INFO", "--logging-level", callback=_level)) -> None:
    """RQ's cron scheduler (like `rq cron`) on the Redis the settings name.

    A Redis error does not stop it: in a failover Redis refuses writes for a few seconds (NOREPLICAS from a
    primary cut off from its replicas, READONLY from one being demoted, a closed connection), and a cron that
    exited then would leave the reconciler unscheduled until something restarts it. It starts again after a
    second, on the primary the sentinels name by then."""
    import time

    from redis.exceptions import RedisError
    from rq.cron import CronScheduler

    from callrouter.bootstrap import rq_redis_client

    scheduler = CronScheduler(connection=rq_redis_client(Settings()), logging_level=logging_level)
    scheduler.load_config_from_file(config_path)
    while True:
        try:
            scheduler.start()  # type: ignore[no-untyped-call]
            return  # stopped by a signal (SIGTERM)
        except KeyboardInterrupt:
            typer.echo("cron scheduler stopped")
            return
        except RedisError as exc:
            typer.echo(f"cron.redis_error error={type(exc).__name__}: {exc} (starting again in 1 s)", err=True)
            time.sleep(1.0)
