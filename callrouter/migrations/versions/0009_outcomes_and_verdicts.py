"""every conversation's result and the caseworker's verdict

- lines.verdict_question: the line asks the caller, after the conversation, whether the question was answered;
- calls.callback_id: the row of a callback's conversation names its callback (docs/statistics.md);
- conversation_outcomes.revision: each recording or change of an outcome counts up, so two recordings at
  once cannot both win (compare-and-set);
- call_stats: the evaluation sums (callback conversations and their talk time, recorded results, verdicts).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATS_COLUMNS = ('callback_conversations', 'callback_talk_ms', 'results_recorded', 'result_resolved',
                 'result_follow_up', 'result_referred', 'result_not_for_us', 'verdicts_asked', 'verdict_yes',
                 'verdict_partly', 'verdict_no')


def upgrade() -> None:
    with op.batch_alter_table('lines') as batch:
        batch.add_column(sa.Column('verdict_question', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('callback_id', sa.Integer(), nullable=True))
        batch.create_index('ix_calls_callback_id', ['callback_id'])
    with op.batch_alter_table('conversation_outcomes') as batch:
        batch.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('call_stats') as batch:
        for name in STATS_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('call_stats') as batch:
        for name in reversed(STATS_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table('conversation_outcomes') as batch:
        batch.drop_column('revision')
    with op.batch_alter_table('calls') as batch:
        batch.drop_index('ix_calls_callback_id')
        batch.drop_column('callback_id')
    with op.batch_alter_table('lines') as batch:
        batch.drop_column('verdict_question')
