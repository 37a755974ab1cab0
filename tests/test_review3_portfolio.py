"""Review 3 reproductions: the portfolio (`/pulse accounts`, snapshots)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Role
from bot.errors import UserError
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService
from bot.services.digests import DigestService
from bot.services.exactly_once import OncePoster
from bot.services.handover import HandoverService
from bot.services.portfolio import PortfolioService, register_portfolio_commands
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SANDBOX = build_sandbox(NOW)
ACCOUNTS = SANDBOX.accounts


class Conversations:
    def __init__(self, shared: dict[str, bool]):
        self.shared = shared

    async def conversations_info(self, *, channel: str):
        flag = self.shared[channel]
        return {"channel": {"id": channel, "is_ext_shared": flag, "is_shared": flag, "is_org_shared": False,
                            "is_pending_ext_shared": False}}


@pytest.fixture
def portfolio(sqlite_store):
    jira = InMemoryJira.from_seed(SANDBOX.seed)
    slack = InMemorySlack()
    digests = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=lambda: NOW, retry_delays=())
    notices = OncePoster(sqlite_store, slack, lambda: NOW, "worker-0", dt.timedelta(minutes=1))
    service = PortfolioService(accounts=ACCOUNTS, digests=digests, store=sqlite_store, clock=lambda: NOW,
                               notices=notices)
    yield service
    digests.close()


# --- LEAK: a mention in an unlinked channel posts the whole portfolio for everyone in it ----------

async def test_mention_accounts_in_an_unlinked_channel_is_answered_for_all_to_read(portfolio):
    """Review 3 #1 (LEAK): an unlinked channel that is not Slack Connect may still hold the workspace's
    guests (client people invited as guests): a mention's answer is posted in a thread for every
    member of the channel. The handover commands refuse exactly this (review 2); `/pulse accounts`
    did not. Now both ask `answer_stays_internal`."""
    await portfolio.refresh_due()
    audiences = ChannelAudiences(Conversations({"C0UNLINKD1": False}), ACCOUNTS)
    commands = CommandService(ACCOUNTS, audiences=audiences)
    register_portfolio_commands(commands, portfolio, audiences)
    asker = Asker("U0MEMBER01", "C0UNLINKD1", Role.MEMBER, via_mention=True, message_ts="1.1", thread_ts="1.1")
    # Control: the handover commands refuse an answer here, because a mention's answer is public.
    with pytest.raises(UserError):
        HandoverService._only_internal(asker, None)
    reply = await commands.run("accounts all", asker)
    # Expected (fail closed like handovers): the "internal only" refusal. Actual: every client's health.
    assert "ACME" not in reply.text and "Globex" not in reply.text and "Northwind" not in reply.text, reply.text




async def test_accounts_in_an_unlinked_channel_by_slash_command_or_dm_is_answered_to_the_asker_only(portfolio):
    """Review 3 #1, control: the same rule lets a slash command's (ephemeral) or a DM's answer through."""
    await portfolio.refresh_due()
    audiences = ChannelAudiences(Conversations({"C0UNLINKD1": True, "C0ACMEINTL": False}), ACCOUNTS)
    commands = CommandService(ACCOUNTS, audiences=audiences)
    register_portfolio_commands(commands, portfolio, audiences)
    for channel in ("C0UNLINKD1", "D0DIRECT01"):
        reply = await commands.run("accounts all", Asker("U0MEMBER01", channel, Role.MEMBER))
        assert "ACME Shop GmbH" in reply.text and not reply.public
    # A mention in an internal channel of an account is answered there (the channel is the agency's).
    internal = await commands.run("accounts all", Asker("U0MEMBER01", "C0ACMEINTL", Role.MEMBER, via_mention=True))
    assert "ACME Shop GmbH" in internal.text
