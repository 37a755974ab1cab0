"""issue threads and budget alerts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issue_threads',
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('issue_key', sa.String(length=64), nullable=False),
    sa.Column('thread_ts', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel_id', 'issue_key', name=op.f('pk_issue_threads'))
    )
    op.create_table('budget_alerts',
    sa.Column('account_key', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=32), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('percent_used', sa.String(length=16), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_key', 'period', 'threshold', name=op.f('pk_budget_alerts'))
    )


def downgrade() -> None:
    op.drop_table('budget_alerts')
    op.drop_table('issue_threads')
