"""Rollup tables: sums per 15-minute interval x organisation x topic x counter x line kind.

Rows hold sums and counts, never averages (see callrouter.domain.statistics_totals). The local day
and hour of the interval are stored beside its UTC start, so views by day, week, month and hour of
day group in SQL without time-zone arithmetic there. Queries read these tables only, through the
primary key (interval start first) or the organisation index: their cost follows the period asked
for, not the length of the history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base
from callrouter.adapters.sql.callback_tables import CallbackEventRow
from callrouter.domain.statistics import StatOutcome


class _Dimensions:
    """The key shared by the rollup tables ("" for a dimension a call never reached). First in every
    table (sort_order), so the primary key starts with the interval and serves the period filter."""

    interval_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, sort_order=-9)
    organisation: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=-8)
    topic: Mapped[str] = mapped_column(String(32), primary_key=True, sort_order=-7)
    location: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=-6)
    line_kind: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=-5)
    local_day: Mapped[date] = mapped_column(Date, sort_order=-4)
    local_hour: Mapped[int] = mapped_column(SmallInteger, sort_order=-3)


class CallStatsRow(_Dimensions, Base):
    __tablename__ = "call_stats"
    __table_args__ = (Index("ix_call_stats_organisation_interval", "organisation", "interval_start"),)

    received: Mapped[int] = mapped_column(Integer, default=0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    answer_ms: Mapped[int] = mapped_column(Integer, default=0)
    answer_timed: Mapped[int] = mapped_column(Integer, default=0)
    longest_wait_ms: Mapped[int] = mapped_column(Integer, default=0)
    talk_ms: Mapped[int] = mapped_column(Integer, default=0)
    talked: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_requested: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_completed: Mapped[int] = mapped_column(Integer, default=0)
    callbacks_failed: Mapped[int] = mapped_column(Integer, default=0)
    in_progress: Mapped[int] = mapped_column(Integer, default=0)
    outcome_answered: Mapped[int] = mapped_column(Integer, default=0)
    outcome_abandoned_in_queue: Mapped[int] = mapped_column(Integer, default=0)
    outcome_abandoned_in_menu: Mapped[int] = mapped_column(Integer, default=0)
    outcome_callback_requested: Mapped[int] = mapped_column(Integer, default=0)
    outcome_closed: Mapped[int] = mapped_column(Integer, default=0)
    outcome_no_liaison: Mapped[int] = mapped_column(Integer, default=0)
    outcome_refused: Mapped[int] = mapped_column(Integer, default=0)
    outcome_transferred: Mapped[int] = mapped_column(Integer, default=0)
    outcome_failed: Mapped[int] = mapped_column(Integer, default=0)
    # The evaluation (migration 0009; docs/statistics.md "Resultaat en oordeel")
    callback_conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    callback_talk_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    results_recorded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_resolved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_follow_up: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_referred: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result_not_for_us: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verdicts_asked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verdict_yes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verdict_partly: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verdict_no: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Transfers between organisations (migration 0012; docs/statistics.md "Doorverbinden en overleg")
    transfers_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers_out_blind: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers_out_consult: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers_out_three_way: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers_in_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    to_last_liaison_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    to_last_liaison_timed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AnsweredWithinRow(_Dimensions, Base):
    """Answered within each configured threshold: one row per threshold, so thresholds are settings."""

    __tablename__ = "call_stats_answered_within"
    __table_args__ = (Index("ix_call_stats_answered_within_organisation_interval", "organisation", "interval_start"),)

    threshold_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)


class StatsIntervalRow(Base):
    """One row per computed interval: when it was computed. Locked while an interval is recomputed."""

    __tablename__ = "stats_intervals"

    interval_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    calls: Mapped[int] = mapped_column(Integer, default=0)


OUTCOME_COLUMNS = {outcome: f"outcome_{outcome.value}" for outcome in StatOutcome}

# Callback moves are counted by the time they happened; without this index that read would scan
# the whole callback history.
CALLBACK_EVENTS_AT = Index("ix_callback_events_at", CallbackEventRow.__table__.c.at)
