"""Operations metrics for Prometheus at GET /metrics (see docs/operations.md).

Two kinds of metric:

* ``callrouter_webhook_seconds{path}``: a histogram of the time each verified Twilio webhook takes,
  observed through WebhookEdge's ``latency`` hook; ``path`` is one of the fixed webhook routes
  (anything else would be "other"), so the label set is bounded.
* Gauges read at scrape time from the shared state by ``LiveCollector`` (Redis, SQL, RQ): the same
  answer from any web process, so they need no multi-process bookkeeping.

Processes: uvicorn runs several workers and a scrape reaches one of them. Without
``PROMETHEUS_MULTIPROC_DIR`` the histogram is that process's own; with it (a directory, emptied
before the service starts, set in the environment before Python starts) prometheus-client's
multiprocess mode writes every process's histogram to files there and each scrape sums them.

Access: only from ``CALLROUTER_METRICS_ALLOW_NETWORKS`` (default loopback), with
``Authorization: Bearer <CALLROUTER_METRICS_TOKEN>`` when a token is set. Without a token, a request
that came through a proxy (Forwarded / X-Forwarded-For / X-Real-IP) is refused, since its peer
address says nothing about its origin, and in production /metrics is refused altogether.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from rq.registry import FailedJobRegistry

from callrouter.adapters.redis_keys import PIN_BUCKETS
from callrouter.adapters.rq_jobs import QUEUE
from callrouter.bootstrap import Container
from callrouter.config import Settings
from callrouter.domain.callbacks import CallbackState
from callrouter.domain.queueing import Presence
from callrouter.web.twilio_webhook import WebhookEdge
from callrouter.web.voice_paths import PATHS, PREFIX

log = logging.getLogger("callrouter.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WEBHOOK_PREFIX = "/twilio/voice/"
OTHER_PATH = "other"
# Twilio gives up on a webhook after 15 s.
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


# -- scrape-time gauges ----------------------------------------------------------------------------

def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "waiting": _gauge("callrouter_calls_waiting", "Calls waiting in the queue, per organisation.",
                          ["organisation"]),
        "oldest": _gauge("callrouter_oldest_wait_seconds",
                         "How long the longest-waiting call has waited, per organisation (0: none waiting).",
                         ["organisation"]),
        "liaisons": _gauge("callrouter_liaisons", "Liaisons per presence status, per organisation.",
                           ["organisation", "status"]),
        "callbacks": _gauge("callrouter_callbacks", "Callbacks in the record, per state.", ["state"]),
        "failures": _gauge("callrouter_worker_job_failures",
                           f"Jobs in RQ's failed job registry of queue {QUEUE!r}."),
        "pin_locks": _gauge("callrouter_pin_locks",
                            "PIN-guessing buckets closed now, per kind (number, code, own): docs/security.md.",
                            ["kind"]),
        "pin_wrong": _gauge("callrouter_pin_wrong_this_hour",
                            "Wrong PINs across all codes in the current clock hour (the global limit counts these)."),
        "pin_limit": _gauge("callrouter_pin_wrong_per_hour_limit", "The global limit on wrong PINs per hour."),
        "up": _gauge("callrouter_metrics_source_up",
                     "1 when the source answered this scrape, 0 when it failed (its gauges are then missing).",
                     ["source"]),
    }


@dataclass(eq=False)  # hashable by identity: a registry keys its collectors
class LiveCollector(Collector):
    """Gauges read from Redis, SQL and RQ at every scrape; a failing source leaves out only its own."""

    container: Container

    def describe(self) -> list[Metric]:
        return list(_families().values())

    def collect(self) -> Iterator[Metric]:
        found = _families()
        up = found.pop("up")
        for source, read in (("directory_redis", self._live_queues), ("sql", self._callbacks),
                             ("rq", self._failed_jobs), ("guard", self._pin_locks)):
            try:
                read(found)
                up.add_metric([source], 1)
            except Exception:  # noqa: BLE001 - a scrape reports what it can
                log.exception("metrics.source_failed source=%s", source)
                up.add_metric([source], 0)
                for name in _SOURCE_METRICS[source]:
                    found[name] = _families()[name]  # drop the partial samples
        yield from found.values()
        yield up

    def _live_queues(self, found: dict[str, GaugeMetricFamily]) -> None:
        router = self.container.router
        now_ms = int(self.container.voice.clock.now().timestamp() * 1000)
        for org in sorted(o.code for o in self.container.directory.all_organisations()):
            found["waiting"].add_metric([org], router.waiting_count(org=org))
            oldest = router.oldest_wait_ms(org=org, now_ms=now_ms)
            found["oldest"].add_metric([org], (oldest or 0) / 1000)
            counts = router.presence_counts(org=org)
            for status in Presence:
                found["liaisons"].add_metric([org, status.value], counts.get(status, 0))

    def _callbacks(self, found: dict[str, GaugeMetricFamily]) -> None:
        counts = {state.value: 0 for state in CallbackState} | self.container.parts.callbacks.count_by_state()
        for state, count in counts.items():
            found["callbacks"].add_metric([state], count)

    def _failed_jobs(self, found: dict[str, GaugeMetricFamily]) -> None:
        registry = FailedJobRegistry(QUEUE, connection=self.container.jobs_redis)
        found["failures"].add_metric([], registry.count)


    def _pin_locks(self, found: dict[str, GaugeMetricFamily]) -> None:
        guard, now = self.container.guard, self.container.voice.clock.now()
        closed = {kind: 0 for kind in PIN_BUCKETS}
        for lock in guard.locks():
            if lock.closed(now) and lock.kind in closed:
                closed[lock.kind] += 1
        for kind, count in closed.items():
            found["pin_locks"].add_metric([kind], count)
        found["pin_wrong"].add_metric([], guard.wrong_this_hour(now))
        found["pin_limit"].add_metric([], guard.limits.global_per_hour)


_SOURCE_METRICS = {"directory_redis": ("waiting", "oldest", "liaisons"), "sql": ("callbacks",),
                   "rq": ("failures",), "guard": ("pin_locks", "pin_wrong", "pin_limit")}


# -- access ----------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"CALLROUTER_METRICS_ALLOW_NETWORKS: {exc}") from exc


@dataclass(frozen=True)
class MetricsAccess:
    networks: tuple[Network, ...]
    token: str
    production: bool

    def refusal(self, request: Request) -> Response | None:
        """None when the request may read the metrics, else the response that refuses it."""
        host = request.client.host if request.client else ""
        if not self._allowed_address(host):
            log.warning("metrics.refused reason=address client=%s", host or "-")
            return _refuse(403, "Forbidden: /metrics is not served to this address\n")
        if not self.token:
            if self.production:
                return _refuse(403, "Forbidden: set CALLROUTER_METRICS_TOKEN to serve /metrics in production\n")
            if any(name in request.headers for name in PROXY_HEADERS):
                log.warning("metrics.refused reason=proxied client=%s", host)
                return _refuse(403, "Forbidden: /metrics without a token is not served through a proxy\n")
            return None
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), self.token.encode()):
            log.warning("metrics.refused reason=token client=%s", host)
            return _refuse(401, "Unauthorized: Authorization: Bearer <CALLROUTER_METRICS_TOKEN> required\n",
                           {"WWW-Authenticate": "Bearer"})
        return None

    def _allowed_address(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.networks)


def _refuse(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=headers)


# -- installation ----------------------------------------------------------------------------------

def webhook_paths() -> frozenset[str]:
    """The fixed webhook routes (web/voice_paths.py)."""
    return frozenset(PREFIX + path for path in PATHS.values())


def latency_hook(histogram: Histogram, paths: frozenset[str]) -> Callable[[str, float], None]:
    def observe(path: str, seconds: float) -> None:
        histogram.labels(path=path if path in paths else OTHER_PATH).observe(seconds)

    return observe


def install_metrics(app: FastAPI, container: Container, settings: Settings, edge: WebhookEdge) -> None:
    """Time the webhooks (edge.latency) and serve GET /metrics."""
    multiproc_dir = os.environ.get(MULTIPROC_ENV, "")
    if multiproc_dir and not os.path.isdir(multiproc_dir):
        raise ValueError(f"{MULTIPROC_ENV}={multiproc_dir!r} is not a directory")
    access = MetricsAccess(networks=parse_networks(settings.metrics_allow_networks),
                           token=settings.metrics_token.get_secret_value(),
                           production=settings.environment == "production")
    if access.production and not access.token:
        log.warning("metrics.disabled reason=no CALLROUTER_METRICS_TOKEN in production")

    live = LiveCollector(container)
    own = CollectorRegistry()  # per app: tests build many apps in one process
    histogram = Histogram("callrouter_webhook_seconds", "Time to answer a verified Twilio webhook, per route.",
                          ["path"], buckets=WEBHOOK_BUCKETS, registry=None if multiproc_dir else own)
    paths = webhook_paths()
    for path in paths:
        histogram.labels(path=path)  # every route shows, with zero counts, from the start
    edge.latency = latency_hook(histogram, paths)
    if not multiproc_dir:
        own.register(live)

    def registry() -> CollectorRegistry:
        if not multiproc_dir:
            return own
        merged = CollectorRegistry()  # the histogram of every process, from the files
        MultiProcessCollector(merged, path=multiproc_dir)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        merged.register(live)
        return merged

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:  # sync: Redis and SQL run in the threadpool
        refused = access.refusal(request)
        if refused is not None:
            return refused
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(registry()), media_type=content_type)

    app.state.metrics_histogram = histogram
