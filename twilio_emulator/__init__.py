"""A faithful local emulator of Twilio Programmable Voice for one account, for tests and demos."""

from .calls import Event
from .client import emulator_client, rewriting_http_client
from .config import EmulatorConfig, NumberConfig
from .driver import CallHandle, Emulator
from .people import CallerScript, Phone

__all__ = [
    "CallHandle",
    "CallerScript",
    "Emulator",
    "EmulatorConfig",
    "Event",
    "NumberConfig",
    "Phone",
    "emulator_client",
    "rewriting_http_client",
]
