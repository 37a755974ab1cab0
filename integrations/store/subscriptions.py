"""Channel subscriptions changed at runtime through `/pulse subscribe` (every change is audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import subscriptions as t


class Subscriptions:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def add(self, channel_id: str, account_key: str, spec: dict[str, Any], actor: str, now: dt.datetime) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(
                t.insert().values(
                    channel_id=channel_id, account_key=account_key, spec=spec, created_by=actor, created_at=now
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT of one row has its key
            return key[0]

    def remove(self, channel_id: str, subscription_id: int) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(t.delete().where(t.c.id == subscription_id).where(t.c.channel_id == channel_id))
        return result.rowcount == 1

    def list(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """A channel's subscriptions (all channels' without one), oldest first."""
        query = sa.select(t).order_by(t.c.id)
        if channel_id:
            query = query.where(t.c.channel_id == channel_id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
