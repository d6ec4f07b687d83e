"""RQ job for the retention of personal data (registered in workers/cron.py, hourly)."""

from __future__ import annotations

from callrouter.adapters.sql.retention_repository import SqlRetentionStore
from callrouter.adapters.twilio_rest import TwilioRecordings
from callrouter.bootstrap import SystemClock
from callrouter.config import Settings
from callrouter.domain.retention import RetentionPolicy
from callrouter.services.retention import RetentionDeps, run_retention
from workers.jobs import container


def policy_from(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(callback_number_days=settings.retention_callback_number_days,
                           voice_message_days=settings.retention_voice_message_days,
                           conversation_note_days=settings.retention_conversation_note_days,
                           call_record_days=settings.retention_call_record_days)


def deps_for(settings: Settings, sessions) -> RetentionDeps:  # type: ignore[no-untyped-def]
    recordings = TwilioRecordings(account_sid=settings.twilio_account_sid,
                                  auth_token=settings.twilio_auth_token.get_secret_value(),
                                  api_base_url=settings.twilio_api_base_url)
    return RetentionDeps(store=SqlRetentionStore(sessions), recordings=recordings, clock=SystemClock(),
                         policy=policy_from(settings))


def purge_expired() -> dict[str, int | bool]:
    """Apply every retention rule once; what it did, by category."""
    app = container()
    return run_retention(deps_for(app.settings, app.sessions)).as_dict()
