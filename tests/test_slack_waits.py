"""The inbox worker waits as Slack asks, through the real slack_sdk client and the fake Slack server:
a rate limit retries after its Retry-After (not our 30 s backoff), and a refused token pauses
posting without dead-lettering anything, until the token works again."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from structlog.testing import capture_logs

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from integrations.slack import ChannelPacer, SlackPause, SlackWeb, make_web_client
from sandbox.slack_server import FakeSlack
from tests.fixtures import real_payload

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
CLIENT, INTERNAL = "C0GOLDCLI", "C0GOLDINT"
ACCOUNTS = AccountsConfig(accounts=[
    Account(key="gold", name="Gold", timezone="Europe/Berlin", language="de", jira=JiraScope(projects=["GOLD"]),
            channels=[Channel(id=CLIENT, audience=Audience.CLIENT), Channel(id=INTERNAL, audience=Audience.INTERNAL)]),
])


class Clocks:
    """The worker's clock and the pause's monotonic clock, moved together by the test."""

    def __init__(self) -> None:
        self.now = NOW
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def _setup(store, fake, clocks, retries=0):
    client = make_web_client(fake.token, fake.api_url, max_retries=retries)
    pause = SlackPause(client, probe_every=30, clock=lambda: clocks.now, monotonic=lambda: clocks.mono)
    slack = SlackWeb(client, ChannelPacer(0), pause)
    worker = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: clocks.now, settings=WorkerSettings(),
                         pause=pause)
    return worker, pause


def _add(store, delivery_id: str) -> int:
    payload = real_payload("pinpoint-jira/internal/testdata/jira:issue_created.json")
    assert store.inbox.add("jira", delivery_id, json.dumps(payload), payload["webhookEvent"], NOW)
    return next(i.id for i in store.inbox.list() if i.delivery_id == delivery_id)


async def test_a_rate_limit_is_retried_after_its_retry_after_not_after_the_backoff(store, fake):
    clocks = Clocks()
    worker, _ = _setup(store, fake, clocks)
    item = _add(store, "d-1")
    fake.fail("chat.postMessage", 429, retry_after=1, times=2)  # both channels are told to wait 1 s
    report = await worker.run_once()
    got = store.inbox.get(item)
    assert report.statuses == {"retry": 1} and fake.posted() == []
    # Due 1 s later (Slack's Retry-After), not 30 s; a rate limit costs the delivery no attempt.
    assert (got.status, got.attempts, got.last_error) == ("pending", 0, "slack: ratelimited")
    assert got_next_attempt(store, item) == NOW + dt.timedelta(seconds=1)
    clocks.advance(0.9)
    assert (await worker.run_once()).claimed == 0
    clocks.advance(0.1)
    report = await worker.run_once()
    assert report.statuses == {"done": 1}
    assert sorted(m["channel"] for m in fake.posted()) == [CLIENT, INTERNAL]


def got_next_attempt(store, item_id: int) -> dt.datetime:
    import sqlalchemy as sa

    from integrations.store.schema import webhook_inbox

    with store.engine.connect() as conn:
        return conn.execute(sa.select(webhook_inbox.c.next_attempt_at).where(webhook_inbox.c.id == item_id)).scalar()


async def test_a_refused_token_pauses_the_worker_loses_nothing_and_tells_internal_channels_once(store, fake):
    clocks = Clocks()
    worker, pause = _setup(store, fake, clocks)
    first = _add(store, "d-1")
    fake.token = "xoxb-revoked"
    with capture_logs() as logs:
        report = await worker.run_once()
    assert report.statuses == {"retry": 1}
    got = store.inbox.get(first)
    # Not dead-lettered on its first attempt; the attempt is given back.
    assert (got.status, got.attempts) == ("pending", 0)
    assert pause.since == NOW
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == [
        "slack refused the bot token; posting is paused until it works again (nothing is lost)"]
    # Paused: more deliveries arrive, the worker claims nothing and knocks on Slack only to probe.
    second = _add(store, "d-2")
    for _ in range(5):
        clocks.advance(11)  # past the burst window: the worker would otherwise take the batch
        await worker.step()
    assert len(fake.calls_to("auth.test")) == 1  # one probe in 55 s (every 30 s), still refused
    assert fake.posted() == []
    assert {store.inbox.get(i).attempts for i in (first, second)} == {0}
    fake.token = "xoxb-fake-token"  # fixed
    clocks.advance(30)
    await worker.step()
    assert {store.inbox.get(i).status for i in (first, second)} == {"done"}
    texts = [(m["channel"], m["text"]) for m in fake.posted()]
    notices = [t for c, t in texts if "angehalten" in t]
    # One notice, in the internal channel only, in the account's language and timezone.
    assert notices == [
        "Das Posten in Slack war von 2026-11-23 10:00 bis 2026-11-23 10:01 angehalten: Slack hat das Token "
        "des Bots abgelehnt. Nichts ging verloren; die zurückgehaltenen Benachrichtigungen folgen jetzt."]
    assert [c for c, t in texts if "angehalten" in t] == [INTERNAL]
    # Both deliveries reached both channels once (the repeated issue_created shares its thread).
    assert sorted(c for c, t in texts if "angehalten" not in t) == [CLIENT, CLIENT, INTERNAL, INTERNAL]
    clocks.advance(60)
    await worker.step()
    assert len(fake.posted()) == len(texts)
