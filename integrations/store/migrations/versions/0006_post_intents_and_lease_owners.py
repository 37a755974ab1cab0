"""posts record the intent before Slack is called; inbox leases name their worker

`posts` gains `state` (posting → done; existing rows are done), `message_key` (the token sent as
Slack message metadata), `owner` and `locked_until` (the posting worker's lease) and
`thread_issue`. `webhook_inbox` gains `locked_by`, so a worker renews only its own leases.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite runs this in batch mode (env.py sets render_as_batch there).
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), server_default="done", nullable=False))
        batch.add_column(sa.Column("message_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("thread_issue", sa.String(length=64), nullable=True))
        batch.create_index("ix_posts_owner", ["owner"])
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.drop_column("locked_by")
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_owner")
        batch.drop_column("thread_issue")
        batch.drop_column("locked_until")
        batch.drop_column("owner")
        batch.drop_column("message_key")
        batch.drop_column("state")
