"""Digest slots, claimed in the store before posting: exactly once per channel and slot."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integrations.store.schema import digest_runs as t


class DigestRuns:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def claim(
        self,
        account_key: str,
        channel_id: str,
        slot: dt.datetime,
        worker: str,
        now: dt.datetime,
        stale_before: dt.datetime | None = None,
        delayed_before: dt.datetime | None = None,
    ) -> int | None:
        """Claim a slot for this worker; None if another process holds or finished it.

        Two kinds of earlier runs may be taken over: a claim still `claimed` since before
        `stale_before` (its process died mid-run; the posts table keeps already-posted parts from
        repeating), and a run `delayed` by a Jira outage that finished before `delayed_before`.
        """
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
                key = result.inserted_primary_key
                assert key is not None  # an INSERT of one row has its key
                return key[0]
        except sa.exc.IntegrityError:
            pass
        retryable = _retryable(stale_before, delayed_before)
        if retryable is None:
            return None
        with self._engine.begin() as conn:
            # Conditional update: of two processes taking over, only one still matches.
            result = conn.execute(
                t.update()
                .where(t.c.channel_id == channel_id, t.c.slot == slot, retryable)
                .values(status="claimed", claimed_by=worker, claimed_at=now, finished_at=None)
                .returning(t.c.id)
            )
            row = result.first()
            return row.id if row else None

    def renew(self, run_id: int, worker: str, now: dt.datetime) -> bool:
        """The claim's holder is alive and working (a heartbeat): it does not go stale. False if
        it is no longer this worker's claim."""
        with self._engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == run_id, t.c.status == "claimed", t.c.claimed_by == worker)
                .values(claimed_at=now)
            )
        return result.rowcount == 1

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

    def last_posted(self, channel_id: str, before: dt.datetime | None = None) -> dt.datetime | None:
        """The slot of the channel's last posted digest (before `before`): "new since" starts there."""
        query = sa.select(sa.func.max(t.c.slot)).where(t.c.channel_id == channel_id, t.c.status == "posted")
        if before is not None:
            query = query.where(t.c.slot < before)
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        # Aggregates bypass the column type on SQLite: normalise to aware UTC here too.
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def first_slot(self, channel_id: str) -> dt.datetime | None:
        """The channel's earliest slot in the store (any outcome); None when it has none."""
        runs = sa.select(t.c.slot).where(t.c.channel_id == channel_id).order_by(t.c.slot).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(runs).scalar()

    def claimed_slots(
        self,
        channel_id: str,
        since: dt.datetime,
        stale_before: dt.datetime | None = None,
        delayed_before: dt.datetime | None = None,
    ) -> set[dt.datetime]:
        """Slots of this channel at or after `since` that are taken: claimed, posted, skipped…

        Runs that `claim` would take over (stale claims, delays old enough to retry) are not
        taken: the scheduler plans them again.
        """
        query = sa.select(t.c.slot).where(t.c.channel_id == channel_id, t.c.slot >= since)
        retryable = _retryable(stale_before, delayed_before)
        if retryable is not None:
            query = query.where(sa.not_(retryable))
        with self._engine.connect() as conn:
            return {r.slot for r in conn.execute(query)}

    def get(self, run_id: int) -> dict | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == run_id)).first()
            return dict(row._mapping) if row else None

    def for_channel(self, channel_id: str) -> list[dict]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.channel_id == channel_id).order_by(t.c.slot))
            return [dict(r._mapping) for r in rows]


def _retryable(stale_before: dt.datetime | None, delayed_before: dt.datetime | None):
    conditions = []
    if stale_before is not None:
        conditions.append(sa.and_(t.c.status == "claimed", t.c.claimed_at < stale_before))
    if delayed_before is not None:
        conditions.append(sa.and_(t.c.status == "delayed", t.c.finished_at < delayed_before))
    return sa.or_(*conditions) if conditions else None
