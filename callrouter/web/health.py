"""GET /healthz (the process is up) and GET /readyz (its dependencies are), for a load balancer.

/readyz runs every check of the container (callrouter/adapters/health.py) in a thread of its own and
answers by a deadline (CALLROUTER_READINESS_TIMEOUT_SECONDS, default 0.8 s) whatever a dependency does:
a check that has not answered by then counts as down ("timeout"). A check still running from an earlier
request is waited for again rather than started twice, so a hung dependency costs one thread, not one
per probe of the load balancer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from callrouter.adapters.health import NotReady, Probe
from callrouter.bootstrap import Container

log = logging.getLogger("callrouter.health")


class Readiness:
    def __init__(self, probes: Mapping[str, Probe], *, timeout_seconds: float):
        self.probes = dict(probes)
        self.timeout_seconds = timeout_seconds
        self._executor: ThreadPoolExecutor | None = None
        self._running: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._last_failing: frozenset[str] | None = None

    def _start(self) -> dict[str, Future[str]]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=max(1, len(self.probes)),
                                                    thread_name_prefix="readyz")
            for name, probe in self.probes.items():
                running = self._running.get(name)
                if running is None or running.done():
                    self._running[name] = self._executor.submit(probe.check)
            return dict(self._running)

    def check(self) -> tuple[bool, dict[str, object]]:
        """(ready, the JSON body): every dependency by name with its state, "up", "down" or "timeout"."""
        deadline = time.monotonic() + self.timeout_seconds
        futures = self._start()
        checks: dict[str, dict[str, object]] = {}
        for name, future in futures.items():
            probe = self.probes[name]
            try:
                checks[name] = {"state": "up", "detail": future.result(timeout=max(0.0, deadline - time.monotonic()))}
            except FutureTimeout:
                checks[name] = {"state": "timeout", "setting": probe.setting,
                                "detail": f"no answer within {self.timeout_seconds:g} s"}
            except NotReady as exc:
                checks[name] = {"state": "down", "setting": exc.setting, "detail": exc.detail}
            except Exception as exc:  # noqa: BLE001 - any failure of a check means not ready
                checks[name] = {"state": "down", "setting": probe.setting, "detail": f"{type(exc).__name__}: {exc}"}
        failing = frozenset(name for name, found in checks.items() if found["state"] != "up")
        self._log_change(failing, checks)
        body: dict[str, object] = {"status": "not ready" if failing else "ready", "checks": checks}
        if failing:
            body["missing"] = sorted(failing)
        return not failing, body

    def _log_change(self, failing: frozenset[str], checks: Mapping[str, Mapping[str, object]]) -> None:
        if failing == self._last_failing:
            return
        self._last_failing = failing
        if not failing:
            log.info("ready: %s", ", ".join(checks))
        for name in sorted(failing):
            found = checks[name]
            setting = f" ({found['setting']})" if found.get("setting") else ""
            log.warning("not ready: %s%s %s: %s", name, setting, found["state"], found["detail"])

    def close(self) -> None:
        """Let go of the threads (a hung check's thread ends with its socket timeout); a later check starts anew."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._running.clear()


def install_health(app: FastAPI, container: Container) -> Readiness:
    readiness = Readiness(container.readiness(), timeout_seconds=container.settings.readiness_timeout_seconds)

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        """The process is up and serving; says nothing about Redis or the database (that is /readyz)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def ready() -> JSONResponse:
        ok, body = readiness.check()
        return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    return readiness
