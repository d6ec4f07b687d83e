"""staff accounts, role grants and conversation outcomes (staff sessions live in Redis)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 12:48:58.110831
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_staff_accounts_issuer_subject')
    )
    op.create_table('conversation_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('liaison_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('referred_organisation', sa.String(length=16), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_conversation_outcomes_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['liaison_id'], ['liaisons.id'], name=op.f('fk_conversation_outcomes_liaison_id_liaisons')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff_accounts.id'], name=op.f('fk_conversation_outcomes_recorded_by_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_outcomes')),
    sa.UniqueConstraint('call_id', name=op.f('uq_conversation_outcomes_call_id'))
    )
    with op.batch_alter_table('conversation_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_outcomes_liaison_id'), ['liaison_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_outcomes_recorded_by'), ['recorded_by'], unique=False)

    op.create_table('staff_role_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('organisation', sa.String(length=16), nullable=True),
    sa.Column('liaison_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'], name=op.f('fk_staff_role_grants_account_id_staff_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['liaison_id'], ['liaisons.id'], name=op.f('fk_staff_role_grants_liaison_id_liaisons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_role_grants')),
    sa.UniqueConstraint('account_id', 'role', 'organisation', name='uq_staff_role_grants_account_role_org')
    )
    with op.batch_alter_table('staff_role_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_role_grants_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_role_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_role_grants_account_id'))

    op.drop_table('staff_role_grants')
    with op.batch_alter_table('conversation_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_outcomes_recorded_by'))
        batch_op.drop_index(batch_op.f('ix_conversation_outcomes_liaison_id'))

    op.drop_table('conversation_outcomes')
    op.drop_table('staff_accounts')
