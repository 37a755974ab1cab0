"""support requests: filed from Slack, clocked, escalated

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="request", nullable=False),
        sa.Column("account_key", sa.String(length=40), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("source_ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=True),
        sa.Column("requester_external", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_by", sa.String(length=64), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jira_status", sa.String(length=80), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=True),
        sa.Column("project_work", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
        sa.UniqueConstraint("channel_id", "source_ts", name="uq_support_requests_channel_source"),
    )
    op.create_index("ix_support_requests_issue_key", "support_requests", ["issue_key"])
    op.create_index("ix_support_requests_thread_ts", "support_requests", ["thread_ts"])
    op.create_index("ix_support_requests_state_next", "support_requests", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_support_requests_state_next", table_name="support_requests")
    op.drop_index("ix_support_requests_thread_ts", table_name="support_requests")
    op.drop_index("ix_support_requests_issue_key", table_name="support_requests")
    op.drop_table("support_requests")
