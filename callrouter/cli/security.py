"""`callrouter security ...`: the limits on PIN guessing (docs/security.md): see and lift locks (functioneel beheer).

A caseworker whose code is held off by someone else's guessing asks an administrator (or, once the staff
pages offer it, does it there) to run `callrouter security unlock --code 1004`; the code's buckets start
afresh at once. Locks are also on GET /metrics (`callrouter_pin_locks`, `callrouter_pin_wrong_this_hour`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
import redis as redis_lib
import typer

from callrouter.adapters.redis_guard import RedisGuard
from callrouter.bootstrap import pin_limits
from callrouter.config import Settings
from callrouter.domain.privacy import pseudonym

app = typer.Typer(help="Limits on PIN guessing: locks per number and per caseworker code.", no_args_is_help=True)


def _guard(settings: Settings) -> RedisGuard:
    return RedisGuard(redis_lib.Redis.from_url(settings.redis_url, socket_timeout=5), limits=pin_limits(settings))


def _e164(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, "NL")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_valid_number(
        parsed) else None


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("status")
def status() -> None:
    """Wrong PINs this hour (all codes) and every remembered bucket: closed ones first."""
    settings = Settings()
    guard, now = _guard(settings), _now()
    wrong, limit = guard.wrong_this_hour(now), guard.limits.global_per_hour
    typer.echo(f"wrong PINs this hour: {wrong} of {limit}" + (" (limit reached: only own numbers may type a PIN)"
                                                              if wrong >= limit else ""))
    locks = sorted(guard.locks(), key=lambda lock: (not lock.closed(now), lock.kind, lock.name))
    for lock in locks:
        left = lock.until - now.timestamp()
        state = f"closed for {left:.0f} s more" if left > 0 else "open"
        typer.echo(f"{lock.kind}\t{lock.name}\t{lock.wrong} wrong in a row\t{state}")
    if not locks:
        typer.echo("no locks")


@app.command("unlock")
def unlock(
    code: str | None = typer.Option(None, help="Caseworker code (4 digits): forget its wrong PINs, from any number."),
    number: str | None = typer.Option(None, help="Caller number (as dialled): forget its failed tries."),
) -> None:
    """Lift a lock at once: a caseworker's code, and/or the number they call from."""
    if not code and not number:
        raise typer.BadParameter("give --code, --number or both")
    if code is not None and not (len(code) == 4 and code.isdigit()):
        raise typer.BadParameter("a caseworker code is 4 digits", param_hint="--code")
    settings = Settings()
    caller = None
    if number is not None:
        e164 = _e164(number)
        if e164 is None:
            raise typer.BadParameter(f"{number!r} is not a phone number", param_hint="--number")
        caller = pseudonym(e164, key=settings.pseudonym_key.get_secret_value().encode())
    removed = _guard(settings).unlock(code=code, caller=caller)
    what = " and ".join(part for part in (f"code {code}" if code else "", "that number" if caller else "") if part)
    typer.echo(f"unlocked {what} ({removed} lock(s) forgotten)")
