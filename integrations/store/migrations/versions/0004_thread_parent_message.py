"""issue threads remember their parent message (text and blocks)

A status change rewrites the parent as it was first posted plus one status line, so the original
must be kept. Nullable: threads started before this revision have no stored parent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite runs this in batch mode (env.py sets render_as_batch there).
    with op.batch_alter_table("issue_threads") as batch:
        batch.add_column(sa.Column("parent_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("parent_blocks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issue_threads") as batch:
        batch.drop_column("parent_blocks")
        batch.drop_column("parent_text")
