"""PINs are stored only as argon2id hashes (argon2-cffi's default parameters)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Pins:
    """Hashes PINs for the directory import and checks them when a caseworker calls."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, pin: str) -> str:
        return self._hasher.hash(pin)

    def verify(self, pin_hash: str, pin: str) -> bool:
        try:
            return self._hasher.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    def verify_nothing(self, pin: str) -> bool:
        """Check `pin` against a hash of a random secret made with the same parameters as the directory's hashes,
        so an unknown code costs what a known one does (no enumeration of codes by timing); always False."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        self.verify(self._dummy, pin)
        return False
