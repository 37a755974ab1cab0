"""A handover's steps through the fakes: the summary at creation (two accounts, German and English),
the client line at the start, "while you were away" at the end or on cancel, exactly once through a
restart and two processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig
from bot.domain.links import SiteLinks
from bot.domain.work import Issue, Version, Worklog
from bot.services.commands import Asker, CommandService
from bot.services.digests import DigestService
from bot.services.directory import Directory
from bot.services.handover import HandoverService, register_handover_commands
from bot.services.handover_steps import HandoverSteps
from integrations.slack import make_web_client
from sandbox.slack_server import FakeSlack
from tests.fakes.jira import InMemoryJira
from tests.fakes.slack import InMemorySlack

HOME = "T0AGENCY1"
UTC = dt.timezone.utc
ANA, BEN, LEAD = "U0ANA00001", "U0BEN00001", "U0LEAD0001"
CREATED = dt.datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # a Monday; the handover runs Dec 21 – Jan 6
START = dt.datetime(2026, 12, 21, 7, 0, tzinfo=UTC)
AFTER = dt.datetime(2027, 1, 7, 7, 0, tzinfo=UTC)
NAMES = {ANA: "Ana Alves", BEN: "Ben Brandt", LEAD: "Lea Lead"}


def _accounts() -> AccountsConfig:
    def account(key, name, language, prefix, roles, **extra):
        return {
            "key": key, "name": name, "language": language, "timezone": "Europe/Berlin",
            "channels": [{"id": f"C0{prefix}CLIENT", "audience": "client"}, {"id": f"C0{prefix}INTERN", "audience": "internal"}],
            "jira": {"projects": [prefix], "waiting_statuses": ["Waiting for customer"]}, "roles": roles,
            "people": {"ana-jira": ANA}, "confluence": {"space": prefix}, "budget": {"hours": 100}, **extra,
        }

    return AccountsConfig.model_validate({"accounts": [
        account("acme", "Acme GmbH", "de", "AC", {"budget": ANA, "support": ANA}, handover_client_line=True),
        account("north", "Northwind", "en", "NW", {"backlog": ANA}),
    ]})


def _issue(key, summary, **fields) -> Issue:
    values = dict(key=key, project=key.split("-")[0], summary=summary, issue_type="Task", status="In Progress",
                  status_category="indeterminate", created=dt.datetime(2026, 11, 2, tzinfo=UTC))
    values.update(fields)
    return Issue(**values)


def _jira() -> InMemoryJira:
    ana = {"assignee_id": "ana-jira", "assignee": "Ana Alves"}
    return InMemoryJira([
        _issue("AC-1", "Checkout-Redesign", priority="High", due=dt.date(2026, 12, 23), fix_version_ids=("v1",), **ana),
        _issue("AC-2", "Newsletter-Vorlage", priority="Low", due=dt.date(2027, 2, 1), **ana),
        _issue("AC-3", "Retro notes", labels=("internal",), **ana),
        _issue("AC-4", "Someone else's", assignee_id="ben-jira"),
        _issue("AC-5", "Old and done", status="Done", status_category="done", resolved=dt.datetime(2026, 11, 5, tzinfo=UTC), **ana),
        _issue("NW-1", "Data import", status="Waiting for customer", status_category="indeterminate", **ana),
    ], [Version("v1", "AC", "Relaunch", release_date=dt.date(2026, 12, 30)),
        Version("v2", "NW", "Phase 2", release_date=dt.date(2026, 12, 28))])


@pytest.fixture
def slack_server():
    with FakeSlack(team_id=HOME) as fake:
        fake.add_user(ANA, name="Ana Alves")
        fake.add_user(BEN, name="Ben Brandt")
        fake.add_user(LEAD, name="Lea Lead")
        yield fake


class World:
    def __init__(self, store, slack_server, jira=None):
        self.now = CREATED
        self.store = store
        self.accounts = _accounts()
        self.jira = jira or _jira()
        self.slack = InMemorySlack()
        self.directory = Directory(make_web_client(slack_server.token, slack_server.api_url, max_retries=0), [], None)
        # Membership at each step, asked of Slack afresh (no cache): people change between steps here.
        self.is_member = Directory(make_web_client(slack_server.token, slack_server.api_url, max_retries=0), [], None,
                                   ttl=0).is_member
        self.steps = self.process()
        self.service = HandoverService(store, self.accounts, lambda: self.now, self.directory,
                                       after_create=self.steps.run, after_cancel=self.steps.run)
        self.commands = CommandService(self.accounts)
        register_handover_commands(self.commands, self.service)

    def process(self) -> HandoverSteps:
        """One bot process's steps (a restart or a second process is another)."""
        async def names(user):
            return NAMES.get(user)
        digests = DigestService(jira=self.jira, slack=self.slack, store=self.store, clock=lambda: self.now)
        return HandoverSteps(self.store, self.accounts, digests, self.slack, lambda: self.now, names,
                             links=SiteLinks(jira="https://jira.example", confluence="https://wiki.example"),
                             is_member=self.is_member)

    async def ask(self, text, channel="C0ACINTERN"):
        return (await self.commands.run(text, Asker(LEAD, channel, Role.MEMBER, home_team=HOME))).text

    def texts(self, channel):
        return [m["text"] for m in self.slack.in_channel(channel)]


