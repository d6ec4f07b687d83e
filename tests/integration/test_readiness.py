"""GET /healthz and /readyz against real and broken dependencies: a hung Redis (SIGSTOP), a port that accepts
but never answers, a Sentinel address that does not answer, a wrong service name, a database whose hosts are
all read-only, migrations not at head; /readyz answers within 1 s naming the dependency and the setting."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import Settings
from callrouter.web.app import create_app
from tests.servers import SentinelCluster, free_port, redis_process, redis_sentinel_cluster

LIMIT_SECONDS = 1.0


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('ready') / 'db.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def cluster() -> Iterator[SentinelCluster]:
    with redis_sentinel_cluster() as found:
        yield found


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def closed_port() -> int:
    return free_port()  # nothing listens there: connections are refused


def client_for(**values: object) -> TestClient:
    settings = Settings(environment="test", **values)  # type: ignore[arg-type]
    return TestClient(create_app(settings))


def ready(client: TestClient) -> tuple[int, dict, float]:  # type: ignore[type-arg]
    started = time.monotonic()
    response = client.get("/readyz")
    return response.status_code, response.json(), time.monotonic() - started


def test_healthz_answers_at_once_even_without_redis(migrated_sqlite: str, silent_port: int) -> None:
    client = client_for(database_url=migrated_sqlite, redis_url=f"redis://127.0.0.1:{silent_port}/0")
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert time.monotonic() - started < 0.5


def test_ready_when_redis_database_and_migrations_are_there(migrated_sqlite: str, redis_url: str) -> None:
    status, body, took = ready(client_for(database_url=migrated_sqlite, redis_url=redis_url))
    assert status == 200, body
    assert body["status"] == "ready"
    assert {name: check["state"] for name, check in body["checks"].items()} == {
        "redis": "up", "database": "up", "migrations": "up"}
    assert took < LIMIT_SECONDS


def test_a_stopped_redis_makes_readyz_503_within_a_second(migrated_sqlite: str) -> None:
    with redis_process() as server:
        client = client_for(database_url=migrated_sqlite, redis_url=server.url)
        assert ready(client)[0] == 200
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(3):  # and again while the first check may still hang: no pile-up, still in time
                status, body, took = ready(client)
                assert status == 503 and took < LIMIT_SECONDS, (took, body)
                assert body["missing"] == ["redis"]
                assert body["checks"]["redis"]["state"] in ("down", "timeout")
                assert body["checks"]["redis"]["setting"] == "CALLROUTER_REDIS_URL"
                assert body["checks"]["database"]["state"] == "up"
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + 5
        while ready(client)[0] != 200:
            assert time.monotonic() < deadline, "not ready again after SIGCONT"
            time.sleep(0.1)


def test_a_database_port_that_never_answers_makes_readyz_503_within_a_second(redis_url: str,
                                                                              silent_port: int) -> None:
    client = client_for(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/postgres",
                        redis_url=redis_url)
    status, body, took = ready(client)
    assert status == 503 and took < LIMIT_SECONDS, (took, body)
    assert body["checks"]["database"] == {"state": "timeout", "setting": "CALLROUTER_DATABASE_URL",
                                          "detail": "no answer within 0.8 s"}
    assert body["checks"]["redis"]["state"] == "up"


def test_migrations_not_at_head(tmp_path: Path, redis_url: str) -> None:
    status, body, _ = ready(client_for(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", redis_url=redis_url))
    assert status == 503 and body["missing"] == ["migrations"]
    assert "callrouter db upgrade" in body["checks"]["migrations"]["detail"]


def test_a_sentinel_address_that_does_not_answer(migrated_sqlite: str, silent_port: int) -> None:
    client = client_for(database_url=migrated_sqlite,
                        redis_sentinels=f"127.0.0.1:{closed_port()},127.0.0.1:{silent_port}")
    status, body, took = ready(client)
    assert status == 503 and took < LIMIT_SECONDS, (took, body)
    check = body["checks"]["redis"]
    assert check["state"] == "down" and check["setting"] == "CALLROUTER_REDIS_SENTINELS"
    assert "no sentinel answered" in check["detail"]


def test_a_wrong_sentinel_service_name(migrated_sqlite: str, cluster: SentinelCluster) -> None:
    client = client_for(database_url=migrated_sqlite, redis_sentinels=cluster.addresses,
                        redis_sentinel_service="no-such-service")
    status, body, _ = ready(client)
    assert status == 503
    check = body["checks"]["redis"]
    assert check["state"] == "down" and check["setting"] == "CALLROUTER_REDIS_SENTINEL_SERVICE"
    assert "'no-such-service'" in check["detail"]


def test_ready_through_sentinel(migrated_sqlite: str, cluster: SentinelCluster) -> None:
    client = client_for(database_url=migrated_sqlite, redis_sentinels=cluster.addresses,
                        redis_sentinel_service=cluster.service)
    status, body, _ = ready(client)
    assert status == 200, body
    assert "3 of 3 sentinels answer" in body["checks"]["redis"]["detail"]


def test_a_bad_sentinel_entry_stops_start_up() -> None:
    with pytest.raises(ValueError, match="CALLROUTER_REDIS_SENTINELS"):
        Settings(redis_sentinels="127.0.0.1:26379,sentinel-without-port")


# -- PostgreSQL: several hosts in one URL ---------------------------------------------------------------

@pytest.fixture()
def pg_database(postgres_url: str) -> Iterator[tuple[str, int, str]]:
    """A fresh database on the test server, migrated: (base URL without the database, port, name)."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = postgres_url.rsplit("/", 1)[0]
    upgrade(f"{base}/{name}")
    port = int(base.rsplit(":", 1)[1])
    yield base, port, name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_multi_host_url_reaches_the_server_past_a_closed_port(pg_database: tuple[str, int, str],
                                                                  redis_url: str) -> None:
    _base, port, name = pg_database
    # Per-host ports (SQLAlchemy's form): the first host refuses, libpq goes on to the second.
    per_host = (f"postgresql+psycopg://postgres@/{name}?host=127.0.0.1:{closed_port()}&host=127.0.0.1:{port}"
                "&target_session_attrs=read-write")
    # One port for all (libpq's comma form): nothing listens on 127.0.0.2 at that port.
    comma = f"postgresql+psycopg://postgres@127.0.0.2,127.0.0.1:{port}/{name}?target_session_attrs=read-write"
    for url in (per_host, comma):
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == name
        engine.dispose()
        status, body, _ = ready(client_for(database_url=url, redis_url=redis_url))
        assert status == 200, (url, body)


def test_a_database_url_whose_hosts_are_all_read_only(pg_database: tuple[str, int, str], redis_url: str,
                                                      postgres_url: str) -> None:
    _base, port, name = pg_database
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # every session of this database is read-only, as on a standby
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    asks_for_writes = (f"postgresql+psycopg://postgres@/{name}?host=127.0.0.1:{closed_port()}"
                       f"&host=127.0.0.1:{port}&target_session_attrs=read-write")
    status, body, _ = ready(client_for(database_url=asks_for_writes, redis_url=redis_url))
    assert status == 503
    check = body["checks"]["database"]
    assert check["state"] == "down" and check["setting"] == "CALLROUTER_DATABASE_URL"
    assert "read-only" in check["detail"]
    # Without target_session_attrs the connection succeeds, and the check still refuses a read-only session.
    status, body, _ = ready(client_for(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}",
                                       redis_url=redis_url))
    assert status == 503 and "read-only server" in body["checks"]["database"]["detail"]
