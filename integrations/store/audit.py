"""Audit log of configuration changes: who did what, where, when."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import audit_log as t


class AuditLog:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def record(
        self,
        actor: str,
        action: str,
        now: dt.datetime,
        *,
        account_key: str | None = None,
        channel_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                t.insert().values(
                    at=now,
                    actor=actor,
                    action=action,
                    account_key=account_key,
                    channel_id=channel_id,
                    details=details or {},
                )
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def entries(self, action: str, channel_id: str) -> list[dict[str, Any]]:
        """Every `action` recorded for a channel, oldest first."""
        query = sa.select(t).where(t.c.action == action, t.c.channel_id == channel_id).order_by(t.c.at, t.c.id)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
