"""The intake's driver-level inbox writes: same rows as Inbox.add, exact duplicates, no stalled loop."""

import asyncio
import dataclasses
import datetime as dt
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from integrations.store.intake import open_appender
from integrations.store.schema import webhook_inbox
from integrations.store.store import Store

T0 = dt.datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=dt.timezone.utc)


def _row(delivery: str, source: str = "jira", body: str = '{"webhookEvent": "jira:issue_created"}', at=T0):
    return dict(source=source, delivery_id=delivery, body=body, event_name="jira:issue_created", received_at=at)


def _comparable(item):
    return {k: v for k, v in dataclasses.asdict(item).items() if k not in ("id", "delivery_id")}


async def test_rows_look_exactly_like_those_the_store_writes(store):
    berlin = dt.timezone(dt.timedelta(hours=1))
    at = T0.astimezone(berlin)  # an aware time in another zone is stored as the same instant
    body = '{"text": "Grüße — ünïcode ✓", "n": 1}'
    appender = open_appender(store.engine)
    try:
        assert await appender.append([_row("by-intake", body=body, at=at)]) == {("jira", "by-intake")}
    finally:
        await appender.aclose()
    store.inbox.add("jira", "by-store", body, "jira:issue_created", at)
    by_store, by_intake = store.inbox.list()
    assert by_intake.delivery_id == "by-intake"
    assert _comparable(by_intake) == _comparable(by_store)
    assert by_intake.received_at == T0 and by_intake.status == "pending" and by_intake.attempts == 0
    # The worker finds both due, and neither before they arrived.
    assert store.inbox.claim_due(T0 - dt.timedelta(microseconds=1), limit=10, lease=dt.timedelta(minutes=1)) == []
    claimed = store.inbox.claim_due(T0, limit=10, lease=dt.timedelta(minutes=1))
    assert [i.delivery_id for i in claimed] == ["by-intake", "by-store"]


async def test_duplicates_are_told_apart_from_new_rows(store):
    store.inbox.add("jira", "old", "{}", "jira:issue_created", T0)
    appender = open_appender(store.engine)
    try:
        new = await appender.append(
            [_row("a"), _row("old"), _row("b"), _row("a"), _row("old", source="confluence")]
        )
        assert new == {("jira", "a"), ("jira", "b"), ("confluence", "old")}
        assert await appender.append([_row("a"), _row("b")]) == set()
    finally:
        await appender.aclose()
    assert sorted((i.source, i.delivery_id) for i in store.inbox.list()) == [
        ("confluence", "old"), ("jira", "a"), ("jira", "b"), ("jira", "old")
    ]
    # Stored in arrival order (the worker takes them by id): a before b.
    assert [i.delivery_id for i in reversed(store.inbox.list()) if i.delivery_id in ("a", "b")] == ["a", "b"]


async def test_a_large_batch_is_written_in_several_statements_in_one_transaction(store):
    rows = [_row(f"d-{i}") for i in range(320)] + [_row("d-7"), _row("d-300")]
    appender = open_appender(store.engine)
    try:
        new = await appender.append(rows)
    finally:
        await appender.aclose()
    assert new == {("jira", f"d-{i}") for i in range(320)}
    assert store.inbox.counts() == {"pending": 320}


@pytest.mark.parametrize("good_rows", [1, 200])  # one INSERT statement, or several in a transaction
async def test_a_failing_batch_stores_nothing(store, good_rows):
    appender = open_appender(store.engine)
    try:
        with pytest.raises(Exception):
            # A NUL byte: PostgreSQL refuses it in text; SQLite stores it, so give SQLite a NULL
            # where the schema forbids one. Either way the good rows before it are rolled back.
            bad = "nul\x00byte" if store.engine.dialect.name == "postgresql" else None
            good = [_row(f"good-{i}") for i in range(good_rows)]
            await appender.append([*good, {**_row("bad"), "body": bad}])
        assert await appender.append([_row("after")]) == {("jira", "after")}
    finally:
        await appender.aclose()
    assert [i.delivery_id for i in store.inbox.list()] == ["after"]


async def test_sqlite_waits_for_another_writer_without_stalling_the_loop(sqlite_store):
    path = sqlite_store.engine.url.database
    locked, release = threading.Event(), threading.Event()

    def other_writer():
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=other_writer)
    holder.start()
    locked.wait(5)
    appender = open_appender(sqlite_store.engine)
    try:
        append = asyncio.create_task(appender.append([_row("while-locked")]))
        ticks = 0
        for _ in range(10):  # the loop keeps running while the write waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and not append.done()
        release.set()
        assert await asyncio.wait_for(append, 10) == {("jira", "while-locked")}
    finally:
        release.set()
        holder.join()
        await appender.aclose()


@pytest.fixture
def postgres_store(postgres_database_url):
    store = Store.open(postgres_database_url)
    with store.engine.begin() as conn:
        conn.execute(webhook_inbox.delete())
    yield store
    store.close()


def test_postgres_reconnects_after_losing_its_connection_and_across_event_loops(postgres_store):
    store = postgres_store
    appender = open_appender(store.engine)

    async def first():
        assert await appender.append([_row("one")]) == {("jira", "one")}
        # The server ends the intake's session (a restart, a failover, an idle timeout).
        with store.engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.commit()
        # The kept connection is dead: the batch goes through on a new one.
        assert await appender.append([_row("two")]) == {("jira", "two")}

    async def later():  # another event loop (a test client, a restarted server): a new connection
        assert await appender.append([_row("three")]) == {("jira", "three")}
        await appender.aclose()

    asyncio.run(first())
    asyncio.run(later())
    assert sorted(i.delivery_id for i in store.inbox.list()) == ["one", "three", "two"]


async def test_postgres_unreachable_is_an_error_not_a_loop():
    from integrations.store import db
    from sandbox.app_server import free_port

    engine = db.create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    appender = open_appender(engine)
    try:
        with pytest.raises(Exception, match="(?i)connect"):
            await asyncio.wait_for(appender.append([_row("x")]), 30)
    finally:
        await appender.aclose()
        engine.dispose()


async def test_a_closed_appender_does_not_open_again(store):
    appender = open_appender(store.engine)
    assert await appender.append([_row("before")]) == {("jira", "before")}
    await appender.aclose()
    with pytest.raises(RuntimeError, match="shutting down"):
        await appender.append([_row("after")])
    assert [i.delivery_id for i in store.inbox.list()] == ["before"]


def test_extended_sqlite_busy_codes_count_as_busy():
    from integrations.store.intake import _busy

    def error(code):
        exc = sqlite3.OperationalError("database is locked")
        exc.sqlite_errorcode = code
        return exc

    assert _busy(error(sqlite3.SQLITE_BUSY)) and _busy(error(261)) and _busy(error(517))  # RECOVERY, SNAPSHOT
    assert not _busy(error(sqlite3.SQLITE_CANTOPEN)) and not _busy(sqlite3.OperationalError("no code"))
