"""`callrouter demo ...`: the local demo with the Twilio emulator (make run uses these)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import typer

from callrouter.config import REPO_ROOT, Settings

app = typer.Typer(help="The local demo: emulator settings, liaisons on duty, a test call.", no_args_is_help=True)
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def open_all_hours(source: Path, target: Path) -> Path:
    """A copy of a directory file with every organisation open all week (demo and tests at any hour)."""
    import yaml

    data = yaml.safe_load(source.read_text())
    for org in data["organisations"]:
        org["hours"] = {day: ["00:00-24:00"] for day in WEEK}
        org["hours"]["closed_on_public_holidays"] = False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return target


@app.command("always-open")
def always_open(source: Path = typer.Argument(Path("demo/directory.yaml")),
                out: Path = typer.Option(Path("var/directory-always-open.yaml"))) -> None:
    """Write a copy of the directory with every organisation open around the clock."""
    typer.echo(open_all_hours(source, out))


@app.command("emulator-config")
def emulator_config(out: Path = typer.Option(Path("var/emulator.json"), help="Where to write the config.")) -> None:
    """Write the emulator's config: the directory's lines pointing at this service, a phone per liaison."""
    from callrouter.adapters.sql.directory_repository import load_snapshot
    from callrouter.adapters.sql.engine import make_engine, make_session_factory

    settings = Settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        snapshot = load_snapshot(session)
    engine.dispose()
    base = settings.public_url.rstrip("/")
    config = {
        "account_sid": settings.twilio_account_sid,
        "auth_token": settings.twilio_auth_token.get_secret_value(),
        "numbers": {number: {"voice_url": f"{base}/twilio/voice/incoming",
                             "status_callback_url": f"{base}/twilio/voice/status"}
                    for number in snapshot.lines},
        "phones": {liaison.address: {"behaviour": "answer", "answer_after": 3, "talk_seconds": 20}
                   for liaison in snapshot.liaisons.values()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(config, indent=2))
    typer.echo(f"emulator config: {len(config['numbers'])} line(s), {len(config['phones'])} phone(s) -> {out}")


@app.command("on-duty")
def on_duty(status: str = typer.Option("available", help="available, away, wrap_up or offline")) -> None:
    """Set every liaison of the directory to a presence (the demo starts with everybody available)."""
    from callrouter.bootstrap import build
    from callrouter.domain.queueing import Presence
    from callrouter.services.presence import set_presence

    container = build(Settings())
    try:
        liaisons = [li for org in container.directory.all_organisations() for li in container.directory.liaisons_of(org.code)]
        for liaison in liaisons:
            set_presence(container.voice, liaison_id=liaison.id, status=Presence(status), organisation_scope=None)
        typer.echo(f"{len(liaisons)} liaison(s) {status}")
    finally:
        container.close()


@app.command("call")
def call(
    from_: str = typer.Option("+31612345601", "--from", help="Caller (default: Sanne, counter Amsterdam)."),
    to: str = typer.Option("+31850001000", help="Line dialled (default: the professional line)."),
    digits: str = typer.Option("# 1 1", help="Keys for each question, space separated (default: no case "
                                             "reference, UWV, WW; e.g. '4711# 1 1' gives case reference 4711)."),
    timeout: float = typer.Option(120, help="Seconds to wait for the call to end."),
    emulator: str = typer.Option("", help="The emulator's URL (default: CALLROUTER_TWILIO_API_BASE_URL, "
                                          "else http://127.0.0.1:8010 as make run starts it)."),
) -> None:
    """Place a call through the emulator and print what the caller heard and what happened."""
    configured = Settings().twilio_api_base_url.rstrip("/")
    base = (emulator or (configured if "twilio.com" not in configured else "http://127.0.0.1:8010")).rstrip("/")
    try:
        placed = httpx.post(f"{base}/_emulator/calls", json={"from": from_, "to": to,
                                                              "script": {"digits": digits.split()}}, timeout=10)
    except httpx.ConnectError:
        typer.echo(f"no Twilio emulator answers at {base}: start the service with `make run` first", err=True)
        raise typer.Exit(code=1) from None
    placed.raise_for_status()
    sid = placed.json()["sid"]
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        detail = httpx.get(f"{base}/_emulator/calls/{sid}", timeout=10).json()
        for event in detail["transcript"][seen:]:
            text = event.get("text") or event.get("digits") or event.get("with") or event.get("url") or ""
            typer.echo(f"{event['t']:7.1f}s  {event['kind']:<16} {text}")
        seen = len(detail["transcript"])
        if detail.get("status") in ("completed", "busy", "failed", "no-answer", "canceled"):
            return
        time.sleep(0.5)
    typer.echo("the call is still going on", err=True)


@app.command("day")
def day(
    date_: str = typer.Option("", "--date", help="The day to play, YYYY-MM-DD (default: the last weekday before today)."),
    scale: float = typer.Option(720.0, min=1, max=10000, help="Virtual seconds per real second (720: the day in ~45 s)."),
    calls: int = typer.Option(250, min=0, max=5000, help="Calls that arrive during the day."),
    seed: int = typer.Option(1, help="The same seed plays the same day (arrivals, topics, behaviour)."),
    shape: Path = typer.Option(REPO_ROOT / "demo" / "demo_day.yaml",
                               help="The day's shape: arrivals by hour, topic mix, shifts."),
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when the database has calls on that day."),
) -> None:
    """Play a realistic working day through the Twilio emulator at high speed and fill the dashboard with it."""
    from datetime import date as date_type
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from callrouter.adapters.sql.engine import make_engine, make_session_factory
    from callrouter.demo.day import DayShapeInvalid
    from callrouter.demo.day_run import DemoDayRefused, calls_on, dashboard_url, default_day, run_demo_day

    settings = Settings()
    zone = ZoneInfo(settings.timezone)
    try:
        chosen = date_type.fromisoformat(date_) if date_ else default_day(datetime.now(zone).date())
    except ValueError:
        raise typer.BadParameter(f"{date_!r} is not a date (YYYY-MM-DD)", param_hint="--date") from None
    if not shape.is_file():
        raise typer.BadParameter(f"{shape} does not exist", param_hint="--shape")
    if if_empty:
        engine = make_engine(settings.database_url)
        already = calls_on(make_session_factory(engine), chosen, zone)
        engine.dispose()
        if already:
            typer.echo(f"demo day: {chosen} already has {already} call(s); nothing played. "
                       f"Dashboard: {dashboard_url(settings, chosen)}")
            return
    try:
        summary = run_demo_day(settings, day=chosen, calls=calls, seed=seed, scale=scale, shape_path=shape,
                               say=lambda text: typer.echo(f"demo day: {text}"))
    except (DemoDayRefused, DayShapeInvalid) as exc:
        typer.echo(f"demo day: {exc}", err=True)
        raise typer.Exit(code=1) from None
    for line in summary.lines():
        typer.echo(line)
    if summary.unsettled:
        typer.echo(f"demo day: {summary.unsettled} call(s) of the day did not end", err=True)
