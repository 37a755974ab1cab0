"""The weekly overview: every role holder gets one DM a week (Monday 08:00 in their accounts'
timezone) listing their accounts by need of attention, from the stored snapshots (no Jira), once
per person and week — also across a crash between Slack's answer and its record — and only while
Slack says they are an agency member."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.accounts import AccountsConfig, Roles
from bot.domain.portfolio import AccountHealth, Concern, Reason, Verdict
from bot.domain.portfolio_weekly import recipients, week_key
from bot.domain.roles import Handover
from bot.services.digests import DigestService
from bot.services.exactly_once import OncePoster
from bot.services.portfolio import PortfolioService
from bot.services.portfolio_weekly import WeeklyOverview
from sandbox.agency import build_sandbox
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

# Monday 23 November 2026, 08:00 in Berlin is 07:00 UTC.
MONDAY = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
SANDBOX = build_sandbox(MONDAY - dt.timedelta(days=3))
MANAGER, PRODUCT, GUEST = "U0MGR00001", "U0MGR00002", "U0GUEST001"
ROLES = {
    "acme-shop": Roles(budget=MANAGER, backlog=[PRODUCT]),  # Europe/Berlin, de
    "northwind": Roles(budget=MANAGER),  # America/New_York, en
    "globex": Roles(support=MANAGER, backlog=GUEST, billing="S0TEAM0001"),  # Europe/London, en
}
ACCOUNTS = AccountsConfig(accounts=[a.model_copy(update={"roles": ROLES[a.key]}) for a in SANDBOX.accounts.accounts])


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _health(key: str, name: str, verdict: Verdict, reasons: tuple[Reason, ...] = ()) -> AccountHealth:
    return AccountHealth(account_key=key, account_name=name, key_account=False, computed_at=MONDAY - dt.timedelta(hours=1),
                         today=MONDAY.date(), verdict=verdict, reasons=reasons)


@pytest.fixture
def world(sqlite_store):
    jira = InMemoryJira.from_seed(SANDBOX.seed)
    slack = InMemorySlack()
    clock = Clock(MONDAY - dt.timedelta(minutes=1))
    digests = DigestService(jira=jira, slack=slack, store=sqlite_store, clock=clock, retry_delays=())
    for health in (
        _health("acme-shop", "ACME Shop GmbH", Verdict.OK),
        _health("globex", "Globex Corporation", Verdict.AT_RISK, (Reason(Concern.OVERDUE, Verdict.AT_RISK, {"count": 7}),)),
        _health("northwind", "Northwind Traders", Verdict.WATCH, (Reason(Concern.WAITING_FOR_CLIENT, Verdict.WATCH, {"count": 3}),)),
    ):
        sqlite_store.portfolio.save(health.account_key, health.to_json(), health.computed_at)
    members = {MANAGER: True, PRODUCT: True, GUEST: False}
    asked: list[str] = []

    async def is_member(user: str) -> bool | None:
        asked.append(user)
        return members[user]

    def overview(owner: str = "w1", cron: str | None = "0 8 * * mon", handovers=()) -> WeeklyOverview:
        portfolio = PortfolioService(accounts=ACCOUNTS, digests=digests, store=sqlite_store, clock=clock,
                                     handovers=lambda: handovers)
        poster = OncePoster(sqlite_store, slack, clock, owner, dt.timedelta(minutes=1))
        return WeeklyOverview(portfolio, poster, is_member, cron)

    class World:
        pass

    w = World()
    w.jira, w.slack, w.clock, w.store, w.overview, w.members, w.asked = jira, slack, clock, sqlite_store, overview, members, asked
    yield w
    digests.close()


def test_role_holders_get_it_in_the_timezone_and_language_most_of_their_accounts_share():
    people = {r.user_id: r for r in recipients(ACCOUNTS.accounts, MONDAY, ())}
    assert set(people) == {MANAGER, PRODUCT, GUEST}  # people only: the user group holds a role, gets no DM
    assert people[MANAGER].account_keys == ("acme-shop", "globex", "northwind")
    assert (people[MANAGER].timezone, people[MANAGER].language) == ("Europe/Berlin", "en")  # tz tie: the first account's
    assert (people[PRODUCT].timezone, people[PRODUCT].language) == ("Europe/Berlin", "de")
    assert week_key(people[MANAGER], "0 8 * * mon", MONDAY - dt.timedelta(seconds=1)) is None
    assert week_key(people[MANAGER], "0 8 * * mon", MONDAY) == f"weekly-overview:{MANAGER}:2026-W48"
    assert week_key(people[MANAGER], "0 8 * * mon", MONDAY + dt.timedelta(hours=13)) is None  # past the grace
    # Someone away hands their role to the cover: the cover gets the overview this week.
    away = Handover("1", PRODUCT, "U0COVER001", MONDAY.date(), MONDAY.date() + dt.timedelta(days=7), frozenset({"acme-shop"}))
    people = {r.user_id: r for r in recipients(ACCOUNTS.accounts, MONDAY, [away])}
    assert PRODUCT not in people and people["U0COVER001"].account_keys == ("acme-shop",)


async def test_the_overview_lists_the_managers_accounts_attention_first_once_a_week_without_jira(world):
    weekly = world.overview()
    assert await weekly.tick() == []  # Sunday night: not yet
    world.clock.now = MONDAY + dt.timedelta(seconds=30)
    calls = len(world.jira.calls)
    assert sorted(await weekly.tick()) == [MANAGER, PRODUCT]
    assert len(world.jira.calls) == calls  # snapshots only
    (dm,) = world.slack.dms_to(MANAGER)
    text = dm["text"]
    order = [text.index(name) for name in ("Globex Corporation", "Northwind Traders", "ACME Shop GmbH")]
    assert order == sorted(order), text  # at risk, watch, ok
    assert text.index("Needs attention") < order[0] and order[1] < text.index("All well") < order[2]
    assert "7 issues overdue" in text and "3 issues waiting for the client" in text
    (de,) = world.slack.dms_to(PRODUCT)
    assert "ACME Shop GmbH" in de["text"] and "Globex" not in de["text"] and "Ihre Kunden" in de["text"]
    assert GUEST not in world.asked  # Globex is in London: 08:00 there is an hour later

    world.clock.now = MONDAY + dt.timedelta(hours=2)
    assert await weekly.tick() == []
    assert world.slack.dms_to(GUEST) == []  # not an agency member (re-checked): nothing internal
    assert world.asked.count(GUEST) == 1
    assert await world.overview("w2").tick() == []  # another process, the same week: nothing twice
    assert world.asked.count(GUEST) == 1  # recorded for the week: not asked again
    assert len(world.slack.dms_to(MANAGER)) == 1

    world.clock.now = MONDAY + dt.timedelta(days=7)
    assert sorted(await weekly.tick()) == [MANAGER, PRODUCT]  # next Monday
    assert len(world.slack.dms_to(MANAGER)) == 2


async def test_a_crash_between_slacks_answer_and_its_record_sends_nothing_twice(world, monkeypatch):
    world.clock.now = MONDAY
    answer = world.store.posts.answer

    def killed(*args, **kwargs):
        raise RuntimeError("killed after Slack answered")

    async def unread(*args, **kwargs):
        return None  # as the real adapter: DMs are never read back (no im:history)

    monkeypatch.setattr(world.store.posts, "answer", killed)
    monkeypatch.setattr(world.slack, "find_post", unread)
    assert await world.overview("dying").tick() == []
    monkeypatch.setattr(world.store.posts, "answer", answer)
    assert len(world.slack.dms_to(MANAGER)) == 1  # Slack has it, the store does not know
    world.clock.now = MONDAY + dt.timedelta(minutes=5)  # the dead worker's lease ran out
    assert await world.overview("restarted").tick() == []
    assert len(world.slack.dms_to(MANAGER)) == 1 and len(world.slack.dms_to(PRODUCT)) == 1  # claimed: never again


async def test_slack_refusing_the_dm_releases_the_claim_for_the_next_tick(world):
    from bot.errors import UpstreamError

    world.clock.now = MONDAY
    world.slack.fail_next = [UpstreamError("slack", "channel_not_found", retryable=False)]
    assert await world.overview().tick() == [PRODUCT]  # the manager's DM was refused (the first one sent)
    world.clock.now = MONDAY + dt.timedelta(minutes=1)
    assert await world.overview().tick() == [MANAGER]
    assert len(world.slack.dms_to(MANAGER)) == 1


async def test_nobody_gets_an_empty_overview_before_the_snapshots_exist(world):
    world.clock.now = MONDAY
    from integrations.store.schema import portfolio_snapshots as t

    with world.store.engine.begin() as conn:
        conn.execute(t.delete())  # a new store: no account assessed yet
    assert await world.overview().tick() == []
    assert world.slack.messages == []


async def test_slack_unsure_waits_and_off_sends_nothing(world):
    world.clock.now = MONDAY
    assert await world.overview(cron=None).tick() == []
    assert world.slack.messages == []
    world.members[PRODUCT] = None  # users.info failed
    assert await world.overview().tick() == [MANAGER]
    world.members[PRODUCT] = True
    world.clock.now = MONDAY + dt.timedelta(minutes=1)
    assert await world.overview().tick() == [PRODUCT]


async def test_pulse_serve_wires_it_with_slacks_word_on_membership_and_the_setting_turns_it_off(sqlite_store):
    """Through `assemble`: the runtime's weekly overview asks the real Slack client (users.info on
    the fake Slack server) whether each role holder is an agency member; a guest gets nothing.
    `PULSE_WEEKLY_OVERVIEW=off` turns it off; a schedule the scheduler cannot read is refused."""
    from pydantic import ValidationError

    from bot.app import Ports, assemble
    from bot.domain.links import SiteLinks
    from bot.settings import Settings
    from integrations.slack import make_web_client
    from sandbox.agency import sandbox_accounts
    from sandbox.slack_server import FakeSlack

    at = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)  # Monday: past 08:00 in Berlin, London and New York
    slack = InMemorySlack()
    with FakeSlack(team_id="T0AGENCY1") as server:
        accounts = sandbox_accounts()
        server.add_channels_of(accounts)
        for user in ("U0ACMEAM01", "U0ACMEPO01", "U0ACMEPO02", "U0ACMESUP1", "U0NWAM0001", "U0NWSUP001", "U0GLXSUP01"):
            server.add_user(user)
        server.add_user("U0ACMEBIL1", is_restricted=True)  # a guest in the agency's workspace
        for account in accounts.accounts:
            health = _health(account.key, account.name, Verdict.OK)
            sqlite_store.portfolio.save(account.key, health.to_json(), health.computed_at)
        ports = Ports(accounts=accounts, store=sqlite_store, jira=InMemoryJira(), clock=lambda: at,
                      slack=slack, slack_client=make_web_client(server.token, server.api_url), links=SiteLinks())
        base = {"slack": {"signing_secret": "x" * 32}, "scheduler_enabled": False}
        runtime = assemble(Settings(**base), ports)
        assert runtime.weekly is not None and runtime.weekly.cron == "0 8 * * mon"
        sent = await runtime.weekly.tick()
        assert "U0ACMEAM01" in sent and "U0GLXSUP01" in sent and "U0ACMEBIL1" not in sent
        assert slack.dms_to("U0ACMEBIL1") == [] and len(slack.dms_to("U0ACMEAM01")) == 1
        assert await runtime.weekly.tick() == []
        assert assemble(Settings(**base, weekly_overview="off"), ports).weekly is None
    with pytest.raises(ValidationError, match="PULSE_WEEKLY_OVERVIEW"):
        Settings(**base, weekly_overview="0 8 * * 1")
