"""The portfolio over the store and fakes: snapshots refreshed (digest runs, background, stale
after webhooks) and read without Jira; `/pulse accounts` for members in internal places only;
the App Home's JSON within Block Kit's limits; bad news once per change, across a restart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig, Audience
from bot.domain.events import EventType, JiraEvent
from bot.domain.links import SiteLinks
from bot.domain.portfolio import AccountHealth, Concern, Reason, Scope, Verdict
from bot.errors import UpstreamError, UpstreamUnavailable
from bot.render.portfolio import HOME_PAGE_SIZE, MAX_HOME_BLOCKS, HomeState, render_external_home, render_home
from bot.services.commands import Asker, CommandService
from bot.services.digests import DigestService
from bot.services.exactly_once import OncePoster
from bot.services.portfolio import PortfolioHome, PortfolioService, register_portfolio_commands
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SANDBOX = build_sandbox(NOW)
ACCOUNTS = SANDBOX.accounts


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def world(sqlite_store):
    jira = InMemoryJira.from_seed(SANDBOX.seed)
    slack = InMemorySlack()
    clock = Clock(NOW)
    digests = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=clock, retry_delays=())
    made = []

    def service(accounts: AccountsConfig = ACCOUNTS) -> PortfolioService:
        """A PortfolioService as one process has it (a new one: as after a restart)."""
        notices = OncePoster(sqlite_store, slack, clock, f"worker-{len(made)}", dt.timedelta(minutes=1))
        made.append(PortfolioService(accounts=accounts, digests=digests, store=sqlite_store, clock=clock, notices=notices))
        return made[-1]

    yield dataclasses.make_dataclass("World", ["jira", "slack", "clock", "store", "service", "digests"])(
        jira, slack, clock, sqlite_store, service, digests)
    digests.close()


async def test_background_refresh_fills_the_snapshots_then_waits_for_staleness_or_age(world):
    portfolio = world.service()
    assert portfolio.healths() == ([], [a.key for a in ACCOUNTS.accounts])
    assert await portfolio.refresh_due() == 3
    calls = len(world.jira.calls)
    assert calls == 6  # per account one search and one version list, as a digest fetches
    healths, pending = portfolio.healths()
    assert pending == [] and {h.account_key for h in healths} == {"acme-shop", "northwind", "globex"}
    assert await portfolio.refresh_due() == 0  # fresh: no Jira call
    # A webhook about an ACME issue marks ACME stale; it is refreshed once MIN_INTERVAL allows.
    event = JiraEvent(type=EventType.DUE_DATE_CHANGED, webhook_event="jira:issue_updated", project_key="ACME")
    await portfolio.mark_stale([event])
    (acme,) = [h for h in portfolio.healths()[0] if h.account_key == "acme-shop"]
    assert acme.stale
    world.clock.now = NOW + dt.timedelta(minutes=1)
    assert await portfolio.refresh_due() == 0  # not within 5 minutes of the last refresh
    world.clock.now = NOW + dt.timedelta(minutes=6)
    assert await portfolio.refresh_due() == 1
    assert not [h for h in portfolio.healths()[0] if h.stale]
    world.clock.now = NOW + dt.timedelta(minutes=61)
    assert await portfolio.refresh_due() == 2  # each account at least hourly (ACME's is 55 minutes old)


async def test_a_scheduled_digest_refreshes_the_snapshot_from_its_own_fetch(world):
    portfolio = world.service()
    world.digests.on_fetched = portfolio.from_digest
    account = ACCOUNTS.by_key("northwind")
    internal = next(c for c in account.channels if c.audience is Audience.INTERNAL)
    result = await world.digests.run_slot(account, internal, NOW)
    assert result.status == "posted"
    calls = len(world.jira.calls)
    healths, pending = portfolio.healths()
    assert [h.account_key for h in healths] == ["northwind"] and len(world.jira.calls) == calls


async def test_two_processes_do_not_refresh_one_account_at_once(world):
    a, b = world.service(), world.service()
    assert world.store.portfolio.claim("globex", "a", NOW, dt.timedelta(minutes=2))
    assert not world.store.portfolio.claim("globex", "b", NOW, dt.timedelta(minutes=2))
    assert await b.refresh_due() == 2  # globex is a's now
    assert world.store.portfolio.claim("globex", "b", NOW + dt.timedelta(minutes=3), dt.timedelta(minutes=2))
    del a


async def test_jira_down_keeps_the_old_snapshot_and_the_overview_needs_no_jira(world):
    portfolio = world.service()
    await portfolio.refresh_due()
    world.jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    world.clock.now = NOW + dt.timedelta(hours=2)
    assert await portfolio.refresh_due() == 0
    before = len(world.jira.calls)
    commands = CommandService(ACCOUNTS)
    register_portfolio_commands(commands, portfolio)
    reply = await commands.run("accounts all", Asker("U0MEMBER01", "D0DIRECT01", Role.MEMBER))
    assert len(world.jira.calls) == before  # read from the store only
    assert "ACME Shop GmbH" in reply.text and "Northwind Traders" in reply.text and "Globex" in reply.text


async def _ask(portfolio, text, role=Role.MEMBER, channel="D0DIRECT01", user="U0MEMBER01", audiences=None):
    commands = CommandService(ACCOUNTS, audiences=audiences)
    register_portfolio_commands(commands, portfolio, audiences)
    return await commands.run(text, Asker(user, channel, role))


async def test_accounts_is_for_members_in_internal_places_only(world):
    portfolio = world.service()
    await portfolio.refresh_due()
    internal = await _ask(portfolio, "accounts all", channel="C0ACMEINTL")
    assert "ACME Shop GmbH" in internal.text
    assert internal.text.startswith("*Alle Kunden*")  # ACME's internal channel speaks German
    for role in (Role.EXTERNAL,):  # a Slack Connect user or a guest
        refused = await _ask(portfolio, "accounts all", role=role, channel="C0ACMEINTL")
        assert refused.text == "`/pulse kunden [meine|wichtig|gefährdet]` ist nur für Mitglieder der Agentur."
    client = await _ask(portfolio, "accounts all", channel="C0ACMECLNT")
    assert "ACME" not in client.text and "intern" in client.text
    # An unlinked channel may hold anyone: only the slash command's ephemeral answer (the asker's
    # alone) is given there, never a mention's (a thread for all) — review 3 #1, test_review3_portfolio.
    slash = await _ask(portfolio, "accounts all", channel="C0UNKNOWN1")
    assert "ACME" in slash.text and not slash.public
    typo = await _ask(portfolio, "accounts alll")
    assert typo.text.startswith("I don't know `alll` here: use one of `mine`, `key`, `at-risk`, `all`")


async def test_mine_is_roles_held_and_open_issues_key_and_at_risk_filter(world):
    portfolio = world.service()
    await portfolio.refresh_due()
    # U0NWAM0001 holds Northwind's budget role; nobody maps to Jira assignees in the sandbox but Anna.
    mine = await _ask(portfolio, "accounts", user="U0NWAM0001")
    assert "Northwind Traders" in mine.text and "ACME" not in mine.text and "Globex" not in mine.text
    nothing = await _ask(portfolio, "accounts mine", user="U0NOBODY01")
    assert "You hold no role and have no open issues in any account." in nothing.text
    key = await _ask(portfolio, "accounts key")
    assert "ACME Shop GmbH" in key.text and "Northwind" not in key.text
    healths, _ = portfolio.healths()
    at_risk = await _ask(portfolio, "accounts at-risk")
    for h in healths:
        assert (h.account_name in at_risk.text) == (h.verdict is Verdict.AT_RISK)


def _fake_health(n: int) -> AccountHealth:
    return AccountHealth(account_key=f"acct-{n:02d}", account_name=f"Account <{n:02d}> & Co" + "x" * 60,
                         key_account=n % 7 == 0, computed_at=NOW, today=NOW.date(),
                         verdict=Verdict(n % 3), reasons=(Reason(Concern.OVERDUE, Verdict(n % 3), {"count": n}),))


@pytest.mark.parametrize("count", [0, 3, 40, 45, 250])
def test_the_home_view_stays_within_block_kit_limits_and_pages_beyond(count):
    healths = [_fake_health(n) for n in range(count)]
    pages = []
    state = HomeState(Scope.ALL, 0)
    while True:
        view = render_home(healths, ACCOUNTS, state, "en", links=SiteLinks(jira="https://j.example"))
        blocks = view["blocks"]
        assert view["type"] == "home" and len(blocks) <= MAX_HOME_BLOCKS
        assert len(json.dumps(view)) < 250_000
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
            if block["type"] == "actions":
                assert len(block["elements"]) <= 25
                ids = [e["action_id"] for e in block["elements"]]
                assert len(ids) == len(set(ids))
                assert all(len(e["text"]["text"]) <= 75 for e in block["elements"])
        pages.append(view)
        nav = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"].startswith("portfolio.page")]
        following = [e for e in nav if HomeState.parse(e["value"]).page == state.page + 1]
        if not following:
            break
        state = HomeState.parse(following[0]["value"])
    assert len(pages) == max(1, -(-count // HOME_PAGE_SIZE))
    shown = [b for p in pages for b in p["blocks"] if b.get("block_id", "").startswith("account:")]
    assert len(shown) == count  # every account on exactly one page
    assert "&lt;" in json.dumps(pages[0]) or count == 0  # names are escaped


def test_externals_see_an_explanation_and_no_account():
    view = render_external_home("de")
    text = json.dumps(view, ensure_ascii=False)
    assert "für die Mitglieder der Agentur" in text
    assert not any(a.name in text or a.key in text for a in ACCOUNTS.accounts)


async def test_the_home_for_members_and_externals_and_its_digest_button(world):
    portfolio = world.service()
    await portfolio.refresh_due()
    home = PortfolioHome(portfolio, world.digests, SiteLinks(jira="https://jira.example", confluence="https://wiki.example"))
    member = await home.view("U0NWAM0001", Role.MEMBER, "en", HomeState())
    text = json.dumps(member)
    assert "Northwind Traders" in text and "ACME" not in text  # mine first
    toggle = member["blocks"][2]["elements"][0]
    assert toggle["action_id"] == "portfolio.scope" and HomeState.parse(toggle["value"]).scope is Scope.ALL
    world.store.subscriptions.add("C0ACMEINTL", "acme-shop", {"text": "status"}, "U0ADMIN001", NOW)
    everyone = json.dumps(await home.view("U0NWAM0001", Role.MEMBER, "en", HomeState(Scope.ALL)))
    assert "ACME Shop GmbH" in everyone and "https://jira.example/browse/ACME" in everyone
    # Each account's channels: audience, digest schedule, notifications.
    assert "<#C0ACMEINTL> internal `30 8 * * mon-fri` (1 subscription)" in everyone
    assert "<#C0ACMECLNT> client `0 9 * * mon` (default notifications)" in everyone
    assert "https://wiki.example/display/ACME" in everyone
    guest = json.dumps(await home.view("U0GUEST001", Role.EXTERNAL, "en", HomeState(Scope.ALL)))
    assert "ACME" not in guest and "Northwind" not in guest

    refused = await home.post_digest(Role.EXTERNAL, "acme-shop", "U0GUEST001:1", "en")
    assert refused == "Only agency members may do this." and world.slack.messages == []
    said = await home.post_digest(Role.MEMBER, "acme-shop", "U0MEMBER01:1", "en")
    assert said == "The digest of ACME Shop GmbH was posted to <#C0ACMEINTL>."
    posted = {m["channel"] for m in world.slack.messages}
    assert posted == {"C0ACMEINTL"}  # the internal channel only
    count = len(world.slack.messages)
    await home.post_digest(Role.MEMBER, "acme-shop", "U0MEMBER01:1", "en")  # the same click again
    assert len(world.slack.messages) == count


def _worse(jira: InMemoryJira) -> None:
    """Five more Globex issues overdue: Globex gets worse."""
    template = next(i for i in jira.issues if i.project == "GLX" and not i.done)
    for n in range(5):
        jira.issues.append(dataclasses.replace(template, key=f"GLX-9{n}", due=dt.date(2026, 11, 2), labels=()))


async def test_bad_news_is_told_once_per_change_in_internal_channels_even_across_a_restart(world, monkeypatch):
    first = world.service()
    await first.refresh_due()
    assert world.slack.messages == []  # a first look is no news
    _worse(world.jira)
    world.clock.now = NOW + dt.timedelta(hours=2)

    # The process dies after telling, before saving the snapshot.
    restarted = world.service()
    save = world.store.portfolio.save

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(world.store.portfolio, "save", crash)
    globex = ACCOUNTS.by_key("globex")
    with pytest.raises(RuntimeError):
        await restarted.refresh(globex)
    told = list(world.slack.messages)
    assert told and {m["channel"] for m in told} == {"C0GLXINTL1"}  # never the client channel
    assert "Globex Corporation" in told[0]["text"] and "overdue" in told[0]["text"]
    monkeypatch.setattr(world.store.portfolio, "save", save)

    again = world.service()
    await again.refresh(globex)
    assert world.slack.messages == told  # the same change: not told twice
    world.clock.now = NOW + dt.timedelta(hours=3)
    await again.refresh(globex)
    assert world.slack.messages == told  # nothing changed since

    # Better is saved for the digest.
    world.jira.issues = [i for i in world.jira.issues if not i.key.startswith("GLX-9")]
    await again.refresh(globex)
    assert world.slack.messages == told


async def test_open_support_requests_and_breaches_count_in_the_health(world):
    portfolio = world.service()
    globex = ACCOUNTS.by_key("globex")
    calm = await portfolio.refresh(globex)
    assert calm.support_open == 0 and calm.reason(Concern.SUPPORT_BREACHES) is None
    support = world.store.support
    late, _ = support.open(account_key="globex", channel_id="C0GLXCLNT1", requester_id="U0CLIENT01", now=NOW,
                           text="x", urgency="task")
    support.open(account_key="globex", channel_id="C0GLXCLNT1", requester_id="U0CLIENT01", now=NOW, text="y",
                 urgency="task")
    done, _ = support.open(account_key="globex", channel_id="C0GLXCLNT1", requester_id="U0CLIENT01", now=NOW,
                           text="z", urgency="task")
    support.mark(done, "resolved_at", NOW)
    support.open(account_key="acme-shop", channel_id="C0ACMECLNT", requester_id="U0CLIENT02", now=NOW, text="w",
                 urgency="task")  # another account's
    support.mark(late, "breached_at", NOW)
    world.clock.now = NOW + dt.timedelta(hours=1)
    health = await portfolio.refresh(globex)
    assert health.support_open == 2
    assert health.reason(Concern.SUPPORT_BREACHES) == Reason(Concern.SUPPORT_BREACHES, Verdict.AT_RISK, {"count": 1})
    # It is news for the internal channel, once.
    told = [m for m in world.slack.messages if "first response" in m["text"]]
    assert len(told) == 1 and told[0]["channel"] == "C0GLXINTL1"
    healths, _ = portfolio.healths()
    reply = await _ask(portfolio, "accounts all")
    assert "2 open support requests" in reply.text and "1 support request past its first response" in reply.text


async def test_bad_news_reaches_the_responsible_roles_holders_by_dm_once_with_cover_members_only(world, monkeypatch):
    """Overdue issues are the backlog role's: its holders today hear it by DM — the cover for the
    one who is away, not the absent one; not a guest; not a user group — once per change, also
    when the process dies after the DMs and before the snapshot is saved."""
    from bot.domain.accounts import Roles
    from bot.domain.roles import Handover

    globex = ACCOUNTS.by_key("globex")
    roles = Roles(backlog=["U0GLXPO001", "U0GLXGUEST", "S0GLXTEAM1"], support="U0GLXSUP01")
    accounts = AccountsConfig(accounts=[globex.model_copy(update={"roles": roles}) if a.key == "globex" else a
                                        for a in ACCOUNTS.accounts])
    away = Handover("1", "U0GLXPO001", "U0GLXCOVER", NOW.date(), NOW.date() + dt.timedelta(days=7),
                    frozenset({"globex"}))
    asked: list[str] = []

    async def is_member(user: str) -> bool | None:
        asked.append(user)
        return user != "U0GLXGUEST"

    def service() -> PortfolioService:
        notices = OncePoster(world.store, world.slack, world.clock, f"w{len(asked)}-{world.clock.now}", dt.timedelta(minutes=1))
        return PortfolioService(accounts=accounts, digests=world.digests, store=world.store, clock=world.clock,
                                notices=notices, handovers=lambda: [away], is_member=is_member)

    await service().refresh_due()
    assert world.slack.messages == []
    _worse(world.jira)
    world.clock.now = NOW + dt.timedelta(hours=2)
    save = world.store.portfolio.save

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(world.store.portfolio, "save", crash)
    target = accounts.by_key("globex")
    with pytest.raises(RuntimeError):
        await service().refresh(target)
    monkeypatch.setattr(world.store.portfolio, "save", save)
    dms = world.slack.dms_to("U0GLXCOVER")
    assert len(dms) == 1 and "Globex Corporation" in dms[0]["text"] and "overdue" in dms[0]["text"]
    assert "Backlog" in dms[0]["text"]  # says why they get it
    assert world.slack.dms_to("U0GLXPO001") == [] and world.slack.dms_to("U0GLXGUEST") == []
    assert world.slack.dms_opened == ["U0GLXCOVER"]  # nobody else, no user group
    assert "U0GLXGUEST" in asked  # re-checked, refused
    assert world.slack.dms_to("U0GLXSUP01") == []  # overdue is not the support role's
    (channel_post,) = world.slack.in_channel("C0GLXINTL1")
    assert "<@U0GLXCOVER>" in channel_post["text"]  # the internal channel hears it too, the cover named
    told = list(world.slack.messages)

    await service().refresh(target)  # after the restart: the same change, nothing twice
    assert world.slack.messages == told
    world.jira.issues = [i for i in world.jira.issues if not i.key.startswith("GLX-9")]
    world.clock.now = NOW + dt.timedelta(hours=3)
    await service().refresh(target)  # better: saved for the digest
    assert world.slack.messages == told


async def test_no_bad_news_dm_while_slack_cannot_say_who_is_a_member(world):
    """Slack not able to tell (users.info down): no DM is guessed; the snapshot is not saved, so the
    next refresh tells it once Slack answers."""
    from bot.domain.accounts import Roles

    globex = ACCOUNTS.by_key("globex")
    accounts = AccountsConfig(accounts=[globex.model_copy(update={"roles": Roles(backlog="U0GLXPO001")})])
    answer: list[bool | None] = [None]

    async def is_member(user: str) -> bool | None:
        return answer[0]

    notices = OncePoster(world.store, world.slack, world.clock, "w", dt.timedelta(minutes=1))
    portfolio = PortfolioService(accounts=accounts, digests=world.digests, store=world.store, clock=world.clock,
                                 notices=notices, is_member=is_member)
    target = accounts.by_key("globex")
    await portfolio.refresh(target)
    _worse(world.jira)
    world.clock.now = NOW + dt.timedelta(hours=2)
    with pytest.raises(UpstreamError):
        await portfolio.refresh(target)
    assert world.slack.dms_to("U0GLXPO001") == []
    answer[0] = True
    world.clock.now = NOW + dt.timedelta(hours=3)
    await portfolio.refresh(target)
    assert len(world.slack.dms_to("U0GLXPO001")) == 1


async def test_a_bad_news_dm_cut_off_by_a_crash_is_not_sent_again(world, monkeypatch):
    """The process dies between Slack's answer to the DM and its record. The bot does not read DMs
    (no im:history: the real adapter's find_post finds nothing there), so a settle-from-history
    would send it again; the claim in the store keeps it at one."""
    from bot.domain.accounts import Roles

    globex = ACCOUNTS.by_key("globex")
    accounts = AccountsConfig(accounts=[globex.model_copy(update={"roles": Roles(backlog="U0GLXPO001")})])

    async def is_member(user: str) -> bool | None:
        return True

    def service(owner: str) -> PortfolioService:
        notices = OncePoster(world.store, world.slack, world.clock, owner, dt.timedelta(minutes=1))
        return PortfolioService(accounts=accounts, digests=world.digests, store=world.store, clock=world.clock,
                                notices=notices, is_member=is_member)

    async def unread(channel, *args, **kwargs):
        return None if channel.startswith("D") else await find(channel, *args, **kwargs)

    find = world.slack.find_post
    monkeypatch.setattr(world.slack, "find_post", unread)
    target = accounts.by_key("globex")
    await service("a").refresh(target)
    _worse(world.jira)
    world.clock.now = NOW + dt.timedelta(hours=2)
    answer = world.store.posts.answer

    def killed(keys, *args, **kwargs):
        if any(":dm:" in k for k in keys):
            raise RuntimeError("killed after Slack answered")
        return answer(keys, *args, **kwargs)

    monkeypatch.setattr(world.store.posts, "answer", killed)
    with pytest.raises(Exception, match="killed"):
        await service("b").refresh(target)
    monkeypatch.setattr(world.store.posts, "answer", answer)
    assert len(world.slack.dms_to("U0GLXPO001")) == 1
    world.clock.now = NOW + dt.timedelta(hours=2, minutes=5)  # the dead worker's lease ran out
    await service("c").refresh(target)
    assert len(world.slack.dms_to("U0GLXPO001")) == 1
    assert len(world.slack.in_channel("C0GLXINTL1")) == 1  # the channel's post too, once
