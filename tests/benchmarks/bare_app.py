"""The baseline for bench_webhooks: a bare FastAPI endpoint that reads the form body and returns constant TwiML.

Started with the same uvicorn command line as the service:
    python -m uvicorn tests.benchmarks.bare_app:create_app --factory --workers 2 --no-access-log
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

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

    return app
