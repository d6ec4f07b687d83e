from __future__ import annotations

import pytest

from callrouter.config import InsecureSettings, Settings
from callrouter.domain.privacy import mask_number, mask_numbers_in, pseudonym


def test_production_refuses_default_secrets_and_names_them() -> None:
    with pytest.raises(InsecureSettings) as raised:
        Settings(environment="production")
    message = str(raised.value)
    assert "CALLROUTER_TWILIO_AUTH_TOKEN" in message and "CALLROUTER_PSEUDONYM_KEY" in message
    assert "CALLROUTER_API_TOKENS" in message


def test_production_starts_with_real_secrets() -> None:
    settings = Settings(environment="production", twilio_auth_token="t" * 32, pseudonym_key="k" * 32,
                        api_tokens="a-long-random-token-of-32-chars-or-more:admin:*", callback_number_key="c" * 32,
                        public_url="https://bel.example.nl")
    assert settings.environment == "production"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLROUTER_PUBLIC_URL", "https://bel.example.nl")
    monkeypatch.setenv("CALLROUTER_WIDEN_AFTER_SECONDS", "45")
    settings = Settings()
    assert settings.public_url == "https://bel.example.nl" and settings.widen_after_seconds == 45


def test_a_pseudonym_is_keyed_and_stable() -> None:
    one = pseudonym("+31612345601", key=b"key-1")
    assert one == pseudonym("+31612345601", key=b"key-1")
    assert one != pseudonym("+31612345601", key=b"key-2")
    assert "12345601" not in one


@pytest.mark.parametrize(("number", "masked"), [
    ("+31612345601", "+316******01"), ("0612345601", "061*****01"), ("1400", "****"),
])
def test_numbers_are_masked(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_numbers_in_log_lines_are_masked() -> None:
    line = mask_numbers_in("call from +31612345601 to 020 555 0102 at step 3")
    assert "12345601" not in line and "5550102" not in line and "step 3" in line
