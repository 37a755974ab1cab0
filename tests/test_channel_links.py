"""Linking channels from Slack: admins only (members, Slack Connect users and guests refused, on
the command and again on the modal's submission), fail closed on sharing, audited, the accounts
file wins, and `pulse export-config` writes what `check-config` accepts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.accounts_file import load_accounts
from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig, Audience
from bot.domain.channel_links import RuntimeLink, allowed_audiences, merge
from bot.domain.sharing import Sharing
from bot.domain.subscriptions import format_subscription, parse_subscription
from bot.services.channel_audiences import ChannelAudiences
from bot.services.channel_links import LinkService, register_link_commands
from bot.services.commands import Asker, CommandService
from bot.services.directory import Directory
from tests.test_cli import ROOT, _pulse

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
EXAMPLE = ROOT / "config" / "accounts.example.yaml"


class Conversations:
    """conversations.info as Slack answers it, per channel id."""

    def __init__(self, shared: dict[str, bool]):
        self.shared = shared

    async def conversations_info(self, *, channel: str):
        if channel not in self.shared:
            raise RuntimeError("channel_not_found")
        flag = self.shared[channel]
        return {"channel": {"id": channel, "is_ext_shared": flag, "is_shared": flag, "is_org_shared": False,
                            "is_pending_ext_shared": False}}

    # conversations.members / users.info / auth.test: every channel holds two full members of ours.
    async def conversations_members(self, *, channel: str, **_):
        return {"members": ["U0ADMIN001", "U0MEMBER01"], "response_metadata": {"next_cursor": ""}}

    async def users_info(self, *, user: str, **_):
        return {"user": {"id": user, "team_id": "T0AGENCY", "is_restricted": False, "is_ultra_restricted": False}}

    async def auth_test(self):
        return {"team_id": "T0AGENCY"}

    async def usergroups_users_list(self, *, usergroup: str):
        return {"users": []}


@pytest.fixture
def setup(sqlite_store):
    live = load_accounts(EXAMPLE)
    slack = Conversations({"C0NEWINTL1": False, "C0NEWSHRD1": True, "C0ACMEINTL": False})
    audiences = ChannelAudiences(slack, live)
    links = LinkService(seed=live.model_copy(deep=True), live=live, store=sqlite_store, clock=lambda: NOW,
                        audiences=audiences, members=slack, is_member=Directory(slack, [], None).is_member)
    commands = CommandService(live, audiences=audiences)
    register_link_commands(commands, links)
    return live, links, commands, sqlite_store


def _asker(role, channel, opened):
    async def open_view(view):
        opened.append(view)
        return True

    return Asker("U0ADMIN001", channel, role, open_view=open_view)


def test_the_file_wins_and_links_to_unknown_accounts_are_dropped():
    seed = load_accounts(EXAMPLE)
    links = [RuntimeLink("C0ACMEINTL", "globex", Audience.CLIENT, None, "U0ADMIN001", NOW),
             RuntimeLink("C0NEW00001", "gone", Audience.CLIENT, None, "U0ADMIN001", NOW),
             RuntimeLink("C0NEW00002", "northwind", Audience.INTERNAL, "0 9 * * mon", "U0ADMIN001", NOW)]
    merged, notes = merge(seed, links)
    assert merged.by_channel("C0ACMEINTL")[0].key == "acme-shop"
    assert merged.by_channel("C0NEW00001") is None
    account, channel = merged.by_channel("C0NEW00002")
    assert account.key == "northwind" and channel.audience is Audience.INTERNAL and channel.digest.cron == "0 9 * * mon"
    assert len(notes) == 2 and "accounts file, which wins" in notes[0] and "'gone'" in notes[1]


@pytest.mark.parametrize(("sharing", "allowed"), [
    (Sharing.PRIVATE_TO_US, (Audience.INTERNAL, Audience.CLIENT)),
    (Sharing.SHARED, (Audience.CLIENT,)), (Sharing.UNKNOWN, (Audience.CLIENT,)),
])
def test_only_a_channel_slack_says_is_ours_may_be_internal(sharing, allowed):
    assert allowed_audiences(sharing, outsiders=False) == allowed
    # Guests or another team's people in it, or Slack not able to tell: client only (review 3 #9).
    assert allowed_audiences(sharing, outsiders=True) == allowed_audiences(sharing, None) == (Audience.CLIENT,)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.EXTERNAL])  # a guest or a Slack Connect user is EXTERNAL
async def test_link_and_unlink_are_refused_to_everyone_but_admins(setup, role):
    _, _, commands, _ = setup
    opened: list = []
    reply = await commands.run("link northwind", _asker(role, "C0NEWINTL1", opened))
    assert reply.text == "`/pulse link <account>` is for agency admins only." and opened == []
    reply = await commands.run("unlink", _asker(role, "C0ACMEINTL", opened))
    assert reply.text == "`/pulse lösen` ist nur für Admins der Agentur."  # ACME's channel speaks German


def _submit_view(view, audience, cron="", subscriptions=""):
    return {**view, "state": {"values": {
        "audience": {"audience": {"selected_option": {"value": audience}}},
        "schedule": {"schedule": {"value": cron}}, "subscriptions": {"subscriptions": {"value": subscriptions}}}}}


async def test_an_admin_links_an_internal_channel_through_the_modal_audited_and_at_once(setup):
    live, links, commands, store = setup
    opened: list = []
    reply = await commands.run("link northwind", _asker(Role.ADMIN, "C0NEWINTL1", opened))
    assert reply.text == "Confirm the link in the form I opened."
    (view,) = opened
    options = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert options == ["internal", "client"] and view["blocks"][1]["element"]["initial_option"]["value"] == "internal"
    # A member replays the form: refused again on submit, nothing stored.
    assert await links.submit("U0MEMBER01", Role.MEMBER, _submit_view(view, "internal"), "en") == {
        "audience": "Only agency admins may link channels."}
    errors = await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(view, "internal", cron="0 9 * * mo"), "en")
    assert "'mo' is not a weekday" in errors["schedule"] and store.channel_links.all() == []
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(view, "internal", cron="0 9 * * mon",
                                                                     subscriptions="status"), "en") is None
    account, channel = live.by_channel("C0NEWINTL1")  # in effect at once, for everything holding `live`
    assert account.key == "northwind" and channel.audience is Audience.INTERNAL and channel.digest.cron == "0 9 * * mon"
    (entry,) = store.audit.entries("channel.link", "C0NEWINTL1")
    assert (entry["actor"], entry["account_key"], entry["details"]["audience"], entry["details"]["cron"]) == (
        "U0ADMIN001", "northwind", "internal", "0 9 * * mon")
    assert [s["spec"]["text"] for s in store.subscriptions.list("C0NEWINTL1")] == [
        format_subscription(parse_subscription("status"))]
    status = await commands.run("status", Asker("U0MEMBER01", "C0NEWINTL1", Role.MEMBER))
    assert "Northwind Traders" in status.text

    # Unlinked again by an admin: gone at once, audited.
    reply = await commands.run("unlink", _asker(Role.ADMIN, "C0NEWINTL1", []))
    assert reply.text == "<#C0NEWINTL1> is no longer linked to *Northwind Traders*."
    assert live.by_channel("C0NEWINTL1") is None and store.channel_links.all() == []
    assert [e["actor"] for e in store.audit.entries("channel.unlink", "C0NEWINTL1")] == ["U0ADMIN001"]


async def test_a_shared_channel_can_only_be_linked_for_the_client_even_with_a_forged_form(setup):
    live, links, commands, store = setup
    opened: list = []
    await commands.run("link acme-shop", _asker(Role.ADMIN, "C0NEWSHRD1", opened))
    (view,) = opened
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["client"]
    forged = await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(view, "internal"), "en")
    assert "can only be a client channel" in forged["audience"] and store.channel_links.all() == []
    # A channel Slack cannot tell us about is treated the same (fail closed).
    unknown = json.loads(json.dumps(view))
    unknown["private_metadata"] = json.dumps({"channel": "C0UNKNOWN9", "account": "acme-shop"})
    assert "can only be a client channel" in (await links.submit(
        "U0ADMIN001", Role.ADMIN, _submit_view(unknown, "internal"), "en"))["audience"]
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(view, "client"), "en") is None
    assert live.by_channel("C0NEWSHRD1")[1].audience is Audience.CLIENT


async def test_channels_of_the_file_are_changed_in_the_file(setup):
    _, _, commands, _ = setup
    linked = await commands.run("link globex", _asker(Role.ADMIN, "C0ACMEINTL", []))
    assert linked.text.startswith("Dieser Channel ist in der Kontendatei mit *ACME Shop GmbH* verknüpft")
    unlinked = await commands.run("unlink", _asker(Role.ADMIN, "C0ACMEINTL", []))
    assert unlinked.text == "Dieser Channel ist in der Kontendatei mit *ACME Shop GmbH* verknüpft: Ändern Sie es dort."
    assert "direct message" in (await commands.run("link globex", _asker(Role.ADMIN, "D0DIRECT01", []))).text


def test_export_config_writes_what_check_config_accepts(tmp_path):
    from integrations.store.store import Store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store.open(url, migrate=True)
    store.channel_links.put(RuntimeLink("C0NEWINTL1", "northwind", Audience.INTERNAL, "0 9 * * mon", "U0ADMIN001", NOW))
    store.channel_links.put(RuntimeLink("C0ACMECLNT", "globex", Audience.INTERNAL, None, "U0ADMIN001", NOW))
    store.close()
    out = tmp_path / "effective.yaml"
    env = {"PULSE_ACCOUNTS_FILE": str(EXAMPLE), "DATABASE_URL": url}
    exported = _pulse("export-config", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    assert "accounts file, which wins" in exported.stderr  # the conflicting link is named, not exported
    checked = _pulse("check-config", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    effective = load_accounts(out)
    assert effective.by_channel("C0NEWINTL1")[0].key == "northwind"
    assert effective.by_channel("C0ACMECLNT")[0].key == "acme-shop"
    seed = load_accounts(EXAMPLE)
    assert isinstance(effective, AccountsConfig) and effective.by_key("acme-shop") == seed.by_key("acme-shop")


@pytest.fixture
def announced(sqlite_store):
    from bot.services.exactly_once import OncePoster
    from tests.fakes.slack import InMemorySlack

    live = load_accounts(EXAMPLE)
    shared = {"C0NEWINTL1": False, "C0NEWSHRD1": True, "C0ACMEINTL": False}
    conversations = Conversations(shared)
    audiences = ChannelAudiences(conversations, live)
    slack = InMemorySlack()

    def service(owner: str = "w1") -> LinkService:
        return LinkService(seed=load_accounts(EXAMPLE), live=live, store=sqlite_store, clock=lambda: NOW,
                           audiences=audiences, poster=OncePoster(sqlite_store, slack, lambda: NOW, owner,
                                                                  dt.timedelta(minutes=1)),
                           members=conversations, is_member=Directory(conversations, [], None).is_member)

    links = service()
    commands = CommandService(live, audiences=audiences)
    register_link_commands(commands, links)
    return links, commands, slack, sqlite_store, service, shared


async def test_a_link_is_announced_once_in_its_channel_internal_detail_only_where_internal(announced):
    links, commands, slack, store, service, shared = announced
    opened: list = []
    await commands.run("link northwind", _asker(Role.ADMIN, "C0NEWINTL1", opened))
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(opened[0], "internal", cron="0 9 * * mon",
                                                                     subscriptions="status"), "en") is None
    await links.settle()
    (notice,) = slack.in_channel("C0NEWINTL1")
    text = notice["text"]
    assert "Northwind Traders" in text and "internal channel" in text and "<@U0ADMIN001>" in text
    assert "`0 9 * * mon` (America/New_York)" in text and "status" in text
    # A restart: the pass that catches up on links a dead process did not announce repeats nothing.
    assert await service("w2").announce_recent() == 0 and len(slack.in_channel("C0NEWINTL1")) == 1

    # Unlinked: announced once, by the same rules.
    await commands.run("unlink", _asker(Role.ADMIN, "C0NEWINTL1", []))
    assert len(slack.in_channel("C0NEWINTL1")) == 2
    assert "no longer linked" not in slack.in_channel("C0NEWINTL1")[1]["text"]  # the notice, not the reply
    assert "unlinked this channel from *Northwind Traders*" in slack.in_channel("C0NEWINTL1")[1]["text"]


async def test_a_client_channel_hears_one_line_without_internal_detail_and_a_dead_process_is_caught_up(announced):
    links, commands, slack, store, service, shared = announced
    opened: list = []
    await commands.run("link acme-shop", _asker(Role.ADMIN, "C0NEWSHRD1", opened))
    poster, links._poster = links._poster, None  # the process dies before it announces (the link is stored)
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(opened[0], "client", cron="0 9 * * mon",
                                                                     subscriptions="status"), "en") is None
    await links.settle()
    assert slack.in_channel("C0NEWSHRD1") == []
    assert await service("w2").announce_recent() == 1  # the next process's pass
    (notice,) = slack.in_channel("C0NEWSHRD1")
    text = notice["text"]
    assert "ACME Shop GmbH" in text and "Account Pulse" in text  # German: the account's language
    for internal in ("U0ADMIN001", "0 9", "status", "intern", "client", "Kunde"):
        assert internal not in text, internal
    links._poster = poster
    await commands.run("unlink", _asker(Role.ADMIN, "C0NEWSHRD1", []))
    (_, gone) = slack.in_channel("C0NEWSHRD1")
    assert "ACME Shop GmbH" in gone["text"] and "U0ADMIN001" not in gone["text"]


async def test_an_internal_link_whose_channel_slack_now_calls_shared_gets_only_the_client_line(announced):
    """Linked internal, then shared with the client before the announcement: fail closed."""
    links, commands, slack, store, service, shared = announced
    opened: list = []
    await commands.run("link northwind", _asker(Role.ADMIN, "C0NEWINTL1", opened))
    links._poster = None
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submit_view(opened[0], "internal", cron="0 9 * * mon"),
                              "en") is None
    shared["C0NEWINTL1"] = True
    links._audiences.forget("C0NEWINTL1")
    assert await service("w2").announce_recent() == 1
    (notice,) = slack.in_channel("C0NEWINTL1")
    assert "U0ADMIN001" not in notice["text"] and "0 9" not in notice["text"] and "Northwind" in notice["text"]