@pytest.fixture
def world(sqlite_store, slack_server):
    return World(sqlite_store, slack_server)


async def test_the_summary_goes_to_both_by_dm_per_account_in_its_language_and_short_to_the_internal_channel(world):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    acme_de, north_en = world.texts(world.slack.dm_channel(BEN))
    assert world.texts(world.slack.dm_channel(ANA)) == [acme_de, north_en]  # the leaver checks the same
    lines = acme_de.splitlines()
    assert lines[0] == f"🧳 *Übergabe #1 · Acme GmbH*: <@{BEN}> vertritt <@{ANA}> vom 21.12.2026 bis 06.01.2027."
    assert lines[1] == "Rollen, die übergehen: Budget, Support."
    assert lines[2].startswith("Offene Vorgänge: 3 (⏰ fällig während der Abwesenheit")
    # Due during the absence first, with status, priority and due date; internal work marked.
    assert lines[3] == "• ⏰ <https://jira.example/browse/AC-1|AC-1> Checkout-Redesign · In Progress · High · fällig 23.12.2026"
    assert lines[4] == "• <https://jira.example/browse/AC-2|AC-2> Newsletter-Vorlage · In Progress · Low · fällig 01.02.2027"
    assert lines[5].startswith("• 🔒 <https://jira.example/browse/AC-3|AC-3> Retro notes")
    assert "AC-4" not in acme_de and "AC-5" not in acme_de  # someone else's, and done
    assert "Meilensteine mit offener Arbeit:\n• Relaunch · 30.12.2026 · 1 offen" in acme_de
    assert "Budget: 0 h von 100 h verbraucht (0" in acme_de
    assert acme_de.endswith("Confluence-Bereich: https://wiki.example/display/AC")
    assert north_en.splitlines()[:2] == [
        f"🧳 *Handover #1 · Northwind*: <@{BEN}> covers for <@{ANA}> from Dec 21, 2026 to Jan 6, 2027.",
        "Roles that pass: Backlog."]
    assert "Data import · Waiting for customer · waiting for the client" in north_en
    assert "Waiting for the client: NW-1." in north_en
    assert "Milestones" not in north_en  # Phase 2 holds none of Ana's issues
    (note,) = world.texts("C0ACINTERN")
    assert note.startswith(f"🧳 <@{BEN}> vertritt <@{ANA}> vom 21.12.2026 bis 06.01.2027 (Rollen: Budget, Support; 3 offene")
    assert world.texts("C0ACCLIENT") == [] and world.texts("C0NWCLIENT") == []  # nothing before the start


