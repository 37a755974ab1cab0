"""Budget threshold alerts already raised, so each (account, period, threshold) alerts once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integrations.store.schema import budget_alerts as t


class BudgetAlerts:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def sent(self, account_key: str, period: str) -> set[int]:
        """Thresholds already alerted for this account and period."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.threshold).where(t.c.account_key == account_key).where(t.c.period == period)
            )
            return {r for (r,) in rows}

    def record(self, account_key: str, period: str, threshold: int, percent_used: str, now: dt.datetime) -> bool:
        """Mark the threshold alerted; False if it was before."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        account_key=account_key, period=period, threshold=threshold,
                        percent_used=percent_used, sent_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True
