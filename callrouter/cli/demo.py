"""`callrouter demo ...`: the local demo with the Twilio emulator (make run uses these)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from callrouter.config import REPO_ROOT, Settings

app = typer.Typer(help="The local demo: emulator settings, liaisons on duty, a test call.", no_args_is_help=True)


@app.command("always-open")
def always_open(source: Path = typer.Argument(Path("demo/directory.yaml")),
                out: Path = typer.Option(Path("var/directory-always-open.yaml"))) -> None:
    """Write a copy of the directory with every organisation open around the clock."""
    from callrouter.demo.setup import open_all_hours

    typer.echo(open_all_hours(source, out))


@app.command("emulator-config")
def emulator_config(out: Path = typer.Option(Path("var/emulator.json"), help="Where to write the config.")) -> None:
    """Write the emulator's config: the directory's lines pointing at this service, a phone per liaison."""
    from callrouter.demo.setup import emulator_config as config_for

    config = config_for(Settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(config, indent=2))
    typer.echo(f"emulator config: {len(config['numbers'])} line(s), {len(config['phones'])} phone(s) -> {out}")


@app.command("on-duty")
def on_duty(status: str = typer.Option("available", help="available, away, wrap_up or offline")) -> None:
    """Set every liaison of the directory to a presence (the demo starts with everybody available)."""
    from callrouter.bootstrap import build
    from callrouter.demo.setup import all_on_duty
    from callrouter.domain.queueing import Presence

    container = build(Settings())
    try:
        typer.echo(f"{all_on_duty(container, Presence(status))} liaison(s) {status}")
    finally:
        container.close()


@app.command("call")
def call(
    from_: str = typer.Option("+31612345601", "--from", help="Caller (default: Sanne, counter Amsterdam)."),
    to: str = typer.Option("+31850001000", help="Line dialled (default: the professional line)."),
    digits: str = typer.Option("# 1 1 2 2 2 2", help="Keys for each question, space separated (default: no case "
                                             "reference, UWV, WW, then 2 for each turn on hold (only 1 asks for "
                                             "a callback) and for the question after the conversation: 2 = "
                                             "partly answered; e.g. '4711# 1 1' gives case reference 4711)."),
    timeout: float = typer.Option(120, help="Seconds to wait for the call to end."),
    emulator: str = typer.Option("", help="The emulator's URL (default: CALLROUTER_TWILIO_API_BASE_URL, "
                                          "else http://127.0.0.1:8010 as make run starts it)."),
) -> None:
    """Place a call through the emulator and print what the caller heard and what happened."""
    from callrouter.demo.call import NoEmulator, emulator_url, place_call

    base = emulator_url(emulator, Settings().twilio_api_base_url)
    try:
        ended = place_call(base, from_=from_, to=to, digits=digits.split(), timeout=timeout, say=typer.echo)
    except NoEmulator as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    if not ended:
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
    log_dir: Path | None = typer.Option(None, "--log-dir",
                                        help="Logs of the day's web and worker processes (default: var/demo-day)."),
) -> None:
    """Play a realistic working day through the Twilio emulator at high speed and fill the dashboard with it."""
    from datetime import date as date_type
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import redis

    from callrouter.bootstrap import open_record
    from callrouter.demo.day import DayShapeInvalid
    from callrouter.demo.day_run import DemoDayRefused, calls_on, dashboard_url, default_day, run_demo_day
    from callrouter.demo.day_stack import DemoDayStopped, DemoRedisGone, stopped_by_signals

    settings = Settings()
    zone = ZoneInfo(settings.timezone)
    try:
        chosen = date_type.fromisoformat(date_) if date_ else default_day(datetime.now(zone).date())
    except ValueError:
        raise typer.BadParameter(f"{date_!r} is not a date (YYYY-MM-DD)", param_hint="--date") from None
    if not shape.is_file():
        raise typer.BadParameter(f"{shape} does not exist", param_hint="--shape")
    if if_empty:
        with open_record(settings) as record:
            already = calls_on(record.demo_day, chosen, zone)
        if already:
            typer.echo(f"demo day: {chosen} already has {already} call(s); nothing played. "
                       f"Dashboard: {dashboard_url(settings, chosen)}")
            return
    try:
        with stopped_by_signals():  # SIGINT, SIGTERM, SIGHUP: the stack is stopped on the way out
            summary = run_demo_day(settings, day=chosen, calls=calls, seed=seed, scale=scale, shape_path=shape,
                                   say=lambda text: typer.echo(f"demo day: {text}"),
                                   log_dir=log_dir or REPO_ROOT / "var" / "demo-day")
    except (DemoDayRefused, DayShapeInvalid) as exc:
        typer.echo(f"demo day: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except DemoDayStopped as exc:
        typer.echo(f"demo day: stopped by {exc}; its stack is down (the day's calls so far stay recorded)", err=True)
        raise typer.Exit(code=128 + exc.signum) from None
    except (DemoRedisGone, redis.ConnectionError, redis.TimeoutError) as exc:
        typer.echo(f"demo day: stopped, Redis does not answer any more ({exc}); its stack is down", err=True)
        raise typer.Exit(code=1) from None
    for line in summary.lines():
        typer.echo(line)
    if summary.unsettled:
        typer.echo(f"demo day: {summary.unsettled} call(s) of the day did not end", err=True)