async def test_the_client_line_at_the_start_names_the_contact_only_and_only_where_the_account_allows(world):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    assert await world.steps.tick() == []  # a week early: nothing due
    world.now = START
    assert sorted(await world.steps.tick()) == [("1", "acme", "start"), ("1", "north", "start")]
    assert world.texts("C0ACCLIENT") == ["Bis 06.01.2027 ist Ben Brandt Ihre Ansprechperson für Budget, Support."]
    assert world.texts("C0NWCLIENT") == []  # Northwind did not allow it
    assert await world.process().tick() == []  # a restart mid-period: nothing again
    assert len(world.texts("C0ACCLIENT")) == 1


async def test_while_you_were_away_at_the_end_once_per_account(world):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    world.now = START
    await world.steps.tick()
    # Meanwhile: AC-1 done, a new requirement, Relaunch released, Phase 2 slipped, 3 h logged.
    jira = world.jira
    jira.issues[0] = dataclasses.replace(jira.issues[0], status="Done", status_category="done",
                                         resolved=dt.datetime(2026, 12, 22, 10, tzinfo=UTC))
    jira.issues.append(_issue("AC-9", "Gutschein-Feld", status="To Do", status_category="new",
                              created=dt.datetime(2026, 12, 28, 10, tzinfo=UTC),
                              worklogs=(Worklog("w1", "AC-9", dt.datetime(2026, 12, 29, 9, tzinfo=UTC), 3 * 3600),)))
    jira.versions[0] = dataclasses.replace(jira.versions[0], released=True)
    before = len(world.texts(world.slack.dm_channel(ANA)))
    world.now = AFTER
    assert sorted(await world.steps.tick()) == [("1", "acme", "end"), ("1", "north", "end")]
    acme, north = world.texts(world.slack.dm_channel(ANA))[before:]
    assert acme.splitlines()[0] == (f"👋 *Willkommen zurück · Acme GmbH*: was vom 21.12.2026 bis 06.01.2027 geschah, "
                                    f"während <@{BEN}> vertreten hat.")
    assert "Inzwischen erledigt (1):\n• <https://jira.example/browse/AC-1|AC-1> Checkout-Redesign · Done" in acme
    assert "Neue Anforderungen (1):\n• <https://jira.example/browse/AC-9|AC-9> Gutschein-Feld" in acme
    assert "🏁 Meilenstein Relaunch veröffentlicht (30.12.2026)." in acme
    assert "Inzwischen erfasste Arbeit: 3 h." in acme
    assert "⚠️ Milestone Phase 2 was due on Dec 28, 2026 and is not released." in north
    assert "Still open (1):\n• <https://jira.example/browse/NW-1|NW-1> Data import" in north
    assert await world.process().tick() == []  # once
    assert len(world.texts(world.slack.dm_channel(ANA))) == before + 2


