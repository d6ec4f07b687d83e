"""The baselines for bench_webhooks: a bare FastAPI endpoint that reads the form body and returns constant TwiML,
and two "floor" endpoints that add the least any design must do before answering a new call.

Started with the same uvicorn command line as the service:
    python -m uvicorn tests.benchmarks.bare_app:create_app --factory --workers 2 --no-access-log

- `POST /twilio/voice/incoming`: parse the form, constant TwiML (the issue's baseline).
- `POST /floor/redis`: also one Redis round trip (SET NX of the request's CallSid, as a replay guard does),
  from a worker thread as the service does its blocking work. Needs BARE_REDIS_URL.
- `POST /floor/record`: also the call on record: one INSERT of the CallSid into a SQLite file (WAL,
  synchronous=NORMAL, BEGIN IMMEDIATE, as the service's engine) and its COMMIT, with plain sqlite3 rather
  than SQLAlchemy. Needs BARE_REDIS_URL and BARE_SQLITE_PATH.
- `POST /floor/record-pg`: the same on PostgreSQL: one INSERT and its COMMIT with plain psycopg, one
  connection per worker thread, the server's settings as the service gets them. Needs BARE_REDIS_URL and
  BARE_POSTGRES_URL (a libpq URL).

The floors are not a design to copy: they check no signature, keep no events and render nothing. They show
what the machine allows once a request has to wait for another process (Redis) and for a durable write.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hallo</Say></Response>'


def create_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.post("/twilio/voice/incoming", include_in_schema=False)
    async def incoming(request: Request) -> Response:
        await request.form()  # parse the body as the service has to
        return Response(TWIML, media_type="application/xml")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    redis_url, sqlite_path = os.environ.get("BARE_REDIS_URL"), os.environ.get("BARE_SQLITE_PATH")
    if redis_url:
        _add_floors(app, redis_url, sqlite_path, os.environ.get("BARE_POSTGRES_URL"))
    return app


def _add_floors(app: FastAPI, redis_url: str, sqlite_path: str | None, postgres_url: str | None) -> None:
    from redis import Redis

    redis = Redis.from_url(redis_url)
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(sqlite_path or ":memory:", timeout=30, isolation_level=None,
                                                check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS floor_calls (sid TEXT PRIMARY KEY, received TEXT)")
        return conn

    def claim(sid: str) -> None:
        redis.set(f"floor:{sid}", b"", nx=True, ex=600)

    def claim_and_record(sid: str) -> None:
        claim(sid)
        conn = connection()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO floor_calls VALUES (?, datetime('now'))", (sid,))
        conn.execute("COMMIT")

    async def call_sid(request: Request) -> str:
        return dict(parse_qsl((await request.body()).decode())).get("CallSid", "")

    @app.post("/floor/redis", include_in_schema=False)
    async def floor_redis(request: Request) -> Response:
        await run_in_threadpool(claim, await call_sid(request))
        return Response(TWIML, media_type="application/xml")

    if sqlite_path:
        @app.post("/floor/record", include_in_schema=False)
        async def floor_record(request: Request) -> Response:
            await run_in_threadpool(claim_and_record, await call_sid(request))
            return Response(TWIML, media_type="application/xml")

    if postgres_url:
        import psycopg

        with psycopg.connect(postgres_url) as setup, setup.cursor() as cur:  # once, before any request
            cur.execute("SELECT pg_advisory_xact_lock(4242)")  # both uvicorn workers start at once
            cur.execute("CREATE TABLE IF NOT EXISTS floor_calls (sid TEXT PRIMARY KEY, received TIMESTAMPTZ)")

        def pg_connection() -> psycopg.Connection:  # type: ignore[type-arg]
            conn = getattr(local, "pg", None)
            if conn is None:
                conn = local.pg = psycopg.connect(postgres_url)
            return conn

        def claim_and_record_pg(sid: str) -> None:
            claim(sid)
            conn = pg_connection()
            with conn.cursor() as cur:
                cur.execute("INSERT INTO floor_calls VALUES (%s, now()) ON CONFLICT DO NOTHING", (sid,))
            conn.commit()

        @app.post("/floor/record-pg", include_in_schema=False)
        async def floor_record_pg(request: Request) -> Response:
            await run_in_threadpool(claim_and_record_pg, await call_sid(request))
            return Response(TWIML, media_type="application/xml")
