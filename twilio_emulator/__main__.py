"""python -m twilio_emulator --port P --config file.json

The config file holds the EmulatorConfig fields (account_sid, auth_token, numbers, time_scale, ...)
and optionally "phones": {address: {behaviour, answer_after, talk_seconds, whisper_digits, record}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import uvicorn

from .config import EmulatorConfig
from .engine import Engine
from .people import Phone
from .server import build_app, uvicorn_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m twilio_emulator", description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    data = json.loads(args.config.read_text())
    engine = Engine(EmulatorConfig.from_dict(data))
    for address, phone in (data.get("phones") or {}).items():
        engine.phones[address] = Phone.from_dict(phone)
    engine.base_url = f"http://{args.host}:{args.port}"
    server = uvicorn.Server(uvicorn_config(build_app(engine), args.host, args.port))

    async def serve() -> None:
        await engine.open()
        try:
            print(f"Twilio emulator for {engine.config.account_sid} on {engine.base_url}", flush=True)
            await server.serve()
        finally:
            await engine.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
