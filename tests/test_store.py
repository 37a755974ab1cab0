import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from integrations.store import db

T0 = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.timezone.utc)


def test_schema_is_at_head(store):
    assert store.is_current()
    assert db.current_revision(store.engine) == db.head_revision()


def test_inbox_deduplicates_by_source_and_delivery_id(store):
    assert store.inbox.add("jira", "d-1", '{"a": 1}', "jira:issue_created", T0) is True
    assert store.inbox.add("jira", "d-1", '{"a": 1}', "jira:issue_created", T0) is False
    # Same id from another source is another delivery.
    assert store.inbox.add("confluence", "d-1", "{}", "page_created", T0) is True
    assert store.inbox.counts() == {"pending": 2}
    (newest, oldest) = store.inbox.list()
    assert (oldest.source, oldest.delivery_id, oldest.body) == ("jira", "d-1", '{"a": 1}')
    assert oldest.received_at == T0
    assert oldest.received_at.tzinfo is not None


def test_inbox_claim_lease_retry_and_dead_letter(store):
    store.inbox.add("jira", "d-1", "{}", None, T0)
    store.inbox.add("jira", "d-2", "{}", None, T0)
    lease = dt.timedelta(minutes=5)
    first = store.inbox.claim_due(T0, limit=1, lease=lease)
    assert [i.delivery_id for i in first] == ["d-1"]
    assert first[0].attempts == 1
    # Leased items are not handed to a second worker until the lease runs out.
    second = store.inbox.claim_due(T0, limit=10, lease=lease)
    assert [i.delivery_id for i in second] == ["d-2"]
    assert store.inbox.claim_due(T0, limit=10, lease=lease) == []
    # A worker that died: its lease expires and the delivery comes back.
    again = store.inbox.claim_due(T0 + lease, limit=10, lease=lease)
    assert [i.delivery_id for i in again] == ["d-1", "d-2"]
    assert [i.attempts for i in again] == [2, 2]
    store.inbox.retry_later(again[0].id, "Slack 503", T0 + dt.timedelta(hours=1), dead=False)
    store.inbox.retry_later(again[1].id, "boom", T0, dead=True)
    assert store.inbox.claim_due(T0 + lease * 2, limit=10, lease=lease) == []
    due = store.inbox.claim_due(T0 + dt.timedelta(hours=1), limit=10, lease=lease)
    assert [i.delivery_id for i in due] == ["d-1"]
    store.inbox.finish(due[0].id, "done")
    assert store.inbox.counts() == {"done": 1, "dead": 1}
    dead = store.inbox.list(status="dead")[0]
    assert dead.last_error == "boom"
    assert store.inbox.requeue(dead.id, T0) is True
    assert store.inbox.counts() == {"done": 1, "pending": 1}


def test_digest_slot_is_claimed_once_even_concurrently(store):
    results = []

    def claim(worker):
        results.append(store.digest_runs.claim("acme", "C0ACME001", T0, worker, T0))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    store.digest_runs.finish(winners[0], "posted", T0, message_ts="1.2", jira_calls=4)
    assert store.digest_runs.last_posted("C0ACME001") == T0
    assert store.digest_runs.last_posted("C0OTHER01") is None
    assert store.digest_runs.last_posted("C0ACME001", before=T0) is None
    assert store.digest_runs.claimed_slots("C0ACME001", T0) == {T0}
    run = store.digest_runs.get(winners[0])
    assert (run["status"], run["message_ts"], run["jira_calls"]) == ("posted", "1.2", 4)


def test_posts_record_once(store):
    assert store.posts.get("delivery:d-1:C1") is None
    assert store.posts.record("delivery:d-1:C1", "C1", "111.1", None, T0) is True
    assert store.posts.record("delivery:d-1:C1", "C1", "222.2", None, T0) is False
    assert store.posts.get("delivery:d-1:C1").ts == "111.1"


def test_audit_and_subscriptions(store):
    sub_id = store.subscriptions.add("C0NEW0001", "acme", {"events": ["issue_created"]}, "U1", T0)
    assert store.subscriptions.list("C0NEW0001")[0]["spec"] == {"events": ["issue_created"]}
    assert store.subscriptions.remove("C0OTHER01", sub_id) is False
    assert store.subscriptions.remove("C0NEW0001", sub_id) is True
    store.audit.record("U1", "subscription.add", T0, account_key="acme", details={"id": sub_id})
    (entry,) = store.audit.recent()
    assert (entry["actor"], entry["action"], entry["details"]) == ("U1", "subscription.add", {"id": sub_id})
    assert entry["at"] == T0


def test_naive_datetimes_are_refused(store):
    with pytest.raises(Exception, match="timezone-aware"):
        store.inbox.add("jira", "x", "{}", None, dt.datetime(2026, 1, 1))


