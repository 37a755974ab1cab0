"""One Slack thread per issue per channel: the first message about an issue is its parent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import issue_threads as t


@dataclass(frozen=True)
class ThreadParent:
    """A thread's parent message: its ts and, when known, the text and blocks it was posted with."""

    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None


class IssueThreads:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, channel_id: str, issue_key: str) -> str | None:
        """The parent message ts of the issue's thread in this channel, if there is one."""
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(t.c.thread_ts).where(t.c.channel_id == channel_id).where(t.c.issue_key == issue_key)
            ).scalar()

    def parent(self, channel_id: str, issue_key: str) -> ThreadParent | None:
        """The parent message of the issue's thread in this channel (text and blocks as first posted)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.thread_ts, t.c.parent_text, t.c.parent_blocks)
                .where(t.c.channel_id == channel_id)
                .where(t.c.issue_key == issue_key)
            ).first()
        return None if row is None else ThreadParent(row.thread_ts, row.parent_text, row.parent_blocks)

    def start(
        self,
        channel_id: str,
        issue_key: str,
        thread_ts: str,
        now: dt.datetime,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Remember a new parent (and what it says); if another worker won the race, return its thread."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        channel_id=channel_id, issue_key=issue_key, thread_ts=thread_ts, created_at=now,
                        parent_text=text, parent_blocks=blocks,
                    )
                )
        except sa.exc.IntegrityError:
            return self.get(channel_id, issue_key) or thread_ts
        return thread_ts
