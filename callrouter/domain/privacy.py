"""Personal data kept small: keyed pseudonyms for phone numbers, masked numbers for people and logs."""

from __future__ import annotations

import hashlib
import hmac
import re

_NUMBER = re.compile(r"\+?\d[\d ]{6,}\d")


def pseudonym(number: str, *, key: bytes) -> str:
    """HMAC-SHA256 of the number: stable for statistics, not reversible without the key."""
    return hmac.new(key, number.strip().encode(), hashlib.sha256).hexdigest()[:32]


def mask_number(number: str) -> str:
    """Keep the country/trunk prefix and the last two digits: +316******78."""
    digits = number.strip()
    if len(digits) <= 6:
        return "*" * len(digits)
    head = 4 if digits.startswith("+") else 3
    return digits[:head] + "*" * (len(digits) - head - 2) + digits[-2:]


def mask_numbers_in(text: str) -> str:
    """Mask every phone-number-like run of digits in free text (log lines)."""
    return _NUMBER.sub(lambda m: mask_number(m.group(0).replace(" ", "")), text)
