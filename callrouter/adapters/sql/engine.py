"""Engine and session factory from a database URL (SQLite file by default, PostgreSQL in production)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

BUSY_TIMEOUT_SECONDS = 30
READ_ONLY = "callrouter_read_only"  # an execution option: the transaction only reads (see `reading`)
# How long a new PostgreSQL connection keeps trying while the server refuses it (a restart, a failover to
# another host of a multi-host URL): a transaction waits that long instead of failing at once.
CONNECT_PATIENCE_SECONDS = 6.0


class _WriterQueue:
    """Where the transactions on one SQLite file wait their turn: the threads of a process on a lock,
    the processes on flock() of a side file (`<database>-writers`). A waiter wakes as soon as the
    holder is done. Without it every waiter polls in SQLite's busy handler, sleeping up to 100 ms
    between tries, so under load most of the time went to sleeping and p99 latency was seconds.

    Only a queue in front of BEGIN IMMEDIATE: SQLite's own lock still decides, so a process that
    does not queue here (another tool, sqlite3 shell) is still safe, and whoever cannot join the
    queue in time (or at all) falls back to busy_timeout as before.
    """

    def __init__(self, database: str):
        self._side_file = database + "-writers"
        self._threads = threading.Lock()
        self._fd: int | None = None

    def join(self) -> bool:
        """Wait for our turn; False: not queued (go on, SQLite's busy_timeout decides)."""
        if not self._threads.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self._side_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:  # e.g. a read-only folder: no queue, as before
            self._threads.release()
            return False
        return True

    def leave(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


_QUEUES: dict[tuple[int, str], _WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()


def _writer_queue(database: str) -> _WriterQueue:
    """One queue per database file per process (a forked child gets its own)."""
    key = (os.getpid(), os.path.abspath(database))
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key)
        if queue is None:
            queue = _QUEUES[key] = _WriterQueue(key[1])
        return queue


class _QueuedConnection(sqlite3.Connection):
    """A sqlite3 connection that leaves the writer queue when its transaction ends, however it ends."""

    writer_queue: _WriterQueue | None = None
    _queued = False

    def enter_queue(self) -> None:
        if self.writer_queue is not None and not self._queued:
            self._queued = self.writer_queue.join()

    def leave_queue(self) -> None:
        if self._queued:
            self._queued = False
            assert self.writer_queue is not None
            self.writer_queue.leave()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_queue()


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        on_disk = bool(path) and path != ":memory:"
        if on_disk:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False,
                                                           "factory": _QueuedConnection})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: _QueuedConnection, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy's "begin" below open transactions, so they can be IMMEDIATE: several
            # processes then queue for the write lock instead of failing on a lock upgrade.
            dbapi_connection.isolation_level = None
            if on_disk:
                dbapi_connection.writer_queue = _writer_queue(path)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs the log at checkpoints, not at every commit: a committed
            # transaction survives a crash of the process (it is in the WAL file, in the OS page
            # cache) but the last ones before a power loss or OS crash may be lost. FULL (SQLite's
            # default) fsyncs on every commit; production runs on PostgreSQL.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A reader in WAL mode sees the last commit without waiting for a writer or blocking one:
                # not in the writers' queue (1,000 waiting callers' hold turns each read their call).
                conn.exec_driver_sql("BEGIN")
                return
            # The pool's DB-API connection, typed as any DB-API connection: here made by factory=_QueuedConnection.
            dbapi_connection = cast(_QueuedConnection, conn.connection.dbapi_connection)
            dbapi_connection.enter_queue()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                dbapi_connection.leave_queue()
                raise

        return engine
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    _connect_patiently(engine, seconds=CONNECT_PATIENCE_SECONDS)
    return engine


def _connect_patiently(engine: Engine, *, seconds: float) -> None:
    """New connections retry for `seconds` while the server refuses them (pool_pre_ping replaces a pooled
    connection a restart broke with a new one, so that one waits too); then the error is raised."""

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: object, _record: object, cargs: tuple[object, ...], cparams: dict[str, object]) -> object:
        dbapi = engine.dialect.loaded_dbapi
        deadline = time.monotonic() + seconds
        pause = 0.1
        while True:
            try:
                return dbapi.connect(*cargs, **cparams)
            except dbapi.OperationalError:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 1.0)


def make_probe_engine(database_url: str, *, timeout_seconds: float) -> Engine:
    """An engine for readiness checks only: a new connection per check (no pool a hung check could
    exhaust), short connect and statement timeouts, and never SQLite's write queue."""
    if database_url.startswith("sqlite"):
        return create_engine(database_url, poolclass=NullPool, connect_args={"timeout": timeout_seconds,
                                                                             "check_same_thread": False})
    millis = max(1, int(timeout_seconds * 1000))
    # libpq's connect_timeout is whole seconds, at least 2, per host; the caller's deadline is shorter.
    return create_engine(database_url, poolclass=NullPool,
                         connect_args={"connect_timeout": 2, "options": f"-c statement_timeout={millis}"})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session that only reads: on SQLite a deferred transaction, not the writers' BEGIN IMMEDIATE (on
    PostgreSQL nothing changes). A write in it would fail when a writer holds the lock, not wait its turn."""
    with sessions() as session:
        bind = session.get_bind()
        if isinstance(bind, Engine) and bind.dialect.name == "sqlite":  # not a test's connection in a transaction
            session.connection(execution_options={READ_ONLY: True})
        yield session
