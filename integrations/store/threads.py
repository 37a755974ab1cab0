"""One Slack thread per issue per channel: the first message about an issue is its parent."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integrations.store.schema import issue_threads as t


class IssueThreads:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, channel_id: str, issue_key: str) -> str | None:
        """The parent message ts of the issue's thread in this channel, if there is one."""
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(t.c.thread_ts).where(t.c.channel_id == channel_id).where(t.c.issue_key == issue_key)
            ).scalar()

    def start(self, channel_id: str, issue_key: str, thread_ts: str, now: dt.datetime) -> str:
        """Remember a new parent; if another worker won the race, return its thread instead."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(channel_id=channel_id, issue_key=issue_key, thread_ts=thread_ts, created_at=now)
                )
        except sa.exc.IntegrityError:
            return self.get(channel_id, issue_key) or thread_ts
        return thread_ts
