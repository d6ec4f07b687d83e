"""The local demo's set-up (`make run`): the directory open around the clock, the emulator's config, and
every liaison on duty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callrouter.adapters.sql.directory_repository import load_snapshot
from callrouter.bootstrap import Container, open_record
from callrouter.config import Settings
from callrouter.domain.queueing import Presence

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


def emulator_config(settings: Settings) -> dict[str, Any]:
    """The emulator's config: the directory's lines pointing at this service, a phone per liaison."""
    with open_record(settings) as record, record.sessions() as session:
        snapshot = load_snapshot(session)
    base = settings.public_url.rstrip("/")
    return {
        "account_sid": settings.twilio_account_sid,
        "auth_token": settings.twilio_auth_token.get_secret_value(),
        "numbers": {number: {"voice_url": f"{base}/twilio/voice/incoming",
                             "status_callback_url": f"{base}/twilio/voice/status"}
                    for number in snapshot.lines},
        "phones": {liaison.address: {"behaviour": "answer", "answer_after": 3, "talk_seconds": 20}
                   for liaison in snapshot.liaisons.values()},
    }


def all_on_duty(container: Container, status: Presence) -> int:
    """Set every liaison of the directory to `status`; how many there are."""
    from callrouter.services.staff.presence import set_presence

    directory = container.directory
    liaisons = [li for org in directory.all_organisations() for li in directory.liaisons_of(org.code)]
    for liaison in liaisons:
        set_presence(container.voice, liaison_id=liaison.id, status=status, organisation_scope=None)
    return len(liaisons)
