"""Posted messages by cause: the key that makes posting exactly-once across crashes and retries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from integrations.store.schema import posts as t


@dataclass(frozen=True)
class Post:
    key: str
    channel_id: str
    ts: str | None
    thread_ts: str | None


class Posts:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, key: str) -> Post | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.key == key)).first()
        return Post(row.key, row.channel_id, row.ts, row.thread_ts) if row else None

    def record(
        self, key: str, channel_id: str, ts: str | None, thread_ts: str | None, now: dt.datetime
    ) -> bool:
        """Remember that `key` was posted as message `ts`; False if it was recorded before."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        key=key, channel_id=channel_id, ts=ts, thread_ts=thread_ts, created_at=now
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True
