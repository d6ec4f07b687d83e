"""Recordings made by <Record>: the stored recording, its fake audio and its status callbacks."""

from __future__ import annotations

import asyncio
import io
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calls import new_sid
from .webhooks import API_VERSION

if TYPE_CHECKING:
    from .calls import Call
    from .engine import Engine

SAMPLE_RATE = 8000  # Twilio records phone calls at 8 kHz, mono
RECORDING_SOURCE = "RecordVerb"


@dataclass
class RecordingStatusCallback:
    url: str
    method: str = "POST"
    events: tuple[str, ...] = ("completed",)


@dataclass
class Recording:
    """One recording made by <Record> on a call leg."""

    sid: str
    account_sid: str
    call_sid: str
    started_at: float  # simulated seconds, like transcript times
    duration: float = 0.0  # seconds of audio
    status: str = "in-progress"  # in-progress | completed | absent

    @classmethod
    def start(cls, call: Call, now: float) -> Recording:
        return cls(new_sid("RE"), call.account_sid, call.sid, now)

    @property
    def seconds(self) -> int:
        """The duration as Twilio reports it: whole seconds (at least 1 for a recording with sound)."""
        return max(1, int(round(self.duration))) if self.duration > 0 else 0

    def path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}"

    def url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path()

    def wav(self) -> bytes:
        """A valid WAV file of the recording's length: 16-bit PCM, 8 kHz mono, silence."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(b"\x00\x00" * int(round(self.seconds * SAMPLE_RATE)))
        return buf.getvalue()

    def resource(self, engine: Engine) -> dict[str, Any]:
        """The Recording resource as GET …/Recordings/{sid}.json returns it."""
        clock = engine.clock
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": self.call_sid,
            "channels": 1,
            "conference_sid": None,
            "date_created": clock.rfc2822(self.started_at),
            "date_updated": clock.rfc2822(self.started_at + self.duration),
            "duration": str(self.seconds) if self.status == "completed" else "-1",
            "encryption_details": None,
            "error_code": None,
            "media_url": self.url(engine.base_url),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "source": RECORDING_SOURCE,
            "start_time": clock.rfc2822(self.started_at),
            "status": self.status,
            "subresource_uris": {
                "add_on_results": f"{self.path()}/AddOnResults.json",
                "transcriptions": f"{self.path()}/Transcriptions.json",
            },
            "track": "both",
            "uri": f"{self.path()}.json",
        }


def status_params(engine: Engine, rec: Recording, status: str) -> dict[str, str]:
    """The parameters of a recordingStatusCallback request (not the standard voice parameters)."""
    params = {
        "AccountSid": rec.account_sid,
        "CallSid": rec.call_sid,
        "RecordingSid": rec.sid,
        "RecordingUrl": rec.url(engine.base_url),
        "RecordingStatus": status,
        "RecordingChannels": "1",
        "RecordingSource": RECORDING_SOURCE,
        "RecordingStartTime": engine.clock.rfc2822(rec.started_at),
    }
    if status != "in-progress":
        params["RecordingDuration"] = str(rec.seconds)
    if status == "absent":
        # Twilio docs unclear: which error an empty <Record> reports; the support article on
        # recording status callbacks lists 16101 (too short) and 16102 (silent); the emulator's
        # empty recordings are silent, so it sends 16102.
        params["ErrorCode"] = "16102"
    return params


def send_status(engine: Engine, call: Call, rec: Recording, cb: RecordingStatusCallback | None,
                status: str) -> None:
    """Send the recording status callback for this event, if it was asked for (in the background)."""
    if cb is None or status not in cb.events or engine.closing:
        return
    params = status_params(engine, rec, status)
    previous = call.background[-1] if call.background else None
    call.background.append(engine.spawn(_send_after(engine, call, previous, cb, params)))


async def _send_after(engine: Engine, call: Call, previous: asyncio.Task[Any] | None,
                      cb: RecordingStatusCallback, params: dict[str, str]) -> None:
    if previous is not None:  # one after another, like the call's status callbacks
        await asyncio.gather(previous, return_exceptions=True)
    await engine.http.send(call, cb.url, cb.method, params, "recording_status_callback")
