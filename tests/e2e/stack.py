"""The whole service as deployed, for end-to-end tests and benchmarks: uvicorn web processes, the
Twilio emulator, a real Redis and a real database, with the demo directory open around the clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from callrouter.adapters.pins import Argon2Pins
from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import Settings
from callrouter.demo.day_stack import wait_healthy
from callrouter.demo.setup import open_all_hours
from tests.servers import free_port
from twilio_emulator.config import EmulatorConfig, NumberConfig
from twilio_emulator.driver import CallHandle, Emulator
from twilio_emulator.people import CallerScript, Phone

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "e2e0" * 8
AUTH_TOKEN = "e2e-auth-token-0123456789abcdef"
API_TOKEN = "e2e-admin-token"
PROFESSIONAL_LINE = "+31850001000"
UWV_CITIZEN_LINE = "+31850001101"
AMSTERDAM_CASEWORKER = "+31612345601"  # Sanne de Vries, registered phone
# Cheap argon2 parameters for the demo PINs in tests: the hash carries them, so checks stay cheap too.
FAST_PINS = Argon2Pins(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def open_all_hours_directory(target: Path) -> Path:
    """The demo directory with every organisation open all week, so tests do not depend on the clock."""
    return open_all_hours(ROOT / "demo" / "directory.yaml", target)


@dataclass
class Stack:
    emulator: Emulator
    app_url: str
    database_url: str
    directory: SqlDirectory
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        """The bridge this stack's service uses: CALLROUTER_BRIDGE, else the settings' default."""
        return self.env.get("CALLROUTER_BRIDGE") or str(Settings.model_fields["bridge"].default)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """An RQ worker (with its scheduler) as the Procfile starts it."""
        proc = subprocess.Popen([sys.executable, "-m", "callrouter.cli", "worker", "--with-scheduler",
                                 "--logging-level", "WARNING", "callrouter"],
                                env=self.env, cwd=ROOT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its work horse: a crash in the middle of a job."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.workers.remove(proc)

    def liaison_id(self, code: str) -> int:
        liaison = self.directory.liaison_by_code(code)
        assert liaison is not None, code
        return liaison.id

    def set_presence(self, code: str, status: str) -> httpx.Response:
        return httpx.put(f"{self.app_url}/api/liaisons/{self.liaison_id(code)}/presence", json={"status": status},
                         headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)

    def phone(self, code: str, phone: Phone) -> Phone:
        liaison = self.directory.liaison_by_code(code)
        assert liaison is not None
        return self.emulator.register_phone(liaison.address, phone)

    def call(self, *, from_: str, to: str = PROFESSIONAL_LINE, digits: list[str | None] | None = None,
             **script: object) -> CallHandle:
        return self.emulator.place_call(from_=from_, to=to, script=CallerScript(digits=digits or [], **script))


@contextmanager
def running_stack(*, redis_url: str, database_url: str, workdir: Path, web_processes: int = 1,
                  workers_per_process: int = 2, time_scale: float = 20.0,
                  settings: dict[str, str] | None = None,
                  emulator_options: dict[str, object] | None = None) -> Iterator[Stack]:
    """settings: CALLROUTER_* overrides; emulator_options: more EmulatorConfig fields (e.g. wall_clock)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    import_directory(path=open_all_hours_directory(workdir / "directory.yaml"), session_factory=sessions,
                     hasher=FAST_PINS)
    ports = [free_port() for _ in range(web_processes)]
    app_url = f"http://127.0.0.1:{ports[0]}"
    numbers = {line: NumberConfig(voice_url=f"{app_url}/twilio/voice/incoming",
                                  status_callback_url=f"{app_url}/twilio/voice/status")
               for line in [PROFESSIONAL_LINE, *(f"+3185000110{i}" for i in range(1, 8))]}
    emulator = Emulator(EmulatorConfig(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, numbers=numbers,
                                       time_scale=time_scale, **(emulator_options or {}))).start()  # type: ignore[arg-type]
    env = {
        **os.environ,
        "CALLROUTER_ENVIRONMENT": "test",
        "CALLROUTER_DATABASE_URL": database_url,
        "CALLROUTER_REDIS_URL": redis_url,
        "CALLROUTER_PUBLIC_URL": app_url,
        "CALLROUTER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CALLROUTER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CALLROUTER_TWILIO_API_BASE_URL": emulator.base_url,
        "CALLROUTER_API_TOKENS": f"{API_TOKEN}:admin:*",
        "CALLROUTER_WIDEN_AFTER_SECONDS": "3",
        "CALLROUTER_DIAL_TIMEOUT_SECONDS": "20",
        "CALLROUTER_DIRECTORY_CACHE_SECONDS": "0",
        "CALLROUTER_LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    processes = []
    try:
        for port in ports:
            # Every web process answers for the same public URL, as behind a load balancer.
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "callrouter.web.app:create_app", "--factory", "--host",
                 "127.0.0.1", "--port", str(port), "--workers", str(workers_per_process), "--no-access-log",
                 "--timeout-keep-alive", "75"],
                env=env, cwd=ROOT, start_new_session=True))
        for port, proc in zip(ports, processes, strict=True):
            wait_healthy(f"http://127.0.0.1:{port}", proc)
        stack = Stack(emulator=emulator, app_url=app_url, database_url=database_url,
                      directory=SqlDirectory(sessions, ttl_seconds=0), processes=processes, env=env)
        yield stack
        for proc in list(stack.workers):
            stack.kill_worker(proc)
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        emulator.stop()
        engine.dispose()
