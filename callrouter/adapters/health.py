"""Readiness checks of the dependencies (Redis primary, the database, its migrations), for GET /readyz.

Each check is a function that returns a short "what answered" or raises NotReady naming the setting an
operator has to look at. The checks run on clients with short socket timeouts and no retries (built in
bootstrap); the web layer runs each in a thread and gives up on it at a deadline (callrouter/web/health.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from redis import Redis, RedisError
from redis.sentinel import Sentinel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

Check = Callable[[], str]


class NotReady(Exception):
    """A dependency is missing; `setting` is the variable to look at (None when it is no setting's fault)."""

    def __init__(self, setting: str | None, detail: str):
        super().__init__(f"{setting}: {detail}" if setting else detail)
        self.setting = setting
        self.detail = detail


@dataclass(frozen=True)
class Probe:
    """One dependency of /readyz: its check and the setting that points at it."""

    check: Check
    setting: str | None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _address(client: Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


def _require_primary(client: Redis, *, setting: str, where: str) -> str:
    try:
        info = client.info("replication")
    except RedisError as exc:
        raise NotReady(setting, f"{where} did not answer: {_short(exc)}") from exc
    role = info.get("role")
    if role != "master":
        raise NotReady(setting, f"{where} is a {role}, not the primary (writes would fail)")
    return "primary answers"


def redis_url_check(client: Redis, *, setting: str) -> Check:
    """A Redis at a fixed URL: it answers and is a primary."""
    return lambda: _require_primary(client, setting=setting, where=f"Redis at {_address(client)}")


def redis_sentinel_check(sentinel: Sentinel, client: Redis, *, service: str, sentinels_setting: str,
                         service_setting: str) -> Check:
    """Redis through Sentinel: some sentinel answers, the sentinels know `service`, and its primary answers."""

    def check() -> str:
        answered: list[str] = []
        knowing: list[str] = []
        errors: list[str] = []
        for each in sentinel.sentinels:
            where = _address(each)
            try:
                found = each.sentinel_get_master_addr_by_name(service)
            except RedisError as exc:
                errors.append(f"{where}: {_short(exc, 120)}")
                continue
            answered.append(where)
            if found:
                knowing.append(where)
        if not answered:
            raise NotReady(sentinels_setting, "no sentinel answered (" + "; ".join(errors) + ")")
        if not knowing:
            raise NotReady(service_setting, f"the sentinels ({', '.join(answered)}) know no primary named {service!r}")
        try:
            host, port = sentinel.discover_master(service)  # type: ignore[no-untyped-call]
        except RedisError as exc:
            raise NotReady(service_setting, f"no primary of {service!r}: {_short(exc)}") from exc
        _require_primary(client, setting=sentinels_setting, where=f"the primary of {service!r} at {host}:{port}")
        return f"primary {host}:{port} of {service!r}; {len(answered)} of {len(sentinel.sentinels)} sentinels answer"

    return check


def database_check(engine: Engine, *, setting: str) -> Check:
    """The database answers and takes writes (not a standby, not a read-only session)."""

    def check() -> str:
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    read_only = conn.exec_driver_sql("SHOW transaction_read_only").scalar()
                    if read_only == "on":
                        raise NotReady(setting, "connected to a read-only server (a standby?): list the primary's "
                                                "host and add target_session_attrs=read-write")
                else:
                    conn.exec_driver_sql("SELECT 1")
                host = conn.exec_driver_sql("SELECT inet_server_addr()::text").scalar() \
                    if engine.dialect.name == "postgresql" else None
        except SQLAlchemyError as exc:
            raise NotReady(setting, f"no writable database: {_short(getattr(exc, 'orig', None) or exc)}") from exc
        return f"{engine.dialect.name} answers" + (f" at {host}" if host else "")

    return check


def migrations_check(engine: Engine, heads: Callable[[], Collection[str]], *, setting: str) -> Check:
    """The database's Alembic revision is the code's head. The heads and Alembic are read here, when the check
    is built, so a probe does no imports or file reads (on a loaded host those made /readyz late)."""
    from alembic.runtime.migration import MigrationContext

    expected = set(heads())

    def check() -> str:
        try:
            with engine.connect() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
        except SQLAlchemyError as exc:
            raise NotReady(setting, f"cannot read the migration state: {_short(getattr(exc, 'orig', None) or exc)}") \
                from exc
        if current != expected:
            have = ", ".join(sorted(current)) or "no revision"
            raise NotReady(None, f"database at {have}, the code needs {', '.join(sorted(expected))}: "
                                 "run `callrouter db upgrade`")
        return f"at head {', '.join(sorted(current))}"

    return check
