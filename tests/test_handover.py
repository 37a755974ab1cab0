"""Handovers through the command service, the store and the Slack directory (real slack_sdk client
against the sandbox Slack server): create, refuse, list, cancel, `/pulse roles`, `@Account Pulse who`."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig
from bot.services.commands import Asker, CommandService
from bot.services.directory import Directory
from bot.services.handover import HandoverService, register_handover_commands
from integrations.slack import make_web_client
from sandbox.slack_server import FakeSlack

HOME = "T0AGENCY1"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
ANA, BEN, CEM, DAN = "U0ANA00001", "U0BEN00001", "U0CEM00001", "U0DAN00001"
CLIENT_USER, GUEST = "U0CLIENT01", "U0GUEST001"


def _accounts() -> AccountsConfig:
    def account(key, name, language, prefix, roles, people):
        return {
            "key": key, "name": name, "language": language, "timezone": "Europe/Berlin",
            "channels": [{"id": f"C0{prefix}CLIENT", "audience": "client"}, {"id": f"C0{prefix}INTERN", "audience": "internal"}],
            "jira": {"projects": [prefix]}, "roles": roles, "people": people,
        }

    return AccountsConfig.model_validate({"accounts": [
        account("acme", "Acme GmbH", "de", "AC", {"budget": ANA, "backlog": [ANA, CEM], "support": {"people": [CEM], "deputy": DAN},
                                                 "billing": DAN}, {"ana@agency.example": ANA}),
        account("north", "Northwind", "en", "NW", {"budget": BEN, "support": ANA}, {}),
        account("globex", "Globex", "en", "GX", {"budget": DAN}, {}),
    ]})


@pytest.fixture
def slack():
    with FakeSlack(team_id=HOME) as fake:
        for user, name in ((ANA, "Ana Alves"), (BEN, "Ben Brandt"), (CEM, "Cem Çelik"), (DAN, "Dan Dietz")):
            fake.add_user(user, name=name)
        fake.add_user(CLIENT_USER, team_id="T0CLIENT1", name="Client Person")
        fake.add_user(GUEST, is_restricted=True)
        yield fake


class World:
    def __init__(self, store, slack):
        self.now = NOW
        self.accounts = _accounts()
        self.directory = Directory(make_web_client(slack.token, slack.api_url, max_retries=0), [], None)
        self.service = HandoverService(store, self.accounts, lambda: self.now, self.directory)
        self.commands = CommandService(self.accounts)
        register_handover_commands(self.commands, self.service)
        self.store = store

    async def ask(self, text, channel="C0ACINTERN", user=BEN, role=Role.MEMBER, mention=False):
        asker = Asker(user, channel, role, via_mention=mention, home_team=HOME)
        return (await self.commands.run(text, asker)).text


@pytest.fixture
def world(sqlite_store, slack):
    return World(sqlite_store, slack)


async def test_a_handover_in_one_line_is_saved_and_cover_shows_in_roles_and_who(world):
    reply = await world.ask(f"übergabe <@{ANA}|ana> <@{BEN}|ben> 01.12.2026..06.01.2027 account acme north")
    assert reply.startswith(f"Übergabe #1 gespeichert: <@{BEN}> vertritt <@{ANA}> vom 01.12.2026 bis 06.01.2027 bei Acme GmbH, Northwind.")
    assert "Acme GmbH: Budget, Backlog; Northwind: Support" in reply
    (stored,) = world.store.handovers.listed()
    assert (stored.handover.from_user, stored.handover.to_user, stored.created_by) == (ANA, BEN, BEN)
    assert stored.handover.account_keys == {"acme", "north"}

    roles = await world.ask("rollen")
    assert f"• Budget: <@{BEN}> (vertritt <@{ANA}> bis 06.01.2027)" in roles
    assert f"• Backlog: <@{BEN}> (vertritt <@{ANA}> bis 06.01.2027), <@{CEM}>" in roles
    assert f"• Support: <@{CEM}>, Stellvertretung: <@{DAN}>" in roles

    # A Slack Connect client asks in German: names only, until when; no ids, no "covering for", no billing.
    who = await world.ask("wer", channel="C0ACCLIENT", user=CLIENT_USER, role=Role.EXTERNAL, mention=True)
    assert who == ("Ihre Ansprechpersonen in der Agentur heute:\n• Budget: Ben Brandt (bis 06.01.2027)\n"
                   "• Backlog: Ben Brandt (bis 06.01.2027), Cem Çelik\n• Support: Cem Çelik")
    northwind = await world.ask("who", channel="C0NWCLIENT", user=CLIENT_USER, role=Role.EXTERNAL, mention=True)
    assert northwind == "Your contacts at the agency today:\n• Budget: Ben Brandt\n• Support: Ben Brandt (until Jan 6, 2027)"
    # Globex is not in the handover.
    assert "Dan Dietz" in await world.ask("who", channel="C0GXCLIENT", user=CLIENT_USER, role=Role.EXTERNAL, mention=True)


async def test_roles_are_not_shown_in_a_client_channel(world):
    assert await world.ask("rollen", channel="C0ACCLIENT") == (
        "Rollen zeigt der Bot in den eigenen Kanälen der Agentur; hier fragen Sie `/pulse wer`.")


async def test_without_accounts_the_handover_covers_where_the_person_holds_a_role_or_works(world):
    await world.ask(f"handover {ANA} {BEN} 2026-12-21..2027-01-06")
    (stored,) = world.store.handovers.listed()
    assert stored.handover.account_keys == {"acme", "north"}


@pytest.mark.parametrize(
    "text, answer",
    [
        (f"übergabe <@{ANA}|a> <@{CLIENT_USER}|c> 21.12.2026..06.01.2027",
         f"<@{CLIENT_USER}> gehört nicht zur Agentur (andere Organisation oder Gast): die Vertretung muss aus der Agentur sein."),
        (f"übergabe <@{ANA}|a> <@{GUEST}|g> 21.12.2026..06.01.2027", f"<@{GUEST}> gehört nicht zur Agentur"),
        (f"übergabe <@{ANA}|a> <@U0NOBODY01|x> 21.12.2026..06.01.2027", "Slack kennt <@U0NOBODY01> nicht: wählen Sie die Person mit @."),
        (f"übergabe <@{ANA}|a> <@{BEN}|b> 06.01.2027..21.12.2026", "Der Zeitraum endet (21.12.2026), bevor er beginnt (06.01.2027)."),
        (f"übergabe <@{ANA}|a> <@{BEN}|b> 2026-11-20..2026-11-30",
         "Dieser Zeitraum endete am 30.11.2026 (in der Zeitzone von Acme GmbH): eine Übergabe gilt ab heute oder später."),
        (f"übergabe <@{ANA}|a> <@{ANA}|a> 21.12.2026..06.01.2027", "Niemand kann sich selbst vertreten"),
        (f"übergabe <@{ANA}|a> <@{BEN}|b> 21.12.2026..06.01.2027 account nope", "Es gibt keinen Kunden `nope`. Die Kunden sind: acme, north, globex."),
        (f"übergabe @ana <@{BEN}|b> 21.12.2026..06.01.2027", "`@ana` ist keine in Slack gewählte Person"),
        (f"übergabe <@{ANA}|a> <@{BEN}|b> 31.12.2026..32.12.2026", "`32.12.2026` ist kein Datum"),
        ("übergabe x", "Schreiben Sie `/pulse übergabe @abwesend @vertretung <beginn>..<ende> [account <schlüssel> …]`"),
    ],
)
async def test_refusals_are_clear_and_in_the_accounts_language(world, text, answer):
    reply = await world.ask(text)
    assert reply.startswith(answer), reply
    assert world.store.handovers.listed() == []


async def test_a_client_cannot_hand_over(world):
    reply = await world.ask(f"handover <@{ANA}|a> <@{BEN}|b> 21.12.2026..06.01.2027", channel="C0NWCLIENT",
                            user=CLIENT_USER, role=Role.EXTERNAL, mention=True)
    assert "for agency members only" in reply
    assert world.store.handovers.listed() == []


async def test_a_chain_is_accepted_and_a_cycle_refused(world):
    await world.ask(f"handover <@{ANA}|a> <@{BEN}|b> 2026-12-21..2027-01-06 account north", channel="C0NWINTERN")
    # Ben away later covered by Cem: a chain (Ana's support goes to Cem while Ben is away).
    await world.ask(f"handover <@{BEN}|b> <@{CEM}|c> 2026-12-28..2027-01-03 account north", channel="C0NWINTERN")
    cycle = await world.ask(f"handover <@{CEM}|c> <@{ANA}|a> 2026-12-30..2027-01-02 account north", channel="C0NWINTERN")
    assert cycle == (f"Northwind: from Dec 30, 2026 the Budget role would go round in a circle (<@{BEN}>, <@{CEM}>, "
                     f"<@{ANA}> all away, covering for each other). Choose someone who is there."), cycle
    assert len(world.store.handovers.listed()) == 2
    assert "• Support: <@U0ANA00001>" in await world.ask("roles", channel="C0NWINTERN")  # Dec 1: not yet
    world.now = dt.datetime(2026, 12, 30, 9, 0, tzinfo=dt.timezone.utc)
    chain = await world.ask("roles", channel="C0NWINTERN")
    assert f"• Support: <@{CEM}> (covering for <@{ANA}> until Jan 3, 2027)" in chain
    assert f"• Budget: <@{CEM}> (covering for <@{BEN}> until Jan 3, 2027)" in chain


async def test_list_and_cancel(world):
    assert await world.ask("handover list", channel="C0NWINTERN") == (
        "No current or coming handovers. Start one with `/pulse handover @away @covers <start>..<end> [account <key> …]`.")
    await world.ask(f"handover <@{ANA}|a> <@{BEN}|b> 2026-12-21..2027-01-06 account north")
    listed = await world.ask("handover list", channel="C0NWINTERN")
    assert listed == f"Handovers, current and coming:\n#1 · <@{ANA}> → <@{BEN}> · Dec 21, 2026 – Jan 6, 2027 · Northwind"
    assert "#1" not in await world.ask("handover list", channel="C0GXINTERN")  # Globex has none
    assert await world.ask("handover cancel 1", channel="C0NWINTERN") == (
        f"Handover #1 cancelled: the roles of <@{ANA}> are back with them.")
    assert (await world.ask("handover cancel #1", channel="C0NWINTERN")).startswith("There is no handover #1")
    assert (await world.ask("handover cancel x", channel="C0NWINTERN")).startswith("Write `/pulse handover cancel <id>`")
    assert world.store.handovers.active() == []
    assert [e["action"] for e in world.store.audit.recent()][:2] == ["handover.cancel", "handover.create"]
