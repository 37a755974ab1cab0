"""The durable webhook inbox: store first, answer 202, process later; nothing is lost on a crash."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from integrations.store.schema import webhook_inbox as t

# Slack requests kept before Slack's ack (`hold`); the support tick answers them, never the webhook worker.
SLACK_REQUESTS = "slack"


@dataclass(frozen=True)
class InboxItem:
    id: int
    source: str
    delivery_id: str
    body: str
    event_name: str | None
    received_at: dt.datetime
    status: str
    attempts: int
    last_error: str | None


def _item(row: sa.Row) -> InboxItem:
    return InboxItem(
        id=row.id,
        source=row.source,
        delivery_id=row.delivery_id,
        body=row.body,
        event_name=row.event_name,
        received_at=row.received_at,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
    )


class Inbox:
    """Webhook deliveries, deduplicated by (source, delivery id)."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def add(
        self, source: str, delivery_id: str, body: str, event_name: str | None, now: dt.datetime
    ) -> bool:
        """Store a delivery; False if this (source, delivery id) was stored before (a retry).

        The webhook intake writes through `integrations.store.intake` instead (batched, on the
        event loop); this is the one-row path for tools and tests, and the reference for what
        a stored delivery looks like.
        """
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t)
            .values(
                source=source, delivery_id=delivery_id, body=body, event_name=event_name,
                received_at=now, status="pending", attempts=0, next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
            .returning(t.c.id)
        )
        with self._engine.begin() as conn:
            return conn.execute(statement).first() is not None

    def hold(self, source: str, delivery_id: str, body: str, now: dt.datetime) -> bool:
        """Record a request Slack is about to be told was received (status `held`); False if it
        was recorded before (Slack's retry). The one-row path where no appender can write (an
        in-memory database); `bot.services.slack_intents` settles it."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t)
            .values(source=source, delivery_id=delivery_id, body=body, event_name=None, received_at=now,
                    status="held", attempts=0, next_attempt_at=now)
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
            .returning(t.c.id)
        )
        with self._engine.begin() as conn:
            return conn.execute(statement).first() is not None

    def claim_held(
        self, source: str, received_before: dt.datetime, now: dt.datetime, lease: dt.timedelta, owner: str,
        limit: int = 20,
    ) -> builtins.list[InboxItem]:
        """Lease `held` rows of `source` received before `received_before` that nobody settled
        (the process that acknowledged them died, or is far too slow), oldest first."""
        return self._lease(
            [t.c.status == "held", t.c.source == source, t.c.received_at <= received_before],
            now, lease, owner, limit,
        )

    def settle(self, source: str, delivery_id: str, status: str = "done", error: str | None = None) -> bool:
        """A `held` row was answered (`done`) or given up (`dead`); False if it was settled before."""
        with self._engine.begin() as conn:
            return conn.execute(
                t.update()
                .where(t.c.source == source, t.c.delivery_id == delivery_id, t.c.status == "held")
                .values(status=status, locked_until=None, locked_by=None, last_error=error)
            ).rowcount == 1

    def get(self, item_id: int) -> InboxItem | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == item_id)).first()
        return _item(row) if row else None

    def list(self, status: str | None = None, limit: int = 50) -> list[InboxItem]:
        """Newest deliveries first, optionally of one status."""
        query = sa.select(t).order_by(t.c.id.desc()).limit(limit)
        if status:
            query = query.where(t.c.status == status)
        with self._engine.connect() as conn:
            return [_item(r) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.status, sa.func.count(t.c.id)).group_by(t.c.status))
            return {cast(str, status): cast(int, n) for status, n in rows}

    def oldest_due(self, now: dt.datetime) -> dt.datetime | None:
        """When the oldest due, unleased pending delivery arrived (None if there is none)."""
        query = (
            sa.select(sa.func.min(t.c.received_at))
            .where(t.c.status == "pending")
            .where(sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
            .where(sa.or_(t.c.locked_until.is_(None), t.c.locked_until <= now))
        )
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def waiting_since(self, now: dt.datetime) -> dt.datetime | None:
        """Since when the longest-waiting due pending delivery has been due, leased or not (None
        if none is due): how long the worker has kept someone waiting, for its health check."""
        due_since = sa.func.coalesce(t.c.next_attempt_at, t.c.received_at)
        query = (
            sa.select(sa.func.min(due_since))
            .where(t.c.status == "pending")
            .where(sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
        )
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar()
        if isinstance(value, str):  # SQLite returns coalesce() of timestamps as text
            value = dt.datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def claim_due(
        self, now: dt.datetime, limit: int, lease: dt.timedelta, owner: str | None = None
    ) -> builtins.list[InboxItem]:  # `list` is also a method of this class
        """Lease up to `limit` pending deliveries that are due, oldest first, for worker `owner`."""
        due = sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now)
        return self._lease([t.c.status == "pending", due], now, lease, owner, limit)

    def _lease(
        self, which: builtins.list[sa.ColumnElement[bool]], now: dt.datetime, lease: dt.timedelta,
        owner: str | None, limit: int,
    ) -> builtins.list[InboxItem]:
        """Lease up to `limit` unleased rows matching `which` to `owner`, oldest first."""
        free = sa.or_(t.c.locked_until.is_(None), t.c.locked_until <= now)
        due = sa.select(t.c.id).where(*which, free).order_by(t.c.id).limit(limit)
        claimed = []
        with self._engine.begin() as conn:
            item_ids: Sequence[int] = conn.execute(due).scalars().all()
            for item_id in item_ids:
                # Conditional update: a second worker that read the same row claims nothing.
                result = conn.execute(
                    t.update()
                    .where(t.c.id == item_id, *which, free)
                    .values(locked_until=now + lease, locked_by=owner, attempts=t.c.attempts + 1)
                )
                if result.rowcount == 1:
                    claimed.append(item_id)
            rows = conn.execute(sa.select(t).where(t.c.id.in_(claimed)).order_by(t.c.id)).all()
        return [_item(r) for r in rows]

    def renew(self, owner: str, now: dt.datetime, lease: dt.timedelta) -> int:
        """Extend the leases `owner` still holds (its heartbeat while it works); how many.

        Only unexpired ones: a lease that ran out may have been taken over, and is not ours to renew.
        """
        with self._engine.begin() as conn:
            return conn.execute(
                t.update()
                .where(t.c.locked_by == owner, t.c.status == "pending", t.c.locked_until > now)
                .values(locked_until=now + lease)
            ).rowcount

    def finish(self, item_id: int, status: str, error: str | None = None) -> None:
        """Mark a delivery processed with its outcome (done, ignored, unsupported, anomalous)."""
        with self._engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == item_id)
                .values(status=status, locked_until=None, locked_by=None, last_error=error)
            )

    def retry_later(
        self, item_id: int, error: str, at: dt.datetime, dead: bool, *, count_attempt: bool = True
    ) -> None:
        """Keep the error; try again at `at`, or give up (dead letter) when attempts ran out.

        `count_attempt=False` gives the claim's attempt back: a wait the delivery is not to blame
        for (a rate limit, a refused token) must not bring it closer to the dead letters.
        """
        with self._engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == item_id)
                .values(
                    status="dead" if dead else "pending",
                    last_error=error,
                    next_attempt_at=at,
                    locked_until=None,
                    locked_by=None,
                    attempts=t.c.attempts if count_attempt else sa.case((t.c.attempts > 0, t.c.attempts - 1), else_=0),
                )
            )

    def requeue(self, item_id: int, now: dt.datetime) -> bool:
        """Put a delivery back in the queue (after a fix), keeping its history of attempts.

        A Slack request kept before Slack's ack (see `hold`) goes back to `held` with fresh attempts,
        for the support tick that answers it: the webhook worker could not read it."""
        held = t.c.source == SLACK_REQUESTS
        with self._engine.begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == item_id)
                .values(
                    status=sa.case((held, "held"), else_="pending"),
                    attempts=sa.case((held, 0), else_=t.c.attempts),
                    next_attempt_at=now, locked_until=None, locked_by=None,
                )
            )
        return result.rowcount == 1
