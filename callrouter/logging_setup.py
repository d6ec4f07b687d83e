"""Structured, privacy-safe logs.

- Phone-number-like digits are masked in every record (MaskNumbers).
- Every line is one line: control characters (CR, LF, NUL, ESC, DEL, C1, U+2028/9) in a message or
  its arguments are written escaped (`\\r`, `\\n`, `\\x00`, ...), so a value from outside (a URL path,
  a webhook field) cannot start a forged line. This is done once, in the formatter (SafeFormatter),
  for the service's own loggers and for uvicorn's.
- Timestamps are UTC with their offset (2026-11-25T09:00:00.123+00:00).
- The access log keeps no query string of /staff/auth/ paths (the OpenID `code` and `state`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from callrouter.domain.privacy import mask_numbers_in

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Paths whose query strings carry secrets (OpenID code and state): logged without their query.
SECRET_QUERY_PREFIXES = ("/staff/auth/",)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """`text` with every control character written as an escape: one log line stays one line."""
    return _CONTROL.sub(_escape_one, text)


class MaskNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class SafeFormatter(logging.Formatter):
    """One line per record, control characters escaped; UTC timestamps with offset."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_control(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging's name
        text = super().formatException(ei)  # type: ignore[arg-type]
        # A traceback keeps its lines, each marked as a continuation; an exception message cannot add a line
        # that reads as a record of its own.
        return "\n".join("  | " + escape_control(line) for line in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return "\n".join("  | " + escape_control(line) for line in stack_info.split("\n"))


def strip_secret_query(path: str) -> str:
    """A path with query as logged: /staff/auth/... without its query (code, state)."""
    bare, _, query = path.partition("?")
    if query and bare.startswith(SECRET_QUERY_PREFIXES):
        return bare + "?[removed]"
    return path


class AccessLogScrub(logging.Filter):
    """uvicorn's access log: `client - "METHOD path?query HTTP/x" status`; secrets out of the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], strip_secret_query(args[2]), *args[3:])
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("callrouter")
    if not any(isinstance(f, MaskNumbers) for f in root.filters):
        root.addFilter(MaskNumbers())
        handler = logging.StreamHandler()
        handler.setFormatter(SafeFormatter())
        handler.addFilter(MaskNumbers())
        root.addHandler(handler)
    root.setLevel(level)
    configure_uvicorn_logging()


def configure_uvicorn_logging() -> None:
    """uvicorn configures its loggers before it builds the app: give their handlers the safe formatter and
    the access log its scrub (run again by create_app in every worker; idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogScrub) for f in access.filters):
        access.addFilter(AccessLogScrub())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, SafeFormatter):
                handler.setFormatter(SafeFormatter())
