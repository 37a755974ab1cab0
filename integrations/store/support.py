"""Support requests: stored before anything else happens, then filed in Jira, clocked and escalated.

Every transition is a conditional update (`WHERE state = …`, `WHERE escalated_at IS NULL`):
of two processes (or a button clicked twice) exactly one moves a request on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from integrations.store.schema import support_requests as t


@dataclass(frozen=True)
class SupportRequest:
    id: int
    kind: str
    account_key: str
    channel_id: str
    source_ts: str | None
    thread_ts: str | None
    requester_id: str
    requester_name: str | None
    requester_external: bool
    text: str | None
    permalink: str | None
    urgency: str | None
    state: str
    issue_key: str | None
    created_at: dt.datetime
    filed_at: dt.datetime | None
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    first_response_at: dt.datetime | None
    first_response_by: str | None
    escalated_at: dt.datetime | None
    breached_at: dt.datetime | None
    resolved_at: dt.datetime | None
    jira_status: str | None
    pauses: list[tuple[dt.datetime, dt.datetime | None]]
    project_work: bool


def _row(row: Any) -> SupportRequest:
    values = dict(row._mapping)
    values.pop("locked_by", None)
    values.pop("locked_until", None)
    values["pauses"] = [
        (dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b) if b else None) for a, b in values["pauses"] or []
    ]
    return SupportRequest(**values)


class SupportRequests:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def open(
        self, *, account_key: str, channel_id: str, requester_id: str, now: dt.datetime, text: str | None,
        source_ts: str | None = None, thread_ts: str | None = None, requester_name: str | None = None,
        requester_external: bool = False, permalink: str | None = None, urgency: str | None = None,
        kind: str = "request",
    ) -> tuple[int, bool]:
        """Store a request (state `asked`, or `filing` when the urgency is known; a message:
        `watching`); (id, True). The same source message again: (its id, False)."""
        state = "watching" if kind == "message" else ("filing" if urgency else "asked")
        try:
            with self._engine.begin() as conn:
                result = conn.execute(t.insert().values(
                    kind=kind, account_key=account_key, channel_id=channel_id, source_ts=source_ts,
                    thread_ts=thread_ts, requester_id=requester_id, requester_name=requester_name,
                    requester_external=requester_external, text=text, permalink=permalink, urgency=urgency,
                    state=state, created_at=now, next_attempt_at=now if urgency else None, pauses=[],
                ))
                key = result.inserted_primary_key
                assert key is not None
                return int(key[0]), True
        except sa.exc.IntegrityError:
            if source_ts is None:
                raise
        with self._engine.begin() as conn:
            existing: int = conn.execute(
                sa.select(t.c.id).where(t.c.channel_id == channel_id, t.c.source_ts == source_ts)
            ).scalar_one()
            if kind == "request":
                # A client message whose clock runs becomes the request (its clock keeps running
                # from when the client wrote): once, by a conditional update.
                turned = conn.execute(
                    t.update().where(t.c.id == existing, t.c.kind == "message").values(
                        kind="request", state=state, text=text, permalink=permalink, urgency=urgency,
                        requester_name=requester_name, requester_id=requester_id,
                        next_attempt_at=now if urgency else None,
                    )
                ).rowcount
                if turned == 1:
                    return int(existing), True
        return int(existing), False

    def get(self, request_id: int) -> SupportRequest | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == request_id)).first()
        return _row(row) if row else None

    def _update(self, where: Any, **values: Any) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(t.update().where(where).values(**values)).rowcount == 1

    def set_thread(self, request_id: int, thread_ts: str) -> None:
        self._update(t.c.id == request_id, thread_ts=thread_ts)

    def choose_urgency(self, request_id: int, urgency: str, now: dt.datetime) -> bool:
        """asked → filing with this urgency; False if it was chosen before (a second click)."""
        return self._update(sa.and_(t.c.id == request_id, t.c.state == "asked"),
                            urgency=urgency, state="filing", next_attempt_at=now)

    def claim_filing(self, request_id: int, owner: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take the request's filing for `lease` (unless another live worker holds it)."""
        free = sa.or_(t.c.locked_until.is_(None), t.c.locked_until < now, t.c.locked_by == owner)
        return self._update(sa.and_(t.c.id == request_id, t.c.state == "filing", free),
                            locked_by=owner, locked_until=now + lease, attempts=t.c.attempts + 1)

    def renew_filing(self, request_id: int, owner: str, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Extend this worker's hold on a filing in progress (its heartbeat); False if it lost it."""
        return self._update(sa.and_(t.c.id == request_id, t.c.state == "filing", t.c.locked_by == owner),
                            locked_until=now + lease)

    def filed(self, request_id: int, issue_key: str, now: dt.datetime, project_work: bool = False) -> bool:
        return self._update(sa.and_(t.c.id == request_id, t.c.state == "filing"), state="filed", issue_key=issue_key,
                            filed_at=now, locked_by=None, locked_until=None, next_attempt_at=None,
                            last_error=None, project_work=project_work)

    def filing_failed(self, request_id: int, owner: str, error: str, retry_at: dt.datetime) -> None:
        self._update(sa.and_(t.c.id == request_id, t.c.locked_by == owner), locked_by=None, locked_until=None,
                     last_error=error[:2000], next_attempt_at=retry_at)

    def due_for_filing(self, now: dt.datetime, limit: int = 20) -> list[int]:
        """Requests whose filing is due (a retry, or one a dead worker left)."""
        query = (sa.select(t.c.id)
                 .where(t.c.state == "filing", t.c.next_attempt_at <= now,
                        sa.or_(t.c.locked_until.is_(None), t.c.locked_until < now))
                 .order_by(t.c.next_attempt_at).limit(limit))
        with self._engine.connect() as conn:
            ids: list[int] = list(conn.execute(query).scalars())
        return ids

    def unanswered_questions(self, asked_before: dt.datetime) -> list[int]:
        """Requests whose urgency nobody chose since before `asked_before`."""
        query = sa.select(t.c.id).where(t.c.state == "asked", t.c.created_at < asked_before).order_by(t.c.id)
        with self._engine.connect() as conn:
            ids: list[int] = list(conn.execute(query).scalars())
        return ids

    def open_clocks(self) -> list[SupportRequest]:
        """Requests (and client messages) whose first response is still awaited."""
        query = sa.select(t).where(t.c.first_response_at.is_(None), t.c.state.in_(("filed", "filing", "watching")),
                                   t.c.urgency.is_not(None), t.c.resolved_at.is_(None))
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(query.order_by(t.c.id))]

    def by_thread(self, channel_id: str, thread_ts: str) -> SupportRequest | None:
        """The request (or clocked client message) whose conversation is this thread."""
        query = sa.select(t).where(t.c.channel_id == channel_id, t.c.thread_ts == thread_ts).order_by(t.c.id).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _row(row) if row else None

    def by_issue(self, issue_key: str) -> list[SupportRequest]:
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(sa.select(t).where(t.c.issue_key == issue_key))]

    def by_issues(self, issue_keys: list[str]) -> dict[str, list[SupportRequest]]:
        """The requests filed as these issues, by issue key."""
        out: dict[str, list[SupportRequest]] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(sa.select(t).where(t.c.issue_key.in_(issue_keys)).order_by(t.c.id)):
                request = _row(row)
                out.setdefault(request.issue_key or "", []).append(request)
        return out

    def first_response(self, request_id: int, at: dt.datetime, by: str) -> bool:
        """Record the first response (the earliest only: a later one does not move it)."""
        return self._update(sa.and_(t.c.id == request_id, t.c.first_response_at.is_(None)),
                            first_response_at=at, first_response_by=by[:64])

    def answer_messages(self, channel_id: str, at: dt.datetime, by: str) -> int:
        """An agency message in the channel answers every client message before it still waiting."""
        with self._engine.begin() as conn:
            return conn.execute(
                t.update()
                .where(t.c.kind == "message", t.c.channel_id == channel_id, t.c.first_response_at.is_(None),
                       t.c.created_at <= at)
                .values(first_response_at=at, first_response_by=by[:64])
            ).rowcount

    def flag_project_work(self, request_id: int) -> bool:
        return self._update(sa.and_(t.c.id == request_id, t.c.project_work.is_(False)), project_work=True)

    def mark(self, request_id: int, column: str, at: dt.datetime) -> bool:
        """Set `escalated_at`/`breached_at`/`resolved_at` once; False if it was set before."""
        assert column in ("escalated_at", "breached_at", "resolved_at")
        return self._update(sa.and_(t.c.id == request_id, t.c[column].is_(None)), **{column: at})

    def set_status(self, request_id: int, status: str, pauses: list[tuple[dt.datetime, dt.datetime | None]]) -> None:
        self._update(t.c.id == request_id, jira_status=status[:80],
                     pauses=[[a.isoformat(), b.isoformat() if b else None] for a, b in pauses])

    def in_period(self, account_key: str, since: dt.datetime, until: dt.datetime) -> list[SupportRequest]:
        """The account's requests and messages opened, answered or resolved in [since, until), or still open."""
        touched = sa.or_(
            t.c.created_at.between(since, until), t.c.first_response_at.between(since, until),
            t.c.resolved_at.between(since, until),
            sa.and_(t.c.created_at < until, t.c.resolved_at.is_(None)),
        )
        query = sa.select(t).where(t.c.account_key == account_key, t.c.urgency.is_not(None), touched)
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(query.order_by(t.c.id))]
