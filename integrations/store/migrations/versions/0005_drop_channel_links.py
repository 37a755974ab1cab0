"""drop channel_links: channels are linked to accounts in the accounts file only

The table was created for linking channels at runtime through Slack, which was never built;
nothing read or wrote it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("channel_links")


def downgrade() -> None:
    op.create_table(
        "channel_links",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("account_key", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_links")),
    )
