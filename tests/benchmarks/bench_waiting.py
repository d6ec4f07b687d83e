"""Many waiting callers (issue 13, target 3): 1,000 calls on hold, one web process.

Run: .venv/bin/python -m tests.benchmarks.bench_waiting [--calls 1000] [--every 10] [--seconds 30]

Starts redis-server, a SQLite file and the service as deployed but with one web process (`uvicorn --workers
1`; the demo directory open all hours, one UWV liaison on duty but away, so every call waits). `--calls` new calls from
a caseworker go through the menus to UWV / WW as Twilio would post them (signed, to the URL with the turn
the last TwiML handed out) until they are enqueued. Then each call's hold loop posts the wait webhook
(the Enqueue's waitUrl, or the Redirect its last answer gave) every `--every` seconds, as Twilio does
when its hold music ends, for `--seconds`: wait-webhook p50/p99, the web process's resident memory at
the end, and the waiting figure of the JSON API (the wallboard's source: the router's queue), which must
equal the number of calls. Exits 1 when a target is missed or an answer is not valid TwiML.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from tests.benchmarks.bench_webhooks import DEPLOYED_SETTINGS, database
from tests.e2e.stack import ACCOUNT_SID, AMSTERDAM_CASEWORKER, API_TOKEN, AUTH_TOKEN, PROFESSIONAL_LINE, running_stack
from tests.servers import redis_server

RSS_MB, WAIT_P99_MS = 150.0, 50.0
MENU = ["#", "1", "1"]  # no case reference, UWV, WW
RETRIED = [0]  # requests sent again after a connection error


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Connections:
    """A few keep-alive HTTP/1.1 connections to the web process, shared by every caller: plain asyncio streams,
    so the load generator (on the same two cores) costs a fraction of what an httpx client does and the
    latency measured is the service's, not the generator's."""

    def __init__(self, app_url: str, size: int):
        parts = urlsplit(app_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.size, self.idle = size, asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]()
        for _ in range(size):
            self.idle.put_nowait(None)  # opened on first use

    async def post(self, path: str, body: bytes, signature: str) -> tuple[int, bytes]:
        connection = await self.idle.get()
        try:
            for attempt in range(3):  # a keep-alive connection the server closed meanwhile: a new one, as Twilio would
                try:
                    if connection is None:
                        connection = await asyncio.open_connection(self.host, self.port)
                    return await self._exchange(connection, path, body, signature)
                except (ConnectionError, asyncio.IncompleteReadError):
                    RETRIED[0] += 1
                    if connection is not None:
                        connection[1].close()
                    connection = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")
        finally:
            self.idle.put_nowait(connection)

    async def _exchange(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, body: bytes,
                        signature: str) -> tuple[int, bytes]:
        reader, writer = connection
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)


class Caller:
    def __init__(self, connections: Connections, app_url: str):
        self.connections, self.app_url = connections, app_url
        self.validator = RequestValidator(AUTH_TOKEN)
        self.sid = "CA" + secrets.token_hex(16)
        self.wait_url = ""

    def params(self, **extra: str) -> dict[str, str]:
        return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                "CallStatus": "in-progress", "Direction": "inbound", "From": AMSTERDAM_CASEWORKER,
                "To": PROFESSIONAL_LINE, "Caller": AMSTERDAM_CASEWORKER, "Called": PROFESSIONAL_LINE, **extra}

    async def post(self, url: str, params: dict[str, str]) -> ET.Element:
        signature = self.validator.compute_signature(url, params)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, body = await self.connections.post(path, urlencode(params).encode(), signature)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body[:200]!r}")
        return ET.fromstring(body)

    async def to_the_queue(self) -> None:
        root = await self.post(self.app_url + "/twilio/voice/incoming", self.params(CallStatus="ringing"))
        for digits in MENU:
            gather = root.find("Gather")
            if gather is None:
                break
            root = await self.post(gather.get("action", ""), self.params(Digits=digits))
        enqueue = root.find("Enqueue")
        if enqueue is None:
            raise RuntimeError(f"call {self.sid} not enqueued: {ET.tostring(root)[:300]!r}")
        self.wait_url = enqueue.get("waitUrl", "")

    async def hold_once(self, queue_seconds: int) -> float:
        started = time.perf_counter()
        root = await self.post(self.wait_url, self.params(QueueTime=str(queue_seconds), QueuePosition="1",
                                                           QueueSid="QU" + "0" * 32, CurrentQueueSize="1",
                                                           AvgQueueTime="0"))
        took = time.perf_counter() - started
        redirect = root.find("Redirect")
        if redirect is not None and redirect.text:  # the next turn of the hold loop
            self.wait_url = redirect.text.strip()
        return took


async def run(app_url: str, args: argparse.Namespace) -> tuple[list[float], dict[float, float]]:
    connections = Connections(app_url, 64)
    callers = [Caller(connections, app_url) for _ in range(args.calls)]
    gate = asyncio.Semaphore(16)

    async def enqueue(caller: Caller) -> None:
        async with gate:
            await caller.to_the_queue()

    started = time.perf_counter()
    await asyncio.gather(*(enqueue(c) for c in callers))
    print(f"{args.calls} calls enqueued in {time.perf_counter() - started:.1f} s", flush=True)
    served_before = await asyncio.to_thread(served_waits, app_url)
    latencies: list[float] = []
    loop_started = time.perf_counter()

    async def hold(caller: Caller, offset: float) -> None:
        await asyncio.sleep(offset)
        while time.perf_counter() - loop_started < args.seconds:
            due = time.perf_counter() + args.every
            latencies.append(await caller.hold_once(round(time.perf_counter() - started)))
            await asyncio.sleep(max(due - time.perf_counter(), 0))

    await asyncio.gather(*(hold(c, i * args.every / args.calls) for i, c in enumerate(callers)))
    served_after = await asyncio.to_thread(served_waits, app_url)
    return latencies, {le: served_after.get(le, 0) - n for le, n in served_before.items()}


def served_waits(app_url: str) -> dict[float, float]:
    """The web process's own histogram of the wait webhook (GET /metrics): cumulative count per bucket bound."""
    text = httpx.get(f"{app_url}/metrics", timeout=30).text
    found: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("callrouter_webhook_seconds_bucket{") and 'path="/twilio/voice/wait"' in line:
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            found[float(bound)] = float(line.rsplit(" ", 1)[1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between a call's wait webhooks")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the hold loops run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-bench-waiting-"))
    try:
        with redis_server() as redis_url, database(False, workdir) as db_url, \
                running_stack(redis_url=redis_url, database_url=db_url, workdir=workdir, workers_per_process=1,
                              settings={**DEPLOYED_SETTINGS, "CALLROUTER_LOG_LEVEL": "ERROR"}) as stack:
            # on duty but not available (away): the calls wait instead of hearing "nobody on duty"
            assert stack.set_presence("uwv-jan", "away").status_code == 200
            before = rss_mb(stack.processes[0].pid)
            latencies, served = asyncio.run(run(stack.app_url, args))
            after = rss_mb(stack.processes[0].pid)
            answer = httpx.get(f"{stack.app_url}/api/queues/UWV", headers={"Authorization": f"Bearer {API_TOKEN}"})
            waiting = int(answer.json()["waiting"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = cuts[49] * 1e3, cuts[98] * 1e3
    rate = args.calls / args.every
    print(f"one web process, {args.calls} calls waiting, each posting the wait webhook every {args.every:g} s "
          f"({rate:.0f}/s) for {args.seconds:g} s: {len(latencies)} wait webhooks")
    print(f"wait webhook p50 {p50:.1f} ms, p99 {p99:.1f} ms (target <= {WAIT_P99_MS:g} ms), as the callers saw it")
    total = served.get(float("inf"), 0)
    if total:
        within = ", ".join(f"{served[b] / total:.1%} <= {b * 1e3:g} ms" for b in (0.01, 0.025, 0.05, 0.1) if b in served)
        print(f"    the web process's own histogram (/metrics, from the request read to the reply): {within}")
    print(f"    load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores shared with the load generator)")
    print(f"resident memory {before:.0f} MB before the calls, {after:.0f} MB with them (target <= {RSS_MB:g} MB)")
    print(f"requests sent again after a connection error: {RETRIED[0]}")
    print(f"waiting figure (JSON API, the wallboard's source): {waiting} (must be {args.calls})")
    return 0 if p99 <= WAIT_P99_MS and after <= RSS_MB and waiting == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
