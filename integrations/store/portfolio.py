"""Per-account health snapshots (the portfolio): read by the App Home and `/pulse accounts`.

A snapshot is replaced whole by each refresh; a webhook that touched the account marks it stale
(it is still shown, marked, until the background refresh replaces it). A refresh is claimed first
(`claim`), so two processes do not both ask Jira for the same account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import portfolio_snapshots as t
from integrations.store.schema import support_requests as requests


@dataclass(frozen=True)
class Snapshot:
    account_key: str
    payload: dict[str, Any] | None
    computed_at: dt.datetime | None
    stale_since: dt.datetime | None


def _snapshot(row: sa.Row[Any]) -> Snapshot:
    return Snapshot(row.account_key, row.payload, row.computed_at, row.stale_since)


class PortfolioSnapshots:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def all(self) -> list[Snapshot]:
        """Every account's row, computed or not, by account key."""
        query = sa.select(t.c.account_key, t.c.payload, t.c.computed_at, t.c.stale_since).order_by(t.c.account_key)
        with self._engine.connect() as conn:
            return [_snapshot(row) for row in conn.execute(query)]

    def get(self, account_key: str) -> Snapshot | None:
        query = sa.select(t.c.account_key, t.c.payload, t.c.computed_at, t.c.stale_since).where(
            t.c.account_key == account_key)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _snapshot(row) if row else None

    def claim(self, account_key: str, owner: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take the account's refresh for `lease`; False while another process holds it."""
        with self._engine.begin() as conn:
            taken = conn.execute(
                t.update()
                .where(t.c.account_key == account_key)
                .where(sa.or_(t.c.refreshing_until.is_(None), t.c.refreshing_until < now, t.c.refreshing_by == owner))
                .values(refreshing_by=owner, refreshing_until=now + lease)
            ).rowcount
            if taken:
                return True
            exists = conn.execute(sa.select(t.c.account_key).where(t.c.account_key == account_key)).first()
        if exists:
            return False
        try:
            with self._engine.begin() as conn:
                conn.execute(t.insert().values(account_key=account_key, refreshing_by=owner,
                                               refreshing_until=now + lease))
        except sa.exc.IntegrityError:
            return False  # another process inserted it first: its claim
        return True

    def save(self, account_key: str, payload: dict[str, Any], computed_at: dt.datetime, owner: str | None = None) -> None:
        """The account's new snapshot (not stale, unless a webhook came after `computed_at`); lets go
        of `owner`'s claim. Inserts the row when there was none."""
        with self._engine.begin() as conn:
            changed = conn.execute(
                t.update().where(t.c.account_key == account_key).values(
                    payload=payload, computed_at=computed_at,
                    # A webhook after the data was fetched keeps it stale.
                    stale_since=sa.case((t.c.stale_since > computed_at, t.c.stale_since), else_=None),
                    refreshing_by=sa.case((t.c.refreshing_by == owner, None), else_=t.c.refreshing_by),
                    refreshing_until=sa.case((t.c.refreshing_by == owner, None), else_=t.c.refreshing_until),
                )
            ).rowcount
            if not changed:
                conn.execute(t.insert().values(account_key=account_key, payload=payload, computed_at=computed_at))

    def release(self, account_key: str, owner: str) -> None:
        """Let go of a claim whose refresh failed (the next pass tries again)."""
        with self._engine.begin() as conn:
            conn.execute(t.update().where(t.c.account_key == account_key, t.c.refreshing_by == owner)
                         .values(refreshing_by=None, refreshing_until=None))

    def mark_stale(self, account_keys: list[str], now: dt.datetime) -> int:
        """A webhook changed these accounts: their snapshots are out of date (the earliest moment kept)."""
        if not account_keys:
            return 0
        with self._engine.begin() as conn:
            return conn.execute(
                t.update().where(t.c.account_key.in_(account_keys), t.c.stale_since.is_(None)).values(stale_since=now)
            ).rowcount

    def support_counts(self, account_key: str) -> tuple[int, int]:
        """(open, past their first-response target) of the account's support requests and client
        messages awaiting an answer, for its health."""
        open_ = sa.and_(requests.c.account_key == account_key, requests.c.resolved_at.is_(None),
                        requests.c.state.in_(("asked", "filing", "filed", "watching")),
                        # A client message answered is no longer open.
                        sa.or_(requests.c.kind != "message", requests.c.first_response_at.is_(None)))
        query = sa.select(sa.func.count(), sa.func.count(requests.c.breached_at)).where(open_)
        with self._engine.connect() as conn:
            total, breached = conn.execute(query).one()
        return int(total), int(breached)
