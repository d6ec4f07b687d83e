"""Start the real servers the tests need (Redis, PostgreSQL) on loopback, in temporary folders.

Used by conftest.py and by the benchmarks. A URL in CALLROUTER_TEST_REDIS_URL or
CALLROUTER_TEST_POSTGRES_URL is used as it is instead of starting a server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class RedisProcess:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _redis_binary(name: str = "redis-server") -> str:
    binary = shutil.which(name)
    if binary is None:
        package = "redis-sentinel" if name == "redis-sentinel" else "redis-server"
        raise RuntimeError(f"{name} is not installed: run `make deps` (apt-get install {package})")
    return binary


@contextmanager
def redis_process(*args: str) -> Iterator[RedisProcess]:
    """A redis-server of our own on a free loopback port (never CALLROUTER_TEST_REDIS_URL: tests may stop it)."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="callrouter-redis-")
    proc = subprocess.Popen(
        [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--loglevel", "warning", *args],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield RedisProcess(port, proc)
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a test may have stopped it
        except ProcessLookupError:
            pass
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def redis_server() -> Iterator[str]:
    given = os.environ.get("CALLROUTER_TEST_REDIS_URL")
    if given:
        yield given
        return
    with redis_process() as server:
        yield server.url


def _redis_info(port: int, section: str) -> dict[str, str]:
    """INFO of a Redis or sentinel on loopback, without redis-py (tests/servers.py stays dependency-free)."""
    found = subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(port), "INFO", section],
                           capture_output=True, text=True, timeout=5, check=False).stdout
    return dict(line.split(":", 1) for line in found.replace("\r", "").splitlines() if ":" in line)


def _wait_until(what: str, test: object, timeout: float = 30.0) -> None:
    assert callable(test)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout}s")


@dataclass
class SentinelCluster:
    """A Redis primary, its replicas and sentinels on loopback; `service` is the name they monitor.
    `replica` is the first replica; `nodes` the primary and every replica (which is primary changes with a
    failover: ask the sentinels)."""

    service: str
    primary: RedisProcess
    replica: RedisProcess
    sentinel_ports: list[int]
    sentinels: list[subprocess.Popen[bytes]] = field(default_factory=list)
    replicas: list[RedisProcess] = field(default_factory=list)
    server_args: tuple[str, ...] = ()  # what every redis-server of the cluster was started with

    @property
    def nodes(self) -> list[RedisProcess]:
        return [self.primary, *(self.replicas or [self.replica])]

    @property
    def addresses(self) -> str:
        """For CALLROUTER_REDIS_SENTINELS."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def wait_replica_in_sync(self, replica: RedisProcess | None = None, timeout: float = 30.0) -> None:
        replica = replica or self.replica
        _wait_until(f"replica on {replica.port} in sync",
                    lambda: _redis_info(replica.port, "replication").get("master_link_status") == "up", timeout)


@contextmanager
def redis_sentinel_cluster(service: str = "callrouter", sentinels: int = 3, replicas: int = 1,
                           min_replicas_to_write: int = 0, min_replicas_max_lag: int = 10) -> Iterator[SentinelCluster]:
    """A primary, `replicas` replicas in sync with it, and `sentinels` redis-sentinel processes (quorum 2) that
    know them all and each other; temporary folders, every process stopped by its pid afterwards.
    `min_replicas_to_write` is set on every server (any may become the primary), as docs/operations.md says."""
    sentinel_binary = _redis_binary("redis-sentinel")
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-sentinel-"))
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        try:
            args: tuple[str, ...] = ()
            if min_replicas_to_write:
                args = ("--min-replicas-to-write", str(min_replicas_to_write),
                        "--min-replicas-max-lag", str(min_replicas_max_lag))
            primary = stack.enter_context(redis_process(*args))
            followers = [stack.enter_context(redis_process(*args, "--replicaof", "127.0.0.1", str(primary.port)))
                         for _ in range(replicas)]
            cluster = SentinelCluster(service, primary, followers[0], [free_port() for _ in range(sentinels)],
                                      replicas=followers, server_args=args)
            for follower in followers:
                cluster.wait_replica_in_sync(follower)
            for number, port in enumerate(cluster.sentinel_ports):
                folder = workdir / f"sentinel-{number}"
                folder.mkdir()
                config = folder / "sentinel.conf"  # sentinels rewrite their file: one each, writable
                config.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'log'}\n"
                    f"sentinel monitor {service} 127.0.0.1 {primary.port} 2\n"
                    f"sentinel down-after-milliseconds {service} 1000\n"
                    f"sentinel failover-timeout {service} 10000\n"
                    f"sentinel parallel-syncs {service} 1\n")
                started.append(subprocess.Popen([sentinel_binary, str(config)], stdout=subprocess.DEVNULL))
                cluster.sentinels.append(started[-1])
            for port in cluster.sentinel_ports:
                _wait_for_port(port)
            for port in cluster.sentinel_ports:  # each sees the replica and the other sentinels
                _wait_until(f"sentinel on {port} knows {replicas} replica(s) and {sentinels - 1} other sentinels",
                            lambda port=port: f"slaves={replicas},sentinels={sentinels}"  # type: ignore[misc]
                            in _redis_info(port, "sentinel").get("master0", ""))
            yield cluster
        finally:
            for proc in started:
                _stop(proc)
            shutil.rmtree(workdir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: run `make deps` (apt-get install postgresql)")


@dataclass
class PostgresProcess:
    """A PostgreSQL server of our own; `stop`/`start` for tests of a database that goes away and comes back."""

    port: int
    datadir: Path
    workdir: Path
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.datadir), *args], check=check,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.workdir} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off")
        self._ctl("-o", options, "-l", str(self.workdir / "log"), "-w", "start")
        _wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        """fast: disconnect the clients and shut down cleanly; immediate: as a crash would."""
        self._ctl("-m", mode, "-w", "stop", check=False)


@contextmanager
def postgres_process() -> Iterator[PostgresProcess]:
    """A fresh PostgreSQL on a free loopback port in a temporary folder (never CALLROUTER_TEST_POSTGRES_URL:
    tests may stop it)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-pg-"))
    datadir = workdir / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(workdir, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, _pg_bin("initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
    server = PostgresProcess(port, datadir, workdir, as_user)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    given = os.environ.get("CALLROUTER_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with postgres_process() as server:
        yield server.url
