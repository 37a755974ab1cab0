"""An internal channel shared with another organization after it was configured gets the client view
(review finding "Slack sharing is checked only at start-up / doctor"): notifications, digests and
command answers, through the real slack_sdk client and the fake Slack; a client channel is never
upgraded; Slack not answering means the client view too."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from structlog.testing import capture_logs

from bot.domain.accounts import AccountsConfig, Audience
from bot.domain.sharing import Sharing, effective_audience, read_sharing
from bot.services.channel_audiences import ChannelAudiences
from bot.services.exactly_once import OncePoster
from bot.services.inbox_worker import InboxWorker, WorkerSettings
from integrations.slack import ChannelPacer, SlackWeb, make_web_client
from sandbox.slack_server import FakeSlack
from tests.fixtures import real_payload
from tests.test_inbox_worker import ACCOUNTS, ALPHA, ALPHA_CLIENT, ALPHA_INTERNAL, NOW, PIN, SITES

C, I = Audience.CLIENT, Audience.INTERNAL
# The `channel` object of conversations.info as Slack's Web API spec shows it (flags only).
NOT_SHARED = {"id": "C0X", "is_shared": False, "is_ext_shared": False, "is_org_shared": False,
              "is_pending_ext_shared": False}


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (NOT_SHARED, Sharing.PRIVATE_TO_US),
        ({**NOT_SHARED, "is_shared": True, "is_ext_shared": True}, Sharing.SHARED),
        ({**NOT_SHARED, "is_pending_ext_shared": True}, Sharing.SHARED),  # an invitation is out
        ({**NOT_SHARED, "is_shared": True}, Sharing.SHARED),  # shared, but not within our own org
        ({**NOT_SHARED, "is_shared": True, "is_org_shared": True}, Sharing.PRIVATE_TO_US),  # Grid org only
        ({k: v for k, v in NOT_SHARED.items() if k != "is_ext_shared"}, Sharing.UNKNOWN),
        ({**NOT_SHARED, "is_ext_shared": None}, Sharing.UNKNOWN),
        ({**NOT_SHARED, "is_ext_shared": "false"}, Sharing.UNKNOWN),
        ({**NOT_SHARED, "is_shared": 0}, Sharing.UNKNOWN),
        (None, Sharing.UNKNOWN),
        ([NOT_SHARED], Sharing.UNKNOWN),
    ],
)
def test_read_sharing_fail_closed(channel, expected):
    assert read_sharing(channel) is expected


@pytest.mark.parametrize("sharing", list(Sharing))
def test_only_an_unshared_internal_channel_stays_internal_and_a_client_channel_is_never_upgraded(sharing):
    assert effective_audience(C, sharing) is C
    assert effective_audience(I, sharing) is (I if sharing is Sharing.PRIVATE_TO_US else C)


# --- the service, through the fake Slack ------------------------------------------------------


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        slack.add_channel(ALPHA_CLIENT, "alpha-client", is_ext_shared=True)
        slack.add_channel(ALPHA_INTERNAL, "alpha-team")
        slack.add_channel("C0BETA002", "beta-team")
        yield slack


def audiences(fake, store=None, *, ttl=300.0, clock=lambda: 0.0, admins=("U0ADMIN001",)) -> ChannelAudiences:
    client = make_web_client(fake.token, fake.api_url)
    notices = None
    if store is not None:
        slack = SlackWeb(client, ChannelPacer(0.0))
        notices = OncePoster(store, slack, lambda: NOW, "test", dt.timedelta(seconds=30))
    return ChannelAudiences(client, ACCOUNTS, notices=notices, admins=admins, ttl=ttl, clock=clock)


async def test_conversations_info_is_cached_per_channel_and_asked_again_when_forgotten_or_stale(fake):
    now = [0.0]
    judge = audiences(fake, clock=lambda: now[0], ttl=300)
    internal = ALPHA.channel(ALPHA_INTERNAL)
    for _ in range(3):
        assert await judge.audience(ALPHA, internal) is I
    assert len(fake.calls_to("conversations.info")) == 1
    fake.channels[ALPHA_INTERNAL].is_ext_shared = True
    assert await judge.audience(ALPHA, internal) is I  # cached: Slack sent no event yet
    judge.forget(ALPHA_INTERNAL)  # channel_shared
    assert await judge.audience(ALPHA, internal) is C
    fake.channels[ALPHA_INTERNAL].is_ext_shared = False
    now[0] = 301.0  # a few minutes later, even without an event
    assert await judge.audience(ALPHA, internal) is I
    assert len(fake.calls_to("conversations.info")) == 3


async def test_a_client_channel_is_never_upgraded_nor_asked_about(fake):
    fake.channels[ALPHA_CLIENT].is_ext_shared = False
    judge = audiences(fake)
    assert await judge.audience(ALPHA, ALPHA.channel(ALPHA_CLIENT)) is C
    assert fake.calls_to("conversations.info") == []


@pytest.mark.parametrize("failure", [(200, "missing_scope"), (200, "channel_not_found"), (500, None), (429, 0)])
async def test_slack_not_answering_means_the_client_view_with_the_error_logged(fake, failure):
    fake.failures["conversations.info"] = [failure] * 20  # more than the client retries
    judge = audiences(fake)
    with capture_logs() as logs:
        assert await judge.audience(ALPHA, ALPHA.channel(ALPHA_INTERNAL)) is C
    assert any(e["log_level"] == "error" and "client view" in e["event"] for e in logs)
    fake.failures.clear()
    assert await judge.audience(ALPHA, ALPHA.channel(ALPHA_INTERNAL)) is I  # not cached: asked again


async def test_a_shared_internal_channel_is_logged_once_and_the_admins_told_once(fake, store):
    fake.channels[ALPHA_INTERNAL].is_ext_shared = True
    judge = audiences(fake, store, ttl=0)
    with capture_logs() as logs:
        for _ in range(3):
            assert await judge.audience(ALPHA, ALPHA.channel(ALPHA_INTERNAL)) is C
    assert [e["channel"] for e in logs if e["log_level"] == "error"] == [ALPHA_INTERNAL]
    # Alpha has no other internal channel: the admin hears it in the app's DM, once.
    (notice,) = fake.posted("U0ADMIN001")
    assert f"<#{ALPHA_INTERNAL}> (Alpha) is configured `audience: internal`" in notice["text"]
    assert "audience: client" in notice["text"]
    assert fake.posted(ALPHA_INTERNAL) == [] and fake.posted(ALPHA_CLIENT) == []
    # Another process (a restart) does not tell it again.
    assert await audiences(fake, store).audience(ALPHA, ALPHA.channel(ALPHA_INTERNAL)) is C
    assert len(fake.posted("U0ADMIN001")) == 1


async def test_the_accounts_other_internal_channel_is_told_rather_than_the_admins(fake, store):
    from bot.domain.accounts import Channel

    second = "C0ALPHA03"
    fake.add_channel(second, "alpha-leads")
    alpha = ALPHA.model_copy(update={"channels": [*ALPHA.channels, Channel(id=second, audience=I)]})
    accounts = AccountsConfig(accounts=[alpha, *ACCOUNTS.accounts[1:]])
    fake.channels[ALPHA_INTERNAL].is_ext_shared = True
    judge = audiences(fake, store)
    view = await judge.accounts(accounts)
    assert [c.audience for c in view.by_key("alpha").channels] == [C, C, I]
    assert view.by_key("beta") == accounts.by_key("beta")
    (notice,) = fake.posted(second)
    assert f"<#{ALPHA_INTERNAL}>" in notice["text"]
    assert fake.posted("U0ADMIN001") == []


# --- notifications: shared mid-run ------------------------------------------------------------


def _created(n: int, labels: list[str]) -> dict:
    """pinpoint's GOLD-189 creation, as issue GOLD-(189+n) with these labels (derived)."""
    payload = copy.deepcopy(real_payload(f"{PIN}/jira:issue_created.json"))
    payload["issue"]["key"] = f"GOLD-{189 + n}"
    payload["issue"]["id"] = str(10_000 + n)
    payload["issue"]["fields"]["labels"] = labels
    payload["issue"]["fields"]["summary"] = f"Agency-only work {n}" if labels else f"Public work {n}"
    payload["timestamp"] += n * 60_000
    return payload


