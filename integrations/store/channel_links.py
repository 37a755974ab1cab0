"""Channels linked from Slack: one row per channel (a channel belongs to one account)."""

from __future__ import annotations

import sqlalchemy as sa

from bot.domain.accounts import Audience
from bot.domain.channel_links import RuntimeLink
from integrations.store.schema import channel_links as t


class ChannelLinks:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def all(self) -> list[RuntimeLink]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.created_at, t.c.channel_id))
            return [RuntimeLink(r.channel_id, r.account_key, Audience(r.audience), r.digest_cron, r.created_by,
                                r.created_at, r.name) for r in rows]

    def put(self, link: RuntimeLink) -> bool:
        """Store the link; False if the channel is linked already (unlink it first)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(t.insert().values(
                    channel_id=link.channel_id, account_key=link.account_key, audience=link.audience.value,
                    name=link.name, digest_cron=link.cron, created_by=link.created_by, created_at=link.created_at))
        except sa.exc.IntegrityError:
            return False
        return True

    def delete(self, channel_id: str) -> RuntimeLink | None:
        """Remove the channel's link; the link removed, or None."""
        found = next((link for link in self.all() if link.channel_id == channel_id), None)
        if found is None:
            return None
        with self._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.channel_id == channel_id))
        return found
