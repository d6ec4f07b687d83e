"""The demo call (`callrouter demo call`): a call placed through the Twilio emulator, its transcript as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

LOCAL_EMULATOR = "http://127.0.0.1:8010"  # where make run starts it
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")


class NoEmulator(RuntimeError):
    """No Twilio emulator answers at the URL."""


def emulator_url(override: str, configured: str) -> str:
    """The emulator's URL: the one asked for, else CALLROUTER_TWILIO_API_BASE_URL unless that is Twilio's own."""
    configured = configured.rstrip("/")
    return (override or (configured if "twilio.com" not in configured else LOCAL_EMULATOR)).rstrip("/")


def transcript_line(event: dict[str, object]) -> str:
    heard = event.get("with")  # a <Dial> bridge names one party; a conference room's `hearing` a list of them
    if isinstance(heard, list):
        heard = ", ".join(str(who) for who in heard)
    text = event.get("text") or event.get("digits") or heard or event.get("url") or ""
    return f"{event['t']:7.1f}s  {event['kind']:<16} {text}"


def place_call(base: str, *, from_: str, to: str, digits: list[str], timeout: float,
               say: Callable[[str], None]) -> bool:
    """Place the call and `say` each transcript line as it happens; False when it still runs after `timeout`."""
    try:
        placed = httpx.post(f"{base}/_emulator/calls", json={"from": from_, "to": to, "script": {"digits": digits}},
                            timeout=10)
    except httpx.ConnectError:
        raise NoEmulator(f"no Twilio emulator answers at {base}: start the service with `make run` first") from None
    placed.raise_for_status()
    sid = placed.json()["sid"]
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        detail = httpx.get(f"{base}/_emulator/calls/{sid}", timeout=10).json()
        for event in detail["transcript"][seen:]:
            say(transcript_line(event))
        seen = len(detail["transcript"])
        if detail.get("status") in ENDED:
            return True
        time.sleep(0.5)
    return False
