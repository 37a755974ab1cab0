"""Digest slots, claimed in the store before posting: exactly once per channel and slot."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integrations.store.schema import digest_runs as t


class DigestRuns:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def claim(
        self, account_key: str, channel_id: str, slot: dt.datetime, worker: str, now: dt.datetime
    ) -> int | None:
        """Claim a slot for this worker; None if any process claimed it before (even one that died)."""
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    t.insert().values(
                        account_key=account_key,
                        channel_id=channel_id,
                        slot=slot,
                        status="claimed",
                        claimed_by=worker,
                        claimed_at=now,
                    )
                )
                return result.inserted_primary_key[0]
        except sa.exc.IntegrityError:
            return None

    def finish(
        self,
        run_id: int,
        status: str,
        now: dt.datetime,
        *,
        message_ts: str | None = None,
        jira_calls: int | None = None,
        error: str | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == run_id)
                .values(
                    status=status,
                    finished_at=now,
                    message_ts=message_ts,
                    jira_calls=jira_calls,
                    error=error,
                )
            )

    def last_posted(self, channel_id: str) -> dt.datetime | None:
        """The slot of the channel's last posted digest: "new since last digest" starts there."""
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.max(t.c.slot))
                .where(t.c.channel_id == channel_id)
                .where(t.c.status == "posted")
            ).scalar()

    def get(self, run_id: int) -> dict | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
            return dict(row._mapping) if row else None

    def for_channel(self, channel_id: str) -> list[dict]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.channel_id == channel_id).order_by(t.c.slot))
            return [dict(r._mapping) for r in rows]
