"""handovers and their steps

`handovers`: one person away for whole days, covered by another in some accounts (cancelled rows
stay). `handover_steps`: each step of a handover per account, claimed before it runs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("from_user", sa.String(length=32), nullable=False),
        sa.Column("to_user", sa.String(length=32), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("account_keys", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_by", sa.String(length=32), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handovers"),
    )
    op.create_index("ix_handovers_from_user", "handovers", ["from_user"])
    op.create_table(
        "handover_steps",
        sa.Column("handover_id", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.String(length=40), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("handover_id", "account_key", "step", name="pk_handover_steps"),
    )


def downgrade() -> None:
    op.drop_table("handover_steps")
    op.drop_index("ix_handovers_from_user", table_name="handovers")
    op.drop_table("handovers")