async def test_a_cancel_mid_period_greets_back_at_once_and_before_the_start_not_at_all(world):
    await world.ask(f"handover <@{ANA}|ana> <@{BEN}|ben> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    await world.ask(f"handover <@{BEN}|ben> <@{ANA}|ana> 2027-02-01..2027-02-05 account north", channel="C0NWINTERN")
    world.now = dt.datetime(2026, 12, 28, 9, tzinfo=UTC)
    await world.steps.tick()
    assert await world.ask("handover cancel 1", channel="C0NWINTERN") == (
        f"Handover #1 cancelled: the roles of <@{ANA}> are back with them.")
    (away,) = [t for t in world.texts(world.slack.dm_channel(ANA)) if t.startswith("👋")]
    assert "from Dec 21, 2026 to Dec 28, 2026" in away
    await world.ask("handover cancel 2", channel="C0NWINTERN")
    assert not [t for t in world.texts(world.slack.dm_channel(BEN)) if t.startswith("👋")]  # Ben never left
    world.now = AFTER
    assert await world.steps.tick() == []


async def test_two_processes_and_a_restart_run_each_step_once(store, slack_server):
    world = World(store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    (stored,) = store.handovers.listed()  # (PostgreSQL's ids go on counting across tests)
    posted = len(world.slack.messages)
    world.now = START
    first, second = await asyncio.gather(world.process().tick(), world.process().tick())
    assert sorted(first + second) == [(stored.id, "acme", "start")]
    world.now = AFTER
    first, second = await asyncio.gather(world.process().tick(), world.process().tick())
    assert sorted(first + second) == [(stored.id, "acme", "end")]
    assert len(world.slack.messages) == posted + 2  # one client line, one "while you were away"
    assert store.handovers.step_status(stored.id, "acme", "end") == "done"


async def test_a_step_cut_off_by_a_dead_process_is_taken_over_and_posts_once(sqlite_store, slack_server):
    world = World(sqlite_store, slack_server)
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    world.now = START
    # A process claimed the start and died before finishing it.
    assert sqlite_store.handovers.claim_step("1", "acme", "start", "dead:1", START, START)
    assert await world.process().tick() == []  # still its claim
    world.now = START + dt.timedelta(minutes=11)
    assert await world.process().tick() == [("1", "acme", "start")]
    assert len(world.texts("C0ACCLIENT")) == 1


async def test_a_jira_outage_leaves_the_summary_to_a_later_tick(world):
    from bot.errors import UpstreamUnavailable

    world.jira.error = UpstreamUnavailable("jira", "down", retryable=True)
    world.steps.digests._retry_delays = ()
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account north")
    assert world.slack.messages == [] and world.store.handovers.step_status("1", "north", "created") == "failed"
    world.jira.error = None
    world.now = CREATED + dt.timedelta(minutes=1)  # a failed step waits its backoff (tests/test_retry_backoff.py)
    assert await world.steps.tick() == [("1", "north", "created")]
    assert len(world.texts(world.slack.dm_channel(BEN))) == 1


async def test_people_who_are_no_longer_of_the_agency_get_no_internal_dm_and_are_named_to_no_client(world, slack_server):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    assert len(world.texts(world.slack.dm_channel(BEN))) == 2  # control: both members at creation, summaries sent
    # Before the start the cover became a guest: the client is not told to ask them.
    slack_server.users[BEN].is_restricted = True
    world.now = START
    assert sorted(await world.steps.tick()) == [("1", "acme", "start"), ("1", "north", "start")]
    assert world.texts("C0ACCLIENT") == []
    # Before the end the leaver moved to another team: no "while you were away" with internal work.
    slack_server.users[ANA].team_id = "T0OTHER01"
    before = len(world.texts(world.slack.dm_channel(ANA)))
    world.now = AFTER
    assert sorted(await world.steps.tick()) == [("1", "acme", "end"), ("1", "north", "end")]
    assert len(world.texts(world.slack.dm_channel(ANA))) == before


async def test_a_step_waits_when_slack_cannot_tell_who_someone_is(world, slack_server):
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027")
    del slack_server.users[BEN]  # users.info fails: not known to be a member, so not known not to be either
    world.now = START
    # Acme's start step (it has a client line) failed and is tried again later; Northwind has no line.
    assert await world.steps.tick() == [("1", "north", "start")]
    assert world.texts("C0ACCLIENT") == []
    slack_server.add_user(BEN, name="Ben Brandt")
    world.now = START + dt.timedelta(minutes=11)
    assert ("1", "acme", "start") in await world.steps.tick()
    assert world.texts("C0ACCLIENT") == ["Bis 06.01.2027 ist Ben Brandt Ihre Ansprechperson für Budget, Support."]


async def test_the_client_line_names_who_covers_today_when_the_cover_is_away_too(world):
    # Ben is away for Acme the whole time and Lea covers him; then Ana hands over to Ben (A → B → C).
    await world.ask(f"handover <@{BEN}|ben> <@{LEAD}|lea> 2026-12-20..2027-01-10 account acme")
    await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 21.12.2026..06.01.2027 account acme")
    world.now = START
    await world.steps.tick()
    # The same contact `who` gives, until the chain's end (Ana's handover ends first).
    assert world.texts("C0ACCLIENT") == ["Bis 06.01.2027 ist Lea Lead Ihre Ansprechperson für Budget, Support."]
    assert "Lea Lead" in await world.ask("wer", channel="C0ACCLIENT")
