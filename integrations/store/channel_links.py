"""Channels linked from Slack: one row per channel (a channel belongs to one account).

A link's row, its subscriptions and its audit entry change together, in one transaction (`link`,
`unlink`, `retire`): no live link without its audit entry, no subscription outliving its link.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from bot.domain.accounts import Audience
from bot.domain.channel_links import RuntimeLink
from integrations.store.schema import audit_log, subscriptions
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

    def link(self, link: RuntimeLink, subscription: dict[str, Any] | None, details: dict[str, Any]) -> bool:
        """Store the link, the subscription the admin chose (if any) and the `channel.link` audit
        entry, all or nothing; False if the channel is linked already."""
        try:
            with self._engine.begin() as conn:
                conn.execute(t.insert().values(
                    channel_id=link.channel_id, account_key=link.account_key, audience=link.audience.value,
                    name=link.name, digest_cron=link.cron, created_by=link.created_by, created_at=link.created_at))
                if subscription is not None:
                    conn.execute(subscriptions.insert().values(
                        channel_id=link.channel_id, account_key=link.account_key, spec=subscription,
                        created_by=link.created_by, created_at=link.created_at))
                conn.execute(audit_log.insert().values(
                    at=link.created_at, actor=link.created_by, action="channel.link", account_key=link.account_key,
                    channel_id=link.channel_id, details=details))
        except sa.exc.IntegrityError:
            return False
        return True

    def unlink(self, channel_id: str, actor: str, now: dt.datetime, *, action: str = "channel.unlink",
               keep_account: str | None = None, details: dict[str, Any] | None = None) -> RuntimeLink | None:
        """Remove the channel's link and its subscriptions (those of `keep_account` stay), with one
        audit entry naming what went, all or nothing; the link removed, or None (then nothing changed)."""
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.channel_id == channel_id)).first()
            if row is None:
                return None
            found = RuntimeLink(row.channel_id, row.account_key, Audience(row.audience), row.digest_cron,
                                row.created_by, row.created_at, row.name)
            if conn.execute(t.delete().where(t.c.channel_id == channel_id)).rowcount != 1:
                return None  # another process removed it meanwhile (and audited it)
            doomed = sa.select(subscriptions).where(subscriptions.c.channel_id == channel_id)
            if keep_account is not None:
                doomed = doomed.where(subscriptions.c.account_key != keep_account)
            removed = [{"id": r.id, "account": r.account_key, "spec": r.spec} for r in conn.execute(doomed)]
            if removed:
                conn.execute(subscriptions.delete().where(subscriptions.c.id.in_([r["id"] for r in removed])))
            conn.execute(audit_log.insert().values(
                at=now, actor=actor, action=action, account_key=found.account_key, channel_id=channel_id,
                details={"audience": found.audience.value, "cron": found.cron, "subscriptions_removed": removed,
                         **(details or {})}))
        return found

    def delete(self, channel_id: str) -> RuntimeLink | None:
        """Remove the channel's link; the link removed, or None."""
        found = next((link for link in self.all() if link.channel_id == channel_id), None)
        if found is None:
            return None
        with self._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.channel_id == channel_id))
        return found