async def test_an_internal_channel_shared_mid_run_gets_the_client_view_of_notifications(fake, store):
    slack = SlackWeb(make_web_client(fake.token, fake.api_url), ChannelPacer(0.0))
    judge = audiences(fake, store)
    worker = InboxWorker(store, ACCOUNTS, slack, None, clock=lambda: NOW, settings=WorkerSettings(),
                         links=SITES, audiences=judge)

    def deliver(n: int, labels: list[str]) -> None:
        assert store.inbox.add("jira", f"d-{n}", json.dumps(_created(n, labels)), "jira:issue_created", NOW)

    deliver(1, ["internal"])
    await worker.run_once()
    # The control: not yet shared, the internal channel hears of internal work; the client does not.
    assert ["Agency-only work 1" in m["text"] for m in fake.posted(ALPHA_INTERNAL)] == [True]
    assert fake.posted(ALPHA_CLIENT) == []

    fake.channels[ALPHA_INTERNAL].is_ext_shared = True
    judge.forget(ALPHA_INTERNAL)  # what the channel_shared event does
    deliver(2, ["internal"])
    deliver(3, [])
    await worker.run_once()
    texts = [m["text"] for m in fake.posted(ALPHA_INTERNAL)]
    assert not any("Agency-only work 2" in t for t in texts)
    assert any("Public work 3" in t for t in texts)  # it still hears what a client may
    assert [("Public work 3" in m["text"]) for m in fake.posted(ALPHA_CLIENT)] == [True]
    assert len(fake.posted("U0ADMIN001")) == 1


