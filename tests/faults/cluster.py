"""The service on two "hosts" behind HAProxy, for the fault tests: what a fault does to calls in flight.

Loopback addresses stand for machines:

| address | what |
|---|---|
| 127.0.0.11, 127.0.0.12 | host a and host b: each its uvicorn (2 worker processes) and an RQ worker; cron on host a |
| 127.0.0.2 | the address HAProxy connects to the backends from (their trusted proxy) |
| 127.0.0.1 | HAProxy's TLS frontend (deploy/haproxy/callrouter.cfg as it is), the Twilio emulator, Redis (a primary, two replicas, three sentinels: the service finds Redis through CALLROUTER_REDIS_SENTINELS), PostgreSQL |

Redis runs as docs/operations.md says production should: `min-replicas-to-write 1` (`min-replicas-max-lag 10`)
on every server, with two replicas, so a primary cut off from both (frozen, partitioned) refuses writes instead
of acknowledging writes a failover throws away, and a failover still leaves the new primary a replica.

The emulator sends every webhook to the public URL, https through HAProxy; the service calls the emulator's
REST API directly. Every process is started by this module and stopped by its pid.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import REPO_ROOT
from tests.deploy.test_haproxy import CONFIG, PROXY, haproxy_env, make_cert
from tests.e2e.stack import ACCOUNT_SID, API_TOKEN, AUTH_TOKEN, FAST_PINS, PROFESSIONAL_LINE, open_all_hours_directory
from tests.servers import PostgresProcess, SentinelCluster, free_port, postgres_process, redis_sentinel_cluster
from twilio_emulator.config import EmulatorConfig, NumberConfig
from twilio_emulator.driver import Emulator

HOSTS = {"a": "127.0.0.11", "b": "127.0.0.12"}
HOLD_MUSIC_SECONDS = 60.0
# pytest's per-test timeout (pyproject.toml: 120 s) is too short for a test whose fixture runs a fault under
# traffic on a loaded machine; the waits inside are bounded on their own.
FAULT_TIMEOUT_SECONDS = 420


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, every: float = 0.1) -> float:
    """Seconds until predicate() held; AssertionError after timeout."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def redis_cli(port: int, *args: str) -> str:
    """One redis-cli command against a server of the test stack; its reply as text."""
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5,
                          check=False).stdout.strip()


