"""Handovers and their steps in the store.

A handover is saved once and only ever cancelled (never edited in place: a changed plan is a cancel
and a new one). Its steps per account (`created`, `start`, `end`) are claimed before they run, so
each runs once across restarts and two processes; a claim whose process died (older than
`stale_before`) or that failed is taken over by the next claimer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from bot.domain.handover import read_id
from bot.domain.roles import Handover
from integrations.store.schema import handover_pages as pages
from integrations.store.schema import handover_steps as steps
from integrations.store.schema import handovers as t


@dataclass(frozen=True)
class StoredHandover:
    handover: Handover
    created_by: str
    created_at: dt.datetime
    cancelled_by: str | None = None
    cancelled_at: dt.datetime | None = None

    @property
    def id(self) -> str:
        return self.handover.id

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


@dataclass(frozen=True)
class HandoverPage:
    """The Confluence page of a handover in one account: intent (no `page_id` yet) or written."""

    handover_id: str
    account_key: str
    title: str
    body: str
    page_id: str | None
    version: int | None
    state: str | None


def _read(row: sa.Row) -> StoredHandover:
    return StoredHandover(
        Handover(
            id=str(row.id), from_user=row.from_user, to_user=row.to_user, start=row.start_day, end=row.end_day,
            account_keys=frozenset(row.account_keys), note=row.note or "",
        ),
        created_by=row.created_by, created_at=row.created_at,
        cancelled_by=row.cancelled_by, cancelled_at=row.cancelled_at,
    )


class Handovers:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def add(
        self, from_user: str, to_user: str, start: dt.date, end: dt.date, account_keys: list[str],
        note: str, created_by: str, now: dt.datetime,
    ) -> StoredHandover:
        with self._engine.begin() as conn:
            result = conn.execute(t.insert().values(
                from_user=from_user, to_user=to_user, start_day=start, end_day=end,
                account_keys=sorted(account_keys), note=note, created_by=created_by, created_at=now,
            ))
            assert result.inserted_primary_key is not None
            handover_id = result.inserted_primary_key[0]
            return _read(conn.execute(sa.select(t).where(t.c.id == handover_id)).one())

    def get(self, handover_id: str) -> StoredHandover | None:
        number = read_id(handover_id)  # "²" or a 23-digit id is no row (and no driver error)
        if number is None:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == number)).first()
        return _read(row) if row else None

    def active(self, ending_on_or_after: dt.date | None = None) -> list[Handover]:
        """Handovers not cancelled (ending on or after the day, if given), oldest first: what
        `bot.domain.roles` resolves roles with."""
        return [s.handover for s in self.listed(ending_on_or_after) if not s.cancelled]

    def listed(self, ending_on_or_after: dt.date | None = None, include_cancelled: bool = False) -> list[StoredHandover]:
        query = sa.select(t).order_by(t.c.start_day, t.c.id)
        if ending_on_or_after is not None:
            query = query.where(t.c.end_day >= ending_on_or_after)
        if not include_cancelled:
            query = query.where(t.c.cancelled_at.is_(None))
        with self._engine.connect() as conn:
            return [_read(r) for r in conn.execute(query)]

    def cancelled_since(self, since: dt.datetime) -> list[StoredHandover]:
        """Handovers cancelled at or after `since` (their "while you were away" may be due)."""
        query = sa.select(t).where(t.c.cancelled_at >= since).order_by(t.c.id)
        with self._engine.connect() as conn:
            return [_read(r) for r in conn.execute(query)]

    def cancel(self, handover_id: str, by: str, now: dt.datetime) -> StoredHandover | None:
        """Cancel it; None if there is no such handover or it was cancelled already (by anyone)."""
        number = read_id(handover_id)
        if number is None:
            return None
        with self._engine.begin() as conn:
            # Conditional: of two cancels, one wins.
            result = conn.execute(
                t.update().where(t.c.id == number, t.c.cancelled_at.is_(None))
                .values(cancelled_by=by, cancelled_at=now)
            )
            if result.rowcount != 1:
                return None
            return _read(conn.execute(sa.select(t).where(t.c.id == number)).one())

    # --- steps --------------------------------------------------------------------------------

    def claim_step(
        self, handover_id: str, account_key: str, step: str, worker: str, now: dt.datetime, stale_before: dt.datetime
    ) -> bool:
        """Claim one step of a handover in one account for this worker; False if it is done,
        another live worker holds it, or it failed and its backoff (`next_try_at`) has not run out."""
        try:
            with self._engine.begin() as conn:
                conn.execute(steps.insert().values(
                    handover_id=int(handover_id), account_key=account_key, step=step, status="claimed",
                    claimed_by=worker, claimed_at=now,
                ))
                return True
        except sa.exc.IntegrityError:
            pass
        with self._engine.begin() as conn:
            taken_over = conn.execute(
                steps.update()
                .where(
                    steps.c.handover_id == int(handover_id), steps.c.account_key == account_key, steps.c.step == step,
                    sa.or_(sa.and_(steps.c.status == "failed",
                                   sa.or_(steps.c.next_try_at.is_(None), steps.c.next_try_at <= now)),
                           sa.and_(steps.c.status == "claimed", steps.c.claimed_at < stale_before)),
                )
                .values(status="claimed", claimed_by=worker, claimed_at=now, finished_at=None, error=None)
            )
        return taken_over.rowcount == 1

    def finish_step(
        self, handover_id: str, account_key: str, step: str, worker: str, now: dt.datetime, error: str | None = None,
        wait: Callable[[int], dt.timedelta] | None = None,
    ) -> None:
        """Done, or (with `error`) failed: one more attempt counted, tried again no sooner than
        `wait(attempts)` from now (None: at the next claim)."""
        where = (steps.c.handover_id == int(handover_id), steps.c.account_key == account_key,
                 steps.c.step == step, steps.c.claimed_by == worker)
        with self._engine.begin() as conn:
            if not error:
                conn.execute(steps.update().where(*where).values(
                    status="done", finished_at=now, error=None, attempts=0, next_try_at=None))
                return
            attempts = conn.execute(sa.select(steps.c.attempts).where(*where)).scalar()
            if attempts is None:
                return  # taken over by another worker meanwhile: its claim decides
            attempts += 1
            next_try = now + wait(attempts) if wait is not None else None
            conn.execute(steps.update().where(*where).values(
                status="failed", finished_at=now, error=error, attempts=attempts, next_try_at=next_try))

    def step_retry(self, handover_id: str, account_key: str, step: str) -> tuple[int, dt.datetime | None]:
        """(failures in a row, when it may be tried again) of a step; (0, None) if never failed."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(steps.c.attempts, steps.c.next_try_at).where(
                    steps.c.handover_id == int(handover_id), steps.c.account_key == account_key, steps.c.step == step)
            ).first()
        return (row.attempts, row.next_try_at) if row is not None else (0, None)

    def step_status(self, handover_id: str, account_key: str, step: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(steps.c.status).where(
                    steps.c.handover_id == int(handover_id), steps.c.account_key == account_key, steps.c.step == step)
            ).scalar()

    def step_claimed_at(self, handover_id: str, account_key: str, step: str) -> dt.datetime | None:
        """When the step was claimed, if it is claimed now (running, or its process died)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(steps.c.status, steps.c.claimed_at).where(
                    steps.c.handover_id == int(handover_id), steps.c.account_key == account_key, steps.c.step == step)
            ).first()
        return row.claimed_at if row is not None and row.status == "claimed" else None

    # --- Confluence pages -----------------------------------------------------------------------

    def page(self, handover_id: str, account_key: str) -> HandoverPage | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(pages).where(
                pages.c.handover_id == int(handover_id), pages.c.account_key == account_key)).first()
        if row is None:
            return None
        return HandoverPage(str(row.handover_id), row.account_key, row.title, row.body, row.page_id, row.version,
                            row.state)

    def page_intent(self, handover_id: str, account_key: str, title: str, body: str, now: dt.datetime) -> bool:
        """Record that the page is about to be created; False if an intent was there already (an
        earlier create may have happened: look the page up before creating again)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(pages.insert().values(handover_id=int(handover_id), account_key=account_key,
                                                   title=title, body=body, intent_at=now))
            return True
        except sa.exc.IntegrityError:
            return False

    def page_written(
        self, handover_id: str, account_key: str, page_id: str, version: int, state: str, now: dt.datetime,
        body: str | None = None,
    ) -> None:
        """The page as written now (its id, version and what it says); `body`: a newer body."""
        values: dict[str, object] = dict(page_id=page_id, version=version, state=state, written_at=now)
        if body is not None:
            values["body"] = body
        with self._engine.begin() as conn:
            conn.execute(pages.update().where(
                pages.c.handover_id == int(handover_id), pages.c.account_key == account_key,
            ).values(**values))
