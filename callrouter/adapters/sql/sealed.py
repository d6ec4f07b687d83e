"""Callback phone numbers sealed at rest: AES-256-GCM under CALLROUTER_CALLBACK_NUMBER_KEY.

The column type `SealedNumber` seals on the way into SQL and opens on the way out, so the row's
attribute is always the number (or its mask) and no query in the record ever holds it in the clear.
A stored value is one of:

- `enc1:<base64url(nonce || ciphertext+tag)>`: a sealed number;
- a masked number (`+316******01`, has a `*`): what the retention job leaves, not personal data on its
  own, kept as it is so the job can find the unmasked ones with a plain LIKE;
- anything else: a number from before migration 0008 (read as it is; the migration seals them).

The key is a setting (a secret of at least 32 characters, apart from the pseudonym key); the AES key
is derived from it with HKDF-SHA256. The composition root installs it with `use_key` at start-up;
until then the development key is used (production refuses to start with that one).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from callrouter.config import DEV_CALLBACK_NUMBER_KEY

PREFIX = "enc1:"
_AAD = b"callrouter:callbacks.phone_number"
_NONCE_BYTES = 12
STORED_LENGTH = 255  # a sealed E.164 number takes about 65 characters


class NumberSealer:
    """Seals and opens phone numbers with one key; a fresh random nonce per value."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("CALLROUTER_CALLBACK_NUMBER_KEY is empty")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"callrouter callback numbers v1").derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, number: str) -> str:
        if is_stored_as_is(number):
            return number
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, number.encode(), _AAD)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # masked, or from before the migration
        payload = stored[len(PREFIX):]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD).decode()
        except InvalidTag:
            raise ValueError("a callback number does not open with CALLROUTER_CALLBACK_NUMBER_KEY "
                             "(another key sealed it)") from None


def is_stored_as_is(value: str) -> bool:
    """Masked numbers (and empty values) are kept as they are: nothing left to protect."""
    return not value or "*" in value


class _Keyring:
    sealer = NumberSealer(DEV_CALLBACK_NUMBER_KEY)


def use_key(secret: str) -> None:
    """Install the process's key (the composition root does, from the settings)."""
    _Keyring.sealer = NumberSealer(secret)


def sealer() -> NumberSealer:
    return _Keyring.sealer


class SealedNumber(TypeDecorator[str]):
    """A phone number column: sealed in SQL, the number in Python. Comparisons in SQL (LIKE, =) are
    made against the stored text: use them only for masks or for a stored value read before."""

    impl = String(STORED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _Keyring.sealer.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _Keyring.sealer.open(value)

    def coerce_compared_value(self, op: object, value: object) -> TypeEngine[str]:
        return String(STORED_LENGTH)
