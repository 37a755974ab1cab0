"""Budget threshold alerts already raised, so each (account, period, audience, threshold) alerts once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from integrations.store.schema import budget_alerts as t

INTERNAL = "internal"


def _period(period: str, audience: str) -> str:
    # Client alerts count only what the client may see, so they cross thresholds at other times
    # than internal ones: they get their own rows. Internal rows keep the bare period (older rows).
    return period if audience == INTERNAL else f"{period}|{audience}"


class BudgetAlerts:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def sent(self, account_key: str, period: str, audience: str = INTERNAL) -> set[int]:
        """Thresholds already alerted for this account, period and audience."""
        with self._engine.connect() as conn:
            thresholds: sa.ScalarResult[int] = conn.execute(
                sa.select(t.c.threshold)
                .where(t.c.account_key == account_key)
                .where(t.c.period == _period(period, audience))
            ).scalars()
            return set(thresholds)

    def record(
        self, account_key: str, period: str, threshold: int, percent_used: str, now: dt.datetime,
        audience: str = INTERNAL,
    ) -> bool:
        """Mark the threshold alerted for the audience; False if it was before."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        account_key=account_key, period=_period(period, audience), threshold=threshold,
                        percent_used=percent_used, sent_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True