def primary_port(cluster: Cluster) -> int:
    """The port of the Redis primary as the first sentinel names it now."""
    reply = redis_cli(cluster.redis.sentinel_ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", cluster.redis.service)
    return int(reply.splitlines()[-1])


def _kill_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Host:
    """One callrouter machine: uvicorn on its own address, and an RQ worker."""

    name: str
    address: str
    port: int
    env: dict[str, str]
    logdir: Path
    web: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.logdir / f"{self.name}-{log}.log").open("ab") as out:
            return subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def start(self) -> None:
        """The web unit's ExecStart (deploy/systemd/callrouter-web.service) and the worker unit's, as modules."""
        if self.web is None or self.web.poll() is not None:
            self.web = self._spawn([sys.executable, "-m", "uvicorn", "callrouter.web.app:create_app", "--factory",
                                    "--host", self.address, "--port", str(self.port), "--workers", "2",
                                    "--proxy-headers", "--forwarded-allow-ips", PROXY, "--no-server-header",
                                    "--no-access-log", "--timeout-graceful-shutdown", "10", "--timeout-keep-alive", "75"], "web")
        self.start_worker()

    def start_worker(self) -> subprocess.Popen[bytes]:
        if self.worker is None or self.worker.poll() is not None:
            self.worker = self._spawn([sys.executable, "-m", "callrouter.cli", "worker", "--with-scheduler",
                                       "--logging-level", "WARNING", "callrouter"], "worker")
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker and its work horse: a crash in the middle of a job."""
        _kill_group(self.worker, signal.SIGKILL)
        self.worker = None

    def kill(self) -> None:
        """The machine dies: SIGKILL to its web processes and its worker."""
        _kill_group(self.web, signal.SIGKILL)
        self.web = None
        self.kill_worker()

    def stop(self) -> None:
        """At the end of the suite: nothing to finish gracefully."""
        self.kill()

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Cluster:
    hosts: dict[str, Host]
    emulator: Emulator
    redis: SentinelCluster
    postgres: PostgresProcess
    public_url: str
    haproxy_socket: Path
    ca_file: Path
    sessions: sessionmaker[Session]
    directory: SqlDirectory
    workdir: Path
    env: dict[str, str]
    cron: subprocess.Popen[bytes] | None = None
    figures: dict[str, dict[str, object]] = field(default_factory=dict)
    spawned: list[subprocess.Popen[bytes]] = field(default_factory=list)  # started by a test, stopped at the end

    # HAProxy -----------------------------------------------------------------------------------------------
    def server_status(self) -> dict[str, str]:
        """web1 (host a), web2 (host b): UP, DOWN, or a transition such as "UP 1/2"."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.haproxy_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {row[1]: row[17] for row in rows if row[0] == "callrouter_web" and row[1].startswith("web")}

    def proxied(self) -> httpx.Client:
        trust = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.Client(base_url=self.public_url, verify=trust, timeout=10)

    # the service ---------------------------------------------------------------------------------------------
    def ensure_running(self) -> None:
        """Both hosts and cron up, both UP in HAProxy, no faults left in the emulator."""
        for host in self.hosts.values():
            host.start()
        self.start_cron()
        for host in self.hosts.values():
            wait_until(host.ready, timeout=60, what=f"host {host.name} ready")
        wait_until(lambda: set(self.server_status().values()) == {"UP"}, timeout=30,
                   what="both backends UP in HAProxy")
        self.emulator.rest_create_delay = 0.0

    def start_cron(self) -> None:
        if self.cron is None or self.cron.poll() is not None:
            with (self.workdir / "a-cron.log").open("ab") as out:
                self.cron = subprocess.Popen([sys.executable, "-m", "callrouter.cli", "cron", "workers/cron.py"],
                                             cwd=REPO_ROOT, env=self.hosts["a"].env, stdout=out,
                                             stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """The JSON API on whichever host is up (directly: the API is not what is under test)."""
        last: Exception | None = None
        for host in self.hosts.values():
            if host.web is None:
                continue
            try:
                return httpx.request(method, f"{host.url}/api{path}", headers={"Authorization": f"Bearer {API_TOKEN}"},
                                     timeout=10, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                last = exc
        raise AssertionError(f"no host answers the API: {last}")

    def liaison_id(self, code: str) -> int:
        liaison = self.directory.liaison_by_code(code)
        assert liaison is not None, code
        return liaison.id

    def liaison_address(self, code: str) -> str:
        liaison = self.directory.liaison_by_code(code)
        assert liaison is not None, code
        return liaison.address

    def set_presence(self, code: str, status: str) -> None:
        response = self.api("PUT", f"/liaisons/{self.liaison_id(code)}/presence", json={"status": status})
        assert response.status_code == 200, response.text

    def presence(self, code: str) -> str:
        response = self.api("GET", f"/liaisons/{self.liaison_id(code)}/presence")
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    def logs(self, needle: str) -> list[str]:
        return [line for log in sorted(self.workdir.glob("*.log"))
                for line in log.read_text(errors="replace").splitlines() if needle in line]


STAFFED = ["UWV", "TSL", "SVB", "CAK"]  # the organisations of tests/faults/traffic.py's ten liaisons


def _staffed_only(path: Path) -> Path:
    """The Amsterdam counter reaches only the organisations with liaisons in the traffic: its menu order
    follows what is asked most (so a key does not name one organisation for good), and any key then reaches
    someone on duty."""
    directory = yaml.safe_load(path.read_text())
    for location in directory["locations"]:
        if location["code"] == "AMS":
            location["organisations"] = STAFFED
    path.write_text(yaml.safe_dump(directory, allow_unicode=True, sort_keys=False))
    return path


def _wait_for_socket(path: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


@contextmanager
def running_cluster(workdir: Path, *, time_scale: float = 10.0, settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_process())
        redis = stack.enter_context(redis_sentinel_cluster(replicas=2, min_replicas_to_write=1,
                                                           min_replicas_max_lag=10))
        database_url = postgres.url
        upgrade(database_url)
        engine = make_engine(database_url)
        stack.callback(engine.dispose)
        sessions = make_session_factory(engine)
        import_directory(path=_staffed_only(open_all_hours_directory(workdir / "directory.yaml")),
                         session_factory=sessions, hasher=FAST_PINS)

        cert = make_cert(workdir)
        https_port, http_port = free_port(), free_port()
        public_url = f"https://127.0.0.1:{https_port}"
        numbers = {line: NumberConfig(voice_url=f"{public_url}/twilio/voice/incoming",
                                      status_callback_url=f"{public_url}/twilio/voice/status")
                   for line in [PROFESSIONAL_LINE, *(f"+3185000110{i}" for i in range(1, 8))]}
        emulator = Emulator(EmulatorConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, numbers=numbers,
                                           time_scale=time_scale, webhook_ca_file=str(cert.with_name("crt.pem")),
                                           wall_clock="real", play_seconds=HOLD_MUSIC_SECONDS)).start()
        stack.callback(emulator.stop)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLROUTER_", "PROMETHEUS_"))}
        env.update({
            "CALLROUTER_ENVIRONMENT": "test",
            "CALLROUTER_DATABASE_URL": database_url,
            "CALLROUTER_REDIS_SENTINELS": redis.addresses,
            "CALLROUTER_REDIS_SENTINEL_SERVICE": redis.service,
            "CALLROUTER_PUBLIC_URL": public_url,
            "CALLROUTER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "CALLROUTER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "CALLROUTER_TWILIO_API_BASE_URL": emulator.base_url,
            "CALLROUTER_API_TOKENS": f"{API_TOKEN}:admin:*",
            "CALLROUTER_WIDEN_AFTER_SECONDS": "3",
            # The service's default bridge, the conference room; FAULT_TEST_BRIDGE=dial runs the suite on the
            # two-party <Dial> bridge (tests/faults/traffic.py reads both).
            "CALLROUTER_BRIDGE": os.environ.get("FAULT_TEST_BRIDGE", "conference"),
            # A liaison's phone rings 1 s real (10 simulated; the traffic's liaisons answer after 1 simulated);
            # the reconciler returns an offer or callback attempt lost in a fault after it and its margin.
            "CALLROUTER_DIAL_TIMEOUT_SECONDS": "10",
            # The reconciler's margin 15 s (the default 30 s): a caller whose liaison's leg was lost with a killed
            # node waits 25-35 s in the room, not 40-50, and a webhook held up by a fault (at most 13 s seen)
            # still comes well within it.
            "CALLROUTER_RECONCILE_MARGIN_SECONDS": "15",
            # The directory is cached as deployed (5 s, the default): it is imported before the hosts start and
            # not changed during the suite (the e2e stack's 0 s made every webhook read it from SQL again).
            "CALLROUTER_LOG_LEVEL": "WARNING",
            # Hold music, as in production: a waiting call asks for its next turn once a loop (60 s simulated,
            # 6 s real), not every 5 s of the silent pause (2 webhooks a second per waiting call at time_scale 10:
            # 100 waiting calls were more than 2 shared cores could answer within Twilio's 15 s).
            "CALLROUTER_HOLD_MUSIC_URL": f"{public_url}/static/hold.mp3",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            **(settings or {}),
        })
        hosts = {name: Host(name, address, free_port(), env, workdir) for name, address in HOSTS.items()}
        for host in hosts.values():
            stack.callback(host.stop)

        sock = workdir / "haproxy.sock"
        hp_env = haproxy_env(cert=cert, sock=sock, https_port=https_port, http_port=http_port, web_ports=[])
        hp_env.update({"CALLROUTER_WEB1": f"{hosts['a'].address}:{hosts['a'].port}",
                       "CALLROUTER_WEB2": f"{hosts['b'].address}:{hosts['b'].port}"})
        hp_log = workdir / "haproxy.log"
        with hp_log.open("wb") as out:
            haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(CONFIG)], env=hp_env, stdout=out,
                                       stderr=subprocess.STDOUT)
        stack.callback(_kill_group_plain, haproxy)
        _wait_for_socket(sock, haproxy, hp_log)

        cluster = Cluster(hosts=hosts, emulator=emulator, redis=redis, postgres=postgres, public_url=public_url,
                          haproxy_socket=sock, ca_file=cert.with_name("crt.pem"), sessions=sessions,
                          directory=SqlDirectory(sessions, ttl_seconds=0), workdir=workdir, env=env)
        stack.callback(lambda: _kill_group(cluster.cron, signal.SIGKILL))
        stack.callback(lambda: [_kill_group_plain(proc) for proc in cluster.spawned])
        cluster.ensure_running()
        yield cluster


def _kill_group_plain(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