def test_sqlite_uses_wal(sqlite_store):
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_stale_claim_is_taken_over_once(store):
    first = store.digest_runs.claim("acme", "C0ACME001", T0, "dead-worker", T0)
    later = T0 + dt.timedelta(minutes=20)
    # Fresh claims are respected...
    assert store.digest_runs.claim("acme", "C0ACME001", T0, "w2", later, stale_before=T0 - dt.timedelta(minutes=1)) is None
    # ...stale ones are taken over by exactly one process.
    stale_before = later - dt.timedelta(minutes=15)
    assert store.digest_runs.claim("acme", "C0ACME001", T0, "w2", later, stale_before=stale_before) == first
    assert store.digest_runs.claim("acme", "C0ACME001", T0, "w3", later, stale_before=stale_before) is None
    assert store.digest_runs.get(first)["claimed_by"] == "w2"
    store.digest_runs.finish(first, "posted", later)
    assert store.digest_runs.claim("acme", "C0ACME001", T0, "w4", later + dt.timedelta(hours=1), stale_before=later + dt.timedelta(hours=1)) is None


def test_delayed_slot_is_retried_after_a_while_and_stale_claims_reopen(store):
    runs = store.digest_runs
    delayed = runs.claim("acme", "C0ACME001", T0, "w1", T0)
    runs.finish(delayed, "delayed", T0, error="jira: 503")
    stuck = runs.claim("acme", "C0ACME002", T0, "w1", T0)  # a process that died mid-run
    later = T0 + dt.timedelta(minutes=6)
    # Too early: both stay taken.
    early = dict(stale_before=T0 - dt.timedelta(minutes=1), delayed_before=T0 - dt.timedelta(minutes=1))
    assert runs.claimed_slots("C0ACME001", T0, **early) == {T0}
    assert runs.claim("acme", "C0ACME001", T0, "w2", later, **early) is None
    # Old enough: the scheduler plans them again and one process takes each over.
    due = dict(stale_before=later, delayed_before=later)
    assert runs.claimed_slots("C0ACME001", T0, **due) == set()
    assert runs.claimed_slots("C0ACME002", T0, **due) == set()
    assert runs.claim("acme", "C0ACME001", T0, "w2", later, **due) == delayed
    assert runs.claim("acme", "C0ACME001", T0, "w3", later, **due) is None
    assert runs.claim("acme", "C0ACME002", T0, "w2", later, **due) == stuck
    assert runs.get(delayed)["status"] == "claimed" and runs.get(delayed)["finished_at"] is None


def test_migrations_build_exactly_the_schema_the_code_declares(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from integrations.store.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_migration_downgrades_and_upgrades_again(empty_database_url):
    from alembic import command

    url = empty_database_url
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "base")
    engine = db.create_engine(url)
    try:
        assert db.current_revision(engine) is None
        assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    finally:
        engine.dispose()
    db.upgrade(url)
    engine = db.create_engine(url)
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_posts_recorded_before_intents_existed_stay_done(empty_database_url):
    from integrations.store.store import Store

    db.upgrade(empty_database_url, "0005")
    engine = db.create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO posts (key, channel_id, ts, thread_ts, created_at) "
                "VALUES ('delivery:d-1:C1', 'C1', '111.1', NULL, '2026-11-22 09:00:00+00:00')"))
    finally:
        engine.dispose()
    store = Store.open(empty_database_url, migrate=True)
    try:
        assert store.posts.recorded(["delivery:d-1:C1"]) == {"delivery:d-1:C1"}
        assert store.posts.get("delivery:d-1:C1").state == "done"
    finally:
        store.close()


def test_a_heartbeat_renews_only_its_own_unexpired_leases(store):
    lease = dt.timedelta(seconds=10)
    for n in range(3):
        store.inbox.add("jira", f"d-{n}", "{}", "jira:issue_created", T0)
    mine = store.inbox.claim_due(T0, limit=2, lease=lease, owner="w-live")
    theirs = store.inbox.claim_due(T0, limit=1, lease=lease, owner="w-other")
    assert (len(mine), len(theirs)) == (2, 1)
    later = T0 + dt.timedelta(seconds=8)
    assert store.inbox.renew("w-live", later, lease) == 2
    # Past the other worker's lease its delivery is free; mine is not (renewed at 8 s).
    retaken = store.inbox.claim_due(T0 + dt.timedelta(seconds=12), limit=10, lease=lease, owner="w-new")
    assert [i.id for i in retaken] == [theirs[0].id]
    # A lease that ran out is not renewed by its old owner: it may have been taken over.
    assert store.inbox.renew("w-other", T0 + dt.timedelta(seconds=13), lease) == 0
    store.inbox.finish(mine[0].id, "done")
    assert store.inbox.renew("w-live", T0 + dt.timedelta(seconds=16), lease) == 1


def test_a_recorded_slack_request_put_back_goes_to_the_support_tick_not_the_webhook_worker(store):
    """`pulse inbox retry` of a given-up Slack request (a mention kept before Slack's ack) makes it
    `held` again with fresh attempts, for the support tick; as `pending` the webhook worker would
    claim it and could not read it."""
    lease = dt.timedelta(minutes=2)
    store.inbox.hold("slack", "mention:C1:1.2", "{}", T0)
    for n in range(5):
        (item,) = store.inbox.claim_held("slack", T0, T0 + lease * n, lease, "w")
    store.inbox.settle("slack", "mention:C1:1.2", "dead", "boom")
    assert store.inbox.requeue(item.id, T0) is True
    assert store.inbox.claim_due(T0 + lease * 9, limit=10, lease=lease) == []  # never the webhook worker's
    (again,) = store.inbox.claim_held("slack", T0, T0 + lease * 9, lease, "w")
    assert again.attempts == 1
