from __future__ import annotations

from collections.abc import Iterator

import pytest
from twilio.request_validator import RequestValidator

from tests.emulator.customer_app import CustomerApp, Received
from twilio_emulator import Emulator, EmulatorConfig, NumberConfig

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "emulator-test-token"
LINE = "+3185000001"  # the professional line the emulated public calls
CALLER = "+31612345678"
LIAISON = "+31687654321"
SCALE = 50.0


@pytest.fixture(scope="session")
def customer_app() -> Iterator[CustomerApp]:
    app = CustomerApp().start()
    yield app
    app.stop()


@pytest.fixture()
def app(customer_app: CustomerApp) -> Iterator[CustomerApp]:
    customer_app.reset()
    yield customer_app
    customer_app.reset()


def make_config(app: CustomerApp, **overrides: object) -> EmulatorConfig:
    numbers = {LINE: NumberConfig(app.url("/twiml/voice"), status_callback_url=app.url("/status"))}
    settings: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "numbers": numbers,
                                   "time_scale": SCALE}
    settings.update(overrides)
    return EmulatorConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture()
def emulator(app: CustomerApp) -> Iterator[Emulator]:
    with Emulator(make_config(app)) as em:
        yield em
        em.wait_until_idle(timeout=10)


def valid_signature(received: Received) -> bool:
    """Checks X-Twilio-Signature over the exact URL, as the customer app would."""
    params = received.params if received.method == "POST" else {}
    return RequestValidator(AUTH_TOKEN).validate(received.url, params, received.headers["x-twilio-signature"])


def no_application_errors(*handles: object) -> bool:
    return all(not h.events("application_error") and not h.events("emulator_error") for h in handles)  # type: ignore[attr-defined]
