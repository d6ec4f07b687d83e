"""Log lines cannot be forged: control characters are escaped in the formatter; timestamps are UTC with offset;
the access log keeps no OpenID code or state; API token entries (hashed, liaison-bound)."""

from __future__ import annotations

import hashlib
import logging
import sys

import pytest

from callrouter.config import InsecureSettings
from callrouter.logging_setup import AccessLogScrub, SafeFormatter, escape_control, strip_secret_query
from callrouter.web.api_auth import ApiUser, parse_tokens

CONTROLS = {"CR": "\r", "LF": "\n", "NUL": "\x00", "ESC": "\x1b", "DEL": "\x7f", "LS": "\u2028", "NEL": "\x85"}


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad\n2026-01-01T00:00:00+00:00 INFO callrouter.staff staff.login account=1")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("callrouter.webhook", logging.WARNING, __file__, 1, msg, args, info)


@pytest.mark.parametrize("name", list(CONTROLS))
def test_every_control_character_is_escaped(name: str) -> None:
    escaped = escape_control(f"a{CONTROLS[name]}b")
    assert escaped.isprintable() and escaped.startswith("a\\") and escaped.endswith("b")


@pytest.mark.parametrize("name", ["CR", "LF", "NUL"])
@pytest.mark.parametrize("field", ["provider", "CallSid", "To", "From"])
def test_a_value_from_outside_stays_on_its_line(field: str, name: str) -> None:
    forged = f"x{CONTROLS[name]}2026-11-25T09:00:00+00:00 INFO callrouter.staff staff.login account=1"
    line = SafeFormatter().format(record(f"webhook.failed {field}=%s path=%s", forged, "/p"))
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert f"{field}=x{escape_control(CONTROLS[name])}2026" in line


def test_timestamps_are_utc_with_their_offset() -> None:
    line = SafeFormatter().format(record("hello"))
    stamp = line.split(" ", 1)[0]
    assert stamp.endswith("+00:00") and "T" in stamp


def test_a_traceback_cannot_start_a_line_of_its_own() -> None:
    lines = SafeFormatter().format(record("webhook.failed", exc=True)).split("\n")
    assert lines[0].endswith("webhook.failed")
    assert all(line.startswith("  | ") for line in lines[1:]) and len(lines) > 2


def test_the_access_log_drops_the_query_of_login_callbacks() -> None:
    path = "/staff/auth/callback/rijk?code=SECRETCODE&state=SECRETSTATE"
    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.1:5000", "GET", path, "1.1", 303), None)
    assert AccessLogScrub().filter(access)
    message = access.getMessage()
    assert "SECRET" not in message and "/staff/auth/callback/rijk?[removed]" in message
    assert strip_secret_query("/staff/dashboard?periode=vandaag") == "/staff/dashboard?periode=vandaag"
    assert strip_secret_query("/staff/auth/callback/rijk") == "/staff/auth/callback/rijk"


def test_api_tokens_hashed_and_bound_to_a_liaison() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    entries = parse_tokens(f"sha256:{digest}:liaison:UWV:uwv-jan,plain:admin:*", environment="development")
    assert entries[0] == (digest, ApiUser("liaison", "UWV", "uwv-jan"))
    assert entries[1] == (hashlib.sha256(b"plain").hexdigest(), ApiUser("admin", "*", None))
    assert parse_tokens(f"sha256:{digest}:admin:*", environment="production")[0][1].role == "admin"
    with pytest.raises(InsecureSettings):
        parse_tokens("plain:admin:*", environment="production")
    for bad in ("t:liaison:UWV", "t:liaison:*:uwv-jan", "sha256:abc:admin:*", "t:root:*", "t"):
        with pytest.raises(ValueError):
            parse_tokens(bad)


def test_uvicorns_own_loggers_get_the_scrub_and_the_safe_formatter(capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn.config

    from callrouter.logging_setup import configure_uvicorn_logging

    uvicorn.config.Config("callrouter.web.app:create_app", factory=True).configure_logging()  # as uvicorn starts
    configure_uvicorn_logging()  # as create_app does in every worker
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET",
                "/staff/auth/callback/rijk?code=SECRETCODE&state=SECRETSTATE", "1.1", 303)
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request: %s", "x\r\nFORGED")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "SECRET" not in text and "/staff/auth/callback/rijk?[removed]" in text
    assert "x\\r\\nFORGED" in text and "\nFORGED" not in text
    assert all(line[:4].isdigit() and "+00:00 " in line for line in text.splitlines())
