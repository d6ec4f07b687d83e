"""Structured, privacy-safe logs: phone-number-like digits are masked in every record."""

from __future__ import annotations

import logging

from callrouter.domain.privacy import mask_numbers_in


class MaskNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("callrouter")
    if not any(isinstance(f, MaskNumbers) for f in root.filters):
        root.addFilter(MaskNumbers())
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(MaskNumbers())
        root.addHandler(handler)
    root.setLevel(level)
