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

    def recorded(self, keys: list[str]) -> set[str]:
        """Which of these keys were posted before (one query per 500 keys)."""
        found: set[str] = set()
        with self._engine.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                found.update(conn.execute(sa.select(t.c.key).where(t.c.key.in_(chunk))).scalars())
        return found

    def record_many(
        self, keys: list[str], channel_id: str, ts: str | None, thread_ts: str | None, now: dt.datetime
    ) -> None:
        """Record many keys for one message (a burst summary) in one transaction; skip known ones."""
        new = [k for k in dict.fromkeys(keys) if k not in self.recorded(list(keys))]
        if not new:
            return
        with self._engine.begin() as conn:
            conn.execute(
                t.insert(),
                [dict(key=k, channel_id=channel_id, ts=ts, thread_ts=thread_ts, created_at=now) for k in new],
            )
