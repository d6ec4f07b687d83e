"""A faithful local emulator of Twilio Programmable Voice for one account, for tests and demos."""

from .calls import Event
from .client import emulator_client, rewriting_http_client
from .conference import ANNOUNCEMENT, HOLD_MUSIC, WAIT_MUSIC
from .config import EmulatorConfig, NumberConfig
from .driver import CallHandle, ConferenceHandle, Emulator
from .people import CallerScript, Phone

__all__ = [
    "ANNOUNCEMENT",
    "HOLD_MUSIC",
    "WAIT_MUSIC",
    "CallHandle",
    "CallerScript",
    "ConferenceHandle",
    "Emulator",
    "EmulatorConfig",
    "Event",
    "NumberConfig",
    "Phone",
    "emulator_client",
    "rewriting_http_client",
]
