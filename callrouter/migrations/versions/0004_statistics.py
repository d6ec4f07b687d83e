"""statistics: rollups per 15-minute interval x organisation x topic x counter x line kind

Also an index on callback_events.at, so callback moves are counted per interval without a scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:36:58.777753
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_stats',
    sa.Column('interval_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organisation', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('location', sa.String(length=16), nullable=False),
    sa.Column('line_kind', sa.String(length=16), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.SmallInteger(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('offered', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.Column('short_abandoned', sa.Integer(), nullable=False),
    sa.Column('answer_ms', sa.Integer(), nullable=False),
    sa.Column('answer_timed', sa.Integer(), nullable=False),
    sa.Column('longest_wait_ms', sa.Integer(), nullable=False),
    sa.Column('talk_ms', sa.Integer(), nullable=False),
    sa.Column('talked', sa.Integer(), nullable=False),
    sa.Column('callbacks_requested', sa.Integer(), nullable=False),
    sa.Column('callbacks_completed', sa.Integer(), nullable=False),
    sa.Column('callbacks_failed', sa.Integer(), nullable=False),
    sa.Column('in_progress', sa.Integer(), nullable=False),
    sa.Column('outcome_answered', sa.Integer(), nullable=False),
    sa.Column('outcome_abandoned_in_queue', sa.Integer(), nullable=False),
    sa.Column('outcome_abandoned_in_menu', sa.Integer(), nullable=False),
    sa.Column('outcome_callback_requested', sa.Integer(), nullable=False),
    sa.Column('outcome_closed', sa.Integer(), nullable=False),
    sa.Column('outcome_no_liaison', sa.Integer(), nullable=False),
    sa.Column('outcome_refused', sa.Integer(), nullable=False),
    sa.Column('outcome_transferred', sa.Integer(), nullable=False),
    sa.Column('outcome_failed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('interval_start', 'organisation', 'topic', 'location', 'line_kind', name=op.f('pk_call_stats'))
    )
    with op.batch_alter_table('call_stats', schema=None) as batch_op:
        batch_op.create_index('ix_call_stats_organisation_interval', ['organisation', 'interval_start'], unique=False)

    op.create_table('call_stats_answered_within',
    sa.Column('interval_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organisation', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('location', sa.String(length=16), nullable=False),
    sa.Column('line_kind', sa.String(length=16), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.SmallInteger(), nullable=False),
    sa.Column('threshold_seconds', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('interval_start', 'organisation', 'topic', 'location', 'line_kind', 'threshold_seconds', name=op.f('pk_call_stats_answered_within'))
    )
    with op.batch_alter_table('call_stats_answered_within', schema=None) as batch_op:
        batch_op.create_index('ix_call_stats_answered_within_organisation_interval', ['organisation', 'interval_start'], unique=False)

    op.create_table('stats_intervals',
    sa.Column('interval_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('interval_start', name=op.f('pk_stats_intervals'))
    )
    with op.batch_alter_table('callback_events', schema=None) as batch_op:
        batch_op.create_index('ix_callback_events_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_events', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_events_at')

    op.drop_table('stats_intervals')
    with op.batch_alter_table('call_stats_answered_within', schema=None) as batch_op:
        batch_op.drop_index('ix_call_stats_answered_within_organisation_interval')

    op.drop_table('call_stats_answered_within')
    with op.batch_alter_table('call_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_call_stats_organisation_interval')

    op.drop_table('call_stats')
