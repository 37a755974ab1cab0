"""Review 3 reproductions: the portfolio (`/pulse accounts`, snapshots)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.domain.access import Role
from bot.domain.links import SiteLinks
from bot.domain.portfolio import AccountHealth, Concern, NextMilestone, Reason, Scope, Verdict
from bot.errors import UserError
from bot.render.blocks import MAX_BLOCKS, MAX_MESSAGE_CHARS, MAX_SECTION_CHARS
from bot.render.portfolio import HomeState, render_overview, render_overview_messages
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService
from bot.services.digests import DigestService
from bot.services.exactly_once import OncePoster
from bot.services.handover import HandoverService
from bot.services.portfolio import PortfolioHome, PortfolioService, register_portfolio_commands
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


# --- #2 CRASH: /pulse accounts all with many accounts and long (hostile) milestone names ------------

def _health(n: int) -> AccountHealth:
    name = "<" * 255  # a Jira version name (at most 255 characters); escaped to 1,020
    milestone = NextMilestone(name=name, release_date=dt.date(2026, 12, 1), days_left=11, done=1, total=9,
                              at_risk=True, version_id=str(n))
    return AccountHealth(
        account_key=f"acct-{n:02d}", account_name=f"Account {n:02d}", key_account=False, computed_at=NOW,
        today=NOW.date(), verdict=Verdict.AT_RISK,
        reasons=(Reason(Concern.MILESTONE_AT_RISK, Verdict.AT_RISK, {"name": name, "version_id": str(n),
                                                                     "date": "2026-12-01"}),),
        next_milestone=milestone)


@pytest.mark.parametrize("count", [1, 49, 250])
def test_accounts_overview_with_49_accounts_and_long_milestone_names_stays_within_limits(count):
    """Review 3 #2 (CRASH), reviewer's reproduction: rows were unbounded (a 255-character version
    name, escaped, twice a row) and `assert len(blocks) <= MAX_BLOCKS` failed. Now names are cut
    before escaping and the overview continues in further messages, each within Slack's limits."""
    healths = [_health(n) for n in range(count)]
    messages = render_overview_messages(healths, Scope.ALL, "en", pending=2)
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS and len(message.text) <= MAX_MESSAGE_CHARS
        for block in message.blocks:
            text = block["text"]["text"] if block["type"] == "section" else block["elements"][0]["text"]
            assert len(text) <= MAX_SECTION_CHARS
            assert "<" not in text and "&lt&" not in text  # nothing cut inside an escape
    text = "\n".join(m.text for m in messages)
    assert all(f"Account {n:02d}" in text for n in range(count))
    assert "2 accounts not assessed yet" in messages[-1].blocks[-1]["elements"][0]["text"]  # the footer closes the last
    assert render_overview(healths, Scope.ALL, "en").blocks == render_overview_messages(healths, Scope.ALL, "en")[0].blocks


async def test_a_long_overview_is_answered_in_continuation_messages(portfolio):
    """Review 3 #2: the command's reply carries the continuation messages (`Reply.more`)."""
    await portfolio.refresh_due()
    many = [_health(n) for n in range(60)]
    portfolio.healths = lambda: (many, [])  # type: ignore[method-assign]
    commands = CommandService(ACCOUNTS)
    register_portfolio_commands(commands, portfolio)
    reply = await commands.run("accounts all", Asker("U0MEMBER01", "D0DIRECT01", Role.MEMBER))
    assert reply.more and all(len(r.blocks) <= MAX_BLOCKS for r in (reply, *reply.more))
    assert "Account 59" in reply.more[-1].text


# --- #3 CRASH: one snapshot this version cannot read broke the overview and never healed -------------

def _spoil(store, key):
    payload = dict(store.portfolio.get(key).payload)
    payload["reasons"] = [{"concern": "a_concern_of_a_newer_version", "level": 1, "facts": {}}]
    store.portfolio.save(key, payload, NOW)
    return payload


async def test_one_unreadable_snapshot_breaks_home_and_accounts_for_everyone_and_is_never_replaced(portfolio, sqlite_store):
    """Review 3 #3 (CRASH), reviewer's reproduction: a snapshot written by another version (rolling
    deploy: a new Concern) or damaged by hand made `/pulse accounts` (and the Home) fail for all."""
    await portfolio.refresh_due()
    _spoil(sqlite_store, "globex")
    commands = CommandService(ACCOUNTS)
    register_portfolio_commands(commands, portfolio)
    reply = await commands.run("accounts all", Asker("U0MEMBER01", "D0DIRECT01", Role.MEMBER))
    assert "ACME Shop GmbH" in reply.text and "Globex" not in reply.text, reply.text
    healths, pending = portfolio.healths()
    assert pending == ["globex"] and len(healths) == 2
    # Marked stale: the next background pass (after MIN_INTERVAL) replaces it.
    assert sqlite_store.portfolio.get("globex").stale_since is not None
    home = PortfolioHome(portfolio, None, SiteLinks(jira="https://j.example"))
    view = await home.view("U0MEMBER01", Role.MEMBER, "en", HomeState(Scope.ALL, 0))
    assert "ACME Shop GmbH" in json.dumps(view)


async def test_an_unreadable_snapshot_is_never_replaced_by_a_refresh(portfolio, sqlite_store):
    """Review 3 #3, reviewer's reproduction: refresh read `before` first, raised, never saved."""
    await portfolio.refresh_due()
    payload = _spoil(sqlite_store, "globex")
    await portfolio.refresh(ACCOUNTS.by_key("globex"), now=NOW + dt.timedelta(hours=2))
    assert sqlite_store.portfolio.get("globex").payload["reasons"] != payload["reasons"]
    assert [h.account_key for h in portfolio.healths()[0]] == ["acme-shop", "northwind", "globex"]


# --- #4: the scope word was echoed raw into a mention's public answer ---------------------------------

async def test_bad_scope_word_is_echoed_unescaped(portfolio):
    """Review 3 #4, reviewer's reproduction (+ an unknown command word, echoed the same way)."""
    commands = CommandService(ACCOUNTS)
    register_portfolio_commands(commands, portfolio)
    reply = await commands.run("accounts <!channel>", Asker("U0MEMBER01", "D0DIRECT01", Role.MEMBER))
    assert "<!channel>" not in reply.text and "&lt;!channel&gt;" in reply.text, reply.text
    unknown = await commands.run("<!here> please", Asker("U0MEMBER01", "C0UNLINKD1", Role.MEMBER, via_mention=True))
    assert "<!here>" not in unknown.text and "&lt;!here&gt;" in unknown.text, unknown.text
