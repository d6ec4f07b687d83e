"""staff audit log: who opened which call page, drill-down or export

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_audit_log'))
    )
    op.create_index(op.f('ix_staff_audit_log_at'), 'staff_audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_staff_audit_log_account_id'), 'staff_audit_log', ['account_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_staff_audit_log_account_id'), table_name='staff_audit_log')
    op.drop_index(op.f('ix_staff_audit_log_at'), table_name='staff_audit_log')
    op.drop_table('staff_audit_log')
