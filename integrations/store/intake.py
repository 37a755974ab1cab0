"""The webhook intake's write path into the inbox, on the event loop, without SQLAlchemy.

Every webhook request waits for this insert, and at intake rates SQLAlchemy's per-row work and the
hop to a worker thread cost more than the database itself (measured in `benchmarks/webhooks.py`):
the intake appends through the driver, one multi-row INSERT and one transaction per batch.
Everything else reads and updates the inbox through `Inbox`, which also stays the reference for
what a stored row looks like (tests compare the two).

- PostgreSQL: psycopg's async connection on the server's event loop.
- SQLite: a plain sqlite3 connection used on the event loop itself. Without contention an insert
  is a fraction of a millisecond (WAL, no fsync at commit); when another writer holds the lock the
  batch moves to a thread and waits there, so the loop never sleeps on a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Iterator
from typing import Protocol

import psycopg
import sqlalchemy as sa

from integrations.store import db
from integrations.store.schema import webhook_inbox as t

Key = tuple[str, str]  # (source, delivery id)

# A new row's columns, in statement order; `status`, `attempts` and `next_attempt_at` as in Inbox.add.
_COLUMNS = ("source", "delivery_id", "body", "event_name", "received_at", "status", "attempts", "next_attempt_at")
# Rows per INSERT: 6 parameters each stays under SQLite's oldest limit of 999 variables.
_ROWS_PER_STATEMENT = 150


# What a new row's status may be: `pending` (a webhook delivery, for the inbox worker) or `held`
# (a Slack request recorded before its acknowledgement; `bot.services.slack_intents` settles it).
STATUSES = ("pending", "held")


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int, placeholder: str, status: str = "pending") -> str:
    """One multi-row INSERT (one statement per batch, not one per row: a third less work per row)."""
    assert status in STATUSES
    p = placeholder
    values = ", ".join([f"({p}, {p}, {p}, {p}, {p}, '{status}', 0, {p})"] * rows)
    # RETURNING names the rows that were new; the unique constraint skips Jira's retries.
    return (
        f"INSERT INTO {t.name} ({', '.join(_COLUMNS)}) VALUES {values} "
        "ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id"
    )


class InboxAppender(Protocol):
    async def append(self, rows: list[dict]) -> set[Key]:
        """Store deliveries (source, delivery_id, body, event_name, received_at); the keys that were new."""

    async def aclose(self) -> None: ...


def open_appender(engine: sa.Engine, status: str = "pending") -> InboxAppender:
    """The intake's appender for the store behind `engine` (connects on first use); its rows get
    `status` (see STATUSES)."""
    if engine.dialect.name == "postgresql":
        return PostgresAppender(engine, status)
    if engine.dialect.name == "sqlite":
        return SqliteAppender(engine, status)
    raise ValueError(f"no inbox appender for {engine.dialect.name}")


class _Statements:
    """A batch as INSERT statements and their parameters, with the column types' own conversions
    (so a row looks exactly as if SQLAlchemy had written it)."""

    def __init__(self, dialect: sa.Dialect, placeholder: str, status: str = "pending"):
        assert status in STATUSES
        self._status = status
        column_type = t.c.received_at.type.dialect_impl(dialect)
        self._time = column_type.bind_processor(dialect) or (lambda value: value)
        self._placeholder = placeholder

    def __call__(self, rows: list[dict]) -> Iterator[tuple[str, list]]:
        # The same delivery twice in one batch: the first is stored, once; arrival order is kept.
        seen: set[Key] = set()
        unique = []
        for row in rows:
            key = (row["source"], row["delivery_id"])
            if key not in seen:
                seen.add(key)
                unique.append(row)
        for start in range(0, len(unique), _ROWS_PER_STATEMENT):
            chunk = unique[start : start + _ROWS_PER_STATEMENT]
            params: list = []
            for row in chunk:
                received = self._time(row["received_at"])
                params += (row["source"], row["delivery_id"], row["body"], row["event_name"], received, received)
            yield _insert_sql(len(chunk), self._placeholder, self._status), params


def _busy(exc: sqlite3.OperationalError) -> bool:
    # Extended codes (SQLITE_BUSY_RECOVERY while another process recovers the WAL…) are busy too.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class SqliteAppender:
    def __init__(self, engine: sa.Engine, status: str = "pending"):
        self._path = engine.url.database
        self._statements = _Statements(engine.dialect, "?", status)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("intake is shutting down")
        if self._conn is None:
            # isolation_level=None: transactions are begun and ended here, explicitly.
            path = self._path
            if path is None:
                raise RuntimeError("the intake writes to a SQLite file, not an in-memory database")
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.sqlite_pragmas(conn, path)
            # Checkpoints fsync the database file: leave them to the worker's connections, whose
            # commits run in threads, instead of stalling the event loop every few hundred rows.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn = conn
        return self._conn

    def _write(self, rows: list[dict], busy_timeout_ms: int) -> set[Key]:
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            new = {
                (source, delivery_id)
                for sql, params in self._statements(rows)
                for source, delivery_id in conn.execute(sql, params).fetchall()
            }
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return new

    async def append(self, rows: list[dict]) -> set[Key]:
        try:
            return self._write(rows, busy_timeout_ms=0)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        # Another writer (the worker, a digest claim) holds the lock: wait for it in a thread.
        return await asyncio.to_thread(self._write, rows, busy_timeout_ms=30_000)

    async def aclose(self) -> None:
        """Close the connection (after the last write: GroupCommit.aclose waits for it)."""
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresAppender:
    def __init__(self, engine: sa.Engine, status: str = "pending"):
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._statements = _Statements(engine.dialect, "%s", status)
        self._conn: psycopg.AsyncConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def _connection(self) -> tuple[psycopg.AsyncConnection, bool]:
        """The connection, and whether it was opened just now."""
        if self._closed:
            raise RuntimeError("intake is shutting down")
        loop = asyncio.get_running_loop()
        if self._conn is not None and (self._conn.closed or self._loop is not loop):
            self._discard()
        if self._conn is not None:
            return self._conn, False
        # autocommit: a batch's single statement commits by itself; several share a transaction.
        self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        self._loop = loop
        return self._conn, True

    def _discard(self) -> None:
        # A connection of another (finished) event loop or a broken one: drop its socket.
        if self._conn is not None:
            self._conn.pgconn.finish()
        self._conn = None

    async def append(self, rows: list[dict]) -> set[Key]:
        statements = list(self._statements(rows))
        while True:
            conn, fresh = await self._connection()
            try:
                return await self._insert(conn, statements)
            except psycopg.OperationalError:
                self._discard()
                if fresh:
                    raise
                # A kept connection the server has dropped since (restart, failover, idle
                # timeout): once more on a new one. If the first try did commit after all, the
                # second finds its rows and they are answered as duplicates: stored once either way.

    @staticmethod
    async def _insert(conn: psycopg.AsyncConnection, statements: list[tuple[str, list]]) -> set[Key]:
        new: set[Key] = set()
        # One statement is a transaction by itself (autocommit): no BEGIN and COMMIT round trips.
        atomic = conn.transaction() if len(statements) > 1 else contextlib.nullcontext()
        async with atomic, conn.cursor() as cursor:
            for sql, params in statements:
                await cursor.execute(sql, params)
                new.update(await cursor.fetchall())
        return new

    async def aclose(self) -> None:
        """Close the connection (after the last write: GroupCommit.aclose waits for it)."""
        self._closed = True
        if self._conn is not None and self._loop is asyncio.get_running_loop():
            await self._conn.close()
            self._conn = None
        self._discard()
