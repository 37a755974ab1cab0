"""Posted messages by cause: the key that makes posting exactly-once across crashes and retries.

A message's keys are written *before* Slack is called (`intend`: state `posting`, with the token
sent as the message's metadata and the posting worker's lease) and completed with Slack's answer
after (`answer`: state `done`, ts). A `posting` row whose lease ran out belongs to a worker that
died between the two: whether Slack has that message is uncertain, and the next worker settles it
from the channel's history (`bot.services.exactly_once`) instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from integrations.store.schema import posts as t

POSTING, DONE = "posting", "done"


@dataclass(frozen=True)
class Post:
    key: str
    channel_id: str
    ts: str | None
    thread_ts: str | None
    state: str = DONE


@dataclass(frozen=True)
class Intent:
    """What `intend` found for a message's keys.

    - `new`: nothing known; the intent is recorded, post now.
    - `done`: already posted (`ts`, `thread_ts` of its first key): do not post.
    - `busy`: another live worker is posting (some of) these keys, or finished some of them
      meanwhile: try again later.
    - `uncertain`: a dead worker's (or our own unanswered) intent, now ours: look for its
      `message_keys` in the channel since `since` (in `thread_ts`'s thread) before posting.
      `exact`: those rows are exactly this message's keys, under this message's token.
    """

    status: str
    ts: str | None = None
    thread_ts: str | None = None
    since: dt.datetime | None = None
    message_keys: frozenset[str] = field(default_factory=frozenset)
    exact: bool = True


class _Busy(Exception):
    pass


class Posts:
    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, key: str) -> Post | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.key == key)).first()
        return Post(row.key, row.channel_id, row.ts, row.thread_ts, row.state) if row else None

    def starting_with(self, prefix: str) -> list[Post]:
        """Every post whose key starts with `prefix` (done or still being posted), by key."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.key, t.c.channel_id, t.c.ts, t.c.thread_ts, t.c.state)
                .where(t.c.key.like(pattern, escape="\\")).order_by(t.c.key)
            ).all()
        return [Post(r.key, r.channel_id, r.ts, r.thread_ts, r.state) for r in rows]

    def record(
        self, key: str, channel_id: str, ts: str | None, thread_ts: str | None, now: dt.datetime
    ) -> bool:
        """Remember that `key` is handled (as message `ts`, or without one); False if it was before."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    t.insert().values(
                        key=key, channel_id=channel_id, ts=ts, thread_ts=thread_ts, created_at=now, state=DONE
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def recorded(self, keys: list[str]) -> set[str]:
        """Which of these keys are done (posted or handled); one query per 500 keys.

        Keys with an intent only (`posting`) are not: they are planned again and settled when posted.
        """
        found: set[str] = set()
        with self._engine.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                found.update(
                    conn.execute(sa.select(t.c.key).where(t.c.key.in_(chunk), t.c.state == DONE)).scalars()
                )
        return found

    # --- the intent, the answer -----------------------------------------------------------

    def intend(
        self,
        keys: list[str],
        channel_id: str,
        message_key: str,
        thread_ts: str | None,
        thread_issue: str | None,
        owner: str,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> Intent:
        """Record the intent to post one message for `keys` (see `Intent` for the answers)."""
        keys = list(dict.fromkeys(keys))
        try:
            with self._engine.begin() as conn:
                return self._intend(conn, keys, channel_id, message_key, thread_ts, thread_issue, owner, now, lease)
        except (_Busy, sa.exc.IntegrityError):
            # IntegrityError: another worker inserted one of the keys between our read and write.
            return Intent("busy")

    def _intend(self, conn, keys, channel_id, message_key, thread_ts, thread_issue, owner, now, lease) -> Intent:
        rows = conn.execute(sa.select(t).where(t.c.key.in_(keys))).all()
        done = [r for r in rows if r.state == DONE]
        if done:
            if len(done) == len(keys):
                first = next(r for r in done if r.key == keys[0])
                return Intent("done", ts=first.ts, thread_ts=first.thread_ts)
            raise _Busy  # part of it was posted meanwhile: plan again
        if any(r.owner != owner and r.locked_until is not None and r.locked_until > now for r in rows):
            raise _Busy
        if rows:
            # Ours now: its owner died (lease ran out) or it is our own unanswered try.
            taken = conn.execute(
                t.update()
                .where(t.c.key.in_([r.key for r in rows]), t.c.state == POSTING)
                .where(sa.or_(t.c.owner == owner, t.c.locked_until.is_(None), t.c.locked_until <= now))
                .values(owner=owner, locked_until=now + lease)
            )
            if taken.rowcount != len(rows):
                raise _Busy  # another worker took it over first
            exact = len(rows) == len(keys) and {r.message_key for r in rows} == {message_key}
            return Intent(
                "uncertain",
                thread_ts=rows[0].thread_ts,
                since=min(r.created_at for r in rows),
                message_keys=frozenset(r.message_key for r in rows if r.message_key),
                exact=exact,
            )
        conn.execute(
            t.insert(),
            [
                dict(
                    key=k, channel_id=channel_id, ts=None, thread_ts=thread_ts, created_at=now, state=POSTING,
                    message_key=message_key, owner=owner, locked_until=now + lease, thread_issue=thread_issue,
                )
                for k in keys
            ],
        )
        return Intent("new")

    def retry_intent(self, keys: list[str], thread_ts: str | None, owner: str, now: dt.datetime) -> None:
        """An uncertain post was not found in Slack: the new try starts now, in `thread_ts`'s thread."""
        with self._engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.key.in_(keys), t.c.state == POSTING, t.c.owner == owner)
                .values(created_at=now, thread_ts=thread_ts)
            )

    def answer(self, keys: list[str], ts: str, thread_ts: str | None) -> None:
        """Slack has the message `ts` for these keys (posted, or found settling): done."""
        with self._engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.key.in_(keys), t.c.state == POSTING)
                .values(state=DONE, ts=ts, thread_ts=thread_ts, owner=None, locked_until=None)
            )

    def answer_found(self, message_key: str, ts: str, thread_ts: str | None, owner: str) -> list[str]:
        """Every key of ours waiting under `message_key` is done as message `ts`; those keys."""
        with self._engine.begin() as conn:
            keys: list[str] = list(
                conn.execute(
                    sa.select(t.c.key).where(
                        t.c.message_key == message_key, t.c.state == POSTING, t.c.owner == owner
                    )
                ).scalars()
            )
            if keys:
                conn.execute(
                    t.update()
                    .where(t.c.key.in_(keys))
                    .values(state=DONE, ts=ts, thread_ts=thread_ts, owner=None, locked_until=None)
                )
        return keys

    def release(self, keys: list[str], owner: str) -> None:
        """Slack did not take the message (it said why, or it is not there): forget the intent."""
        with self._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.key.in_(keys), t.c.state == POSTING, t.c.owner == owner))

    def let_go(self, keys: list[str], owner: str, now: dt.datetime) -> None:
        """We stopped posting these keys without knowing whether Slack has the message: keep the
        intent, end our lease, so whoever posts them next settles it at once."""
        with self._engine.begin() as conn:
            conn.execute(
                t.update().where(t.c.key.in_(keys), t.c.state == POSTING, t.c.owner == owner).values(locked_until=now)
            )

    def release_message(self, message_key: str, owner: str) -> None:
        """Forget our intents under `message_key` (settling found no such message in Slack)."""
        with self._engine.begin() as conn:
            conn.execute(
                t.delete().where(t.c.message_key == message_key, t.c.state == POSTING, t.c.owner == owner)
            )

    def renew(self, owner: str, now: dt.datetime, lease: dt.timedelta) -> int:
        """Extend the lease of every intent `owner` holds (its heartbeat); how many."""
        with self._engine.begin() as conn:
            return conn.execute(
                t.update()
                .where(t.c.owner == owner, t.c.state == POSTING, t.c.locked_until > now)
                .values(locked_until=now + lease)
            ).rowcount
