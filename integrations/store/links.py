"""Channel links and subscriptions changed at runtime through Slack (every change is audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import channel_links, subscriptions


class Links:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def link(self, channel_id: str, account_key: str, audience: str, actor: str, now: dt.datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(channel_links.delete().where(channel_links.c.channel_id == channel_id))
            conn.execute(
                channel_links.insert().values(
                    channel_id=channel_id,
                    account_key=account_key,
                    audience=audience,
                    created_by=actor,
                    created_at=now,
                )
            )

    def unlink(self, channel_id: str) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(channel_links.delete().where(channel_links.c.channel_id == channel_id))
        return result.rowcount > 0

    def all_links(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(channel_links))]

    def add_subscription(
        self, channel_id: str, account_key: str, spec: dict[str, Any], actor: str, now: dt.datetime
    ) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(
                subscriptions.insert().values(
                    channel_id=channel_id,
                    account_key=account_key,
                    spec=spec,
                    created_by=actor,
                    created_at=now,
                )
            )
            return result.inserted_primary_key[0]

    def remove_subscription(self, channel_id: str, subscription_id: int) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                subscriptions.delete()
                .where(subscriptions.c.id == subscription_id)
                .where(subscriptions.c.channel_id == channel_id)
            )
        return result.rowcount == 1

    def subscriptions(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(subscriptions).order_by(subscriptions.c.id)
        if channel_id:
            query = query.where(subscriptions.c.channel_id == channel_id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