# --- digests and commands ---------------------------------------------------------------------


async def test_an_internal_channel_shared_mid_run_gets_the_client_digest_and_client_answers(sqlite_store):
    from bot.app import build_commands
    from bot.domain.access import Role
    from bot.services.commands import Asker
    from bot.services.digests import DigestService
    from integrations.jira import AtlassianJira
    from integrations.upstream_errors import RetryPolicy
    from sandbox.atlassian_server import FakeAtlassian
    from tests.test_digest_service import ACCOUNTS as SANDBOX
    from tests.test_digest_service import ACME, _seed
    from tests.test_digest_service import NOW as DIGEST_NOW

    with FakeAtlassian(_seed()) as jira_fake, FakeSlack() as slack_fake:
        slack_fake.add_channel("C0ACMECLNT", "acme-client", is_ext_shared=True)
        slack_fake.add_channel("C0ACMEINTL", "acme-team")
        client = make_web_client(slack_fake.token, slack_fake.api_url)
        slack = SlackWeb(client, ChannelPacer(0))
        judge = ChannelAudiences(client, SANDBOX)
        jira = AtlassianJira(jira_fake.url, user="bot@agency.example", api_token="t",
                             retry=RetryPolicy(attempts=1, base_delay=0, jitter=0))
        service = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: DIGEST_NOW,
                                audiences=judge)
        commands = build_commands(SANDBOX, service, sqlite_store, lambda: DIGEST_NOW, None, judge)
        member = Asker(user_id="U0MEMBER01", channel_id="C0ACMEINTL", role=Role.MEMBER)
        internal = ACME.channel("C0ACMEINTL")
        try:
            # The control: unshared, the internal digest shows internal work and money.
            assert (await service.run_slot(ACME, internal, DIGEST_NOW)).status == "posted"
            (first,) = slack_fake.posted("C0ACMEINTL")
            assert "€" in first["text"]
            assert "€" in (await commands.run("budget", member)).text

            slack_fake.channels["C0ACMEINTL"].is_ext_shared = True
            judge.forget("C0ACMEINTL")
            assert (await service.run_slot(ACME, internal, DIGEST_NOW + dt.timedelta(days=7))).status == "posted"
            second = slack_fake.posted("C0ACMEINTL")[1]
            assert "€" not in second["text"] and "ACME-2" not in second["text"]
            assert "9,5 h von 120 h" in second["text"]  # the client's numbers, without internal work
            answer = await commands.run("budget", member)
            assert "€" not in answer.text and "9,5 h" in answer.text
            status = await commands.run("status", member)
            assert "€" not in status.text
        finally:
            jira.close()
