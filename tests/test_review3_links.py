"""Review 3 reproductions: channel links (`/pulse link`, `/pulse unlink`, sync, export-config)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from bot.accounts_file import load_accounts
from bot.domain.access import Role
from bot.domain.accounts import AccountsConfig, Audience
from bot.domain.channel_links import RuntimeLink, merge
from bot.services.channel_audiences import ChannelAudiences
from bot.services.channel_links import LinkService, link_modal
from bot.services.directory import Directory
from tests.test_cli import ROOT, _pulse

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
EXAMPLE = ROOT / "config" / "accounts.example.yaml"


class Conversations:
    def __init__(self, shared: dict[str, bool]):
        self.shared = shared

    async def conversations_info(self, *, channel: str):
        if channel not in self.shared:
            raise RuntimeError("channel_not_found")
        flag = self.shared[channel]
        return {"channel": {"id": channel, "is_ext_shared": flag, "is_shared": flag, "is_org_shared": False,
                            "is_pending_ext_shared": False}}


def _submitted(view, audience):
    return {**view, "state": {"values": {
        "audience": {"audience": {"selected_option": {"value": audience}}},
        "schedule": {"schedule": {"value": ""}}, "subscriptions": {"subscriptions": {"value": ""}}}}}


# --- LEAK: `@Account Pulse link` in a (Slack Connect) channel lists every client's account key ---

@pytest.mark.parametrize("text", ["link", "link acme"])
async def test_link_usage_by_mention_in_a_shared_channel_names_the_other_clients(sqlite_store, text):
    """Review 3 #8 (LEAK): the usage hint of `link` listed every account key (the agency's clients)
    in a mention's public thread answer."""
    from bot.services.channel_links import register_link_commands
    from bot.services.commands import Asker, CommandService

    live = load_accounts(EXAMPLE)
    audiences = ChannelAudiences(Conversations({"C0NEWSHRD1": True}), live)
    links = LinkService(seed=live.model_copy(deep=True), live=live, store=sqlite_store, clock=lambda: NOW,
                        audiences=audiences)
    commands = CommandService(live, audiences=audiences)
    register_link_commands(commands, links)
    # An admin, in the new Slack Connect channel with a client, asks the bot by mention (the answer is
    # posted in a thread for everyone there, the client's people included).
    asker = Asker("U0ADMIN001", "C0NEWSHRD1", Role.ADMIN, via_mention=True, message_ts="1.1", thread_ts="1.1")
    reply = await commands.run(text, asker)
    assert "globex" not in reply.text and "northwind" not in reply.text, reply.text
    assert "`/pulse link <account>`" in reply.text  # what to do instead: the slash form
    # Control: the slash command's answer is ephemeral (the admin's alone): the keys help there.
    slash = await commands.run(text, Asker("U0ADMIN001", "C0NEWSHRD1", Role.ADMIN))
    assert "`globex`" in slash.text and "`northwind`" in slash.text and not slash.public




def _submitted(view, audience, subscriptions=""):
    return {**view, "state": {"values": {
        "audience": {"audience": {"selected_option": {"value": audience}}},
        "schedule": {"schedule": {"value": ""}}, "subscriptions": {"subscriptions": {"value": subscriptions}}}}}


class Slack(Conversations):
    """conversations.info/members, users.info, auth.test, usergroups.users.list of one workspace:
    `guests` are our workspace's guests (client people), everyone else a full member."""

    def __init__(self, shared: dict[str, bool], members: dict[str, list[str]] | None = None,
                 guests: frozenset[str] = frozenset(), members_fail: bool = False):
        super().__init__(shared)
        self.members = members or {}
        self.guests = guests
        self.members_fail = members_fail
        self.group = ["U0ADMIN001"]

    async def conversations_members(self, *, channel: str, **_):
        if self.members_fail:
            raise RuntimeError("ratelimited")
        return {"members": self.members.get(channel, ["U0ADMIN001"]), "response_metadata": {"next_cursor": ""}}

    async def users_info(self, *, user: str, **_):
        guest = user in self.guests
        return {"user": {"id": user, "team_id": "T0AGENCY", "is_restricted": guest, "is_ultra_restricted": guest}}

    async def auth_test(self):
        return {"team_id": "T0AGENCY"}

    async def usergroups_users_list(self, *, usergroup: str):
        return {"users": list(self.group)}


def _service(store, slack, live=None):
    from bot.services.channel_links import register_link_commands
    from bot.services.commands import CommandService

    live = live or load_accounts(EXAMPLE)
    directory = Directory(slack, admins=[], admin_usergroup="S0ADMINS1")

    async def role_now(user, home):
        return await directory.role(user, None, home, fresh=True)

    audiences = ChannelAudiences(slack, live)
    links = LinkService(seed=live.model_copy(deep=True), live=live, store=store, clock=lambda: NOW, audiences=audiences,
                        members=slack, is_member=directory.is_member, role_now=role_now)
    commands = CommandService(live, audiences=audiences)
    register_link_commands(commands, links)
    return live, links, commands, directory


def _opener(opened):
    async def open_view(view):
        opened.append(view)
        return True

    return open_view


# --- #6 CRASH: a link whose channel id is not a channel id bricked sync, start-up and export-config

async def test_a_tampered_channel_id_in_private_metadata_is_stored_and_then_breaks_every_sync(sqlite_store):
    """Review 3 #6 (CRASH), reviewer's reproduction: the form's channel comes from private_metadata;
    a value that is no channel id was stored, and every sync after raised."""
    live = load_accounts(EXAMPLE)
    audiences = ChannelAudiences(Conversations({}), live)  # Slack does not know the "channel": UNKNOWN -> client allowed
    links = LinkService(seed=live.model_copy(deep=True), live=live, store=sqlite_store, clock=lambda: NOW,
                        audiences=audiences)
    for forged in ("general", "D0DIRECT01", "C" + "0" * 40, "c0lower001"):
        view = link_modal(live.by_key("northwind"), "C0NEWINTL1", (Audience.CLIENT,), "en")
        view["private_metadata"] = json.dumps({"channel": forged, "account": "northwind"})
        errors = await links.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "client"), "en")
        assert errors == {"audience": "This form names no channel I can link. Run `/pulse link <account>` in the channel "
                                      "again."}, forged
    assert sqlite_store.channel_links.all() == []
    assert sqlite_store.audit.recent() == []
    LinkService(seed=load_accounts(EXAMPLE), live=load_accounts(EXAMPLE), store=sqlite_store,
                clock=lambda: NOW).sync()


async def test_one_bad_stored_link_costs_only_itself_on_sync(sqlite_store):
    """Review 3 #6: a row no version should have written (by hand, an older bug) is skipped with a
    note; the other runtime links still apply, so start-up and the sync loop go on."""
    sqlite_store.channel_links.put(RuntimeLink("general", "northwind", Audience.CLIENT, None, "U0ADMIN001", NOW))
    sqlite_store.channel_links.put(RuntimeLink("C0NEWINTL1", "globex", Audience.INTERNAL, "bad cron", "U0ADMIN001", NOW))
    sqlite_store.channel_links.put(RuntimeLink("C0NEWCLNT1", "northwind", Audience.CLIENT, None, "U0ADMIN001", NOW))
    seed = load_accounts(EXAMPLE)
    links = LinkService(seed=seed, live=seed.model_copy(deep=True), store=sqlite_store, clock=lambda: NOW)
    links.sync()
    assert links.live.by_channel("C0NEWCLNT1")[0].key == "northwind"
    assert links.live.by_channel("C0NEWINTL1") is None
    _, notes = merge(seed, sqlite_store.channel_links.all())
    assert len(notes) == 2 and all("cannot be used and is ignored" in n for n in notes)


def test_export_config_survives_a_bad_runtime_row(tmp_path):
    """Review 3 #6: `pulse export-config` gave a traceback on one bad row; now a note, and a file
    check-config accepts."""
    from integrations.store.store import Store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = Store.open(url, migrate=True)
    store.channel_links.put(RuntimeLink("general", "northwind", Audience.CLIENT, None, "U0ADMIN001", NOW))
    store.close()
    out = tmp_path / "effective.yaml"
    exported = _pulse("export-config", str(out), env={"PULSE_ACCOUNTS_FILE": str(EXAMPLE), "DATABASE_URL": url})
    assert exported.returncode == 0, exported.stderr[-600:]
    assert "'general'" in exported.stderr and "cannot be used" in exported.stderr
    assert load_accounts(out).by_channel("C0ACMEINTL") is not None


# --- #5 LEAK-prone: a link the file overrode came back when the file dropped the channel ------------

async def test_a_channel_unlinked_in_the_file_after_export_is_not_silently_linked_again(sqlite_store):
    """Review 3 #5, reviewer's reproduction: links made in Slack, `pulse export-config` adopted as the
    new accounts file, later the channel removed from the file — the only way to unlink it, since
    `/pulse unlink` refuses channels of the file. The old runtime row, kept dormant while the file had
    the channel, linked it again. Now the first sync with the file retires the row (audited, logged)."""
    seed = load_accounts(EXAMPLE)
    sqlite_store.channel_links.put(RuntimeLink("C0NEWINTL1", "northwind", Audience.INTERNAL, None, "U0ADMIN001", NOW))
    sqlite_store.subscriptions.add("C0NEWINTL1", "northwind", {"text": "status"}, "U0ADMIN001", NOW)
    adopted, _ = merge(seed, sqlite_store.channel_links.all())  # export-config's output, now the file
    adopted = AccountsConfig.model_validate(adopted.model_dump(mode="json"))
    live = adopted.model_copy(deep=True)
    links = LinkService(seed=adopted, live=live, store=sqlite_store, clock=lambda: NOW)
    links.sync()
    from bot.services.channel_links import register_link_commands
    from bot.services.commands import Asker, CommandService

    commands = CommandService(live)
    register_link_commands(commands, links)
    refused = await commands.run("unlink", Asker("U0ADMIN001", "C0NEWINTL1", Role.ADMIN))
    assert "change it there" in refused.text  # so the admin removes it from the file
    edited = adopted.model_copy(update={"accounts": [
        a.model_copy(update={"channels": [c for c in a.channels if c.id != "C0NEWINTL1"]}) for a in adopted.accounts]})
    restarted = LinkService(seed=edited, live=edited.model_copy(deep=True), store=sqlite_store, clock=lambda: NOW)
    restarted.sync()
    assert restarted.live.by_channel("C0NEWINTL1") is None
    assert sqlite_store.channel_links.all() == []
    (entry,) = sqlite_store.audit.entries("channel.link_retired", "C0NEWINTL1")
    assert (entry["actor"], entry["account_key"], entry["details"]["file_account"]) == ("accounts-file", "northwind",
                                                                                         "northwind")
    # The file's account is the same: its subscriptions stay with the channel.
    assert entry["details"]["subscriptions_removed"] == [] and sqlite_store.subscriptions.list("C0NEWINTL1")


def test_a_runtime_link_the_file_gives_to_another_client_is_retired_with_its_subscriptions(sqlite_store):
    """Review 3 #5: the file now gives the channel to another account: the runtime row and the old
    account's subscriptions go (audited once, even with two processes syncing)."""
    seed = load_accounts(EXAMPLE)
    sqlite_store.channel_links.put(RuntimeLink("C0ACMEINTL", "globex", Audience.INTERNAL, None, "U0ADMIN001", NOW))
    sqlite_store.subscriptions.add("C0ACMEINTL", "globex", {"text": "comment_created"}, "U0ADMIN001", NOW)
    sqlite_store.subscriptions.add("C0ACMEINTL", "acme-shop", {"text": "status"}, "U0ADMIN001", NOW)
    for _process in range(2):
        LinkService(seed=seed, live=seed.model_copy(deep=True), store=sqlite_store, clock=lambda: NOW).sync()
    assert sqlite_store.channel_links.all() == []
    assert [s["account_key"] for s in sqlite_store.subscriptions.list("C0ACMEINTL")] == ["acme-shop"]
    (entry,) = sqlite_store.audit.entries("channel.link_retired", "C0ACMEINTL")
    assert [s["account"] for s in entry["details"]["subscriptions_removed"]] == ["globex"]


# --- #9: a private channel with a client guest was proposed (preselected) as internal ---------------

async def test_a_channel_with_a_guest_is_not_offered_as_internal(sqlite_store):
    """Review 3 #9, reviewer's reproduction (with the members check wired): conversations.info says
    not shared (a guest is no other organization), a single-channel guest is a member."""
    from bot.services.commands import Asker

    slack = Slack({"C0GUESTCH1": False}, members={"C0GUESTCH1": ["U0ADMIN001", "U0GUEST001"]},
                  guests=frozenset({"U0GUEST001"}))
    _, links, commands, _ = _service(sqlite_store, slack)
    opened: list = []
    await commands.run("link northwind", Asker("U0ADMIN001", "C0GUESTCH1", Role.ADMIN, open_view=_opener(opened)))
    (view,) = opened
    options = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert options == ["client"], options
    # A form that says `internal` anyway (replayed from before the guest came, or forged): refused.
    forged = await links.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "internal"), "en", "T0AGENCY")
    assert "can only be a client channel" in forged["audience"] and sqlite_store.channel_links.all() == []


async def test_members_slack_cannot_tell_about_make_a_client_channel_and_ours_alone_may_be_internal(sqlite_store):
    """Review 3 #9, fail closed + control: members Slack cannot list -> client only; a channel of
    full members only -> internal proposed."""
    from bot.services.commands import Asker

    for slack, expected in ((Slack({"C0NEWINTL1": False}, members_fail=True), ["client"]),
                            (Slack({"C0NEWINTL1": False}), ["internal", "client"])):
        _, _, commands, _ = _service(sqlite_store, slack)
        opened: list = []
        await commands.run("link northwind", Asker("U0ADMIN001", "C0NEWINTL1", Role.ADMIN, open_view=_opener(opened)))
        assert [o["value"] for o in opened[0]["blocks"][1]["element"]["options"]] == expected


# --- #7 AUTHZ: an admin removed from the admin user group kept the rights for 10 minutes -------------

async def test_an_admin_removed_from_the_group_can_still_submit_the_link_form(sqlite_store):
    """Review 3 #7: the directory caches the admins' group for 10 minutes; a write (the link form's
    submission, `/pulse unlink`) asks Slack again."""
    from bot.services.commands import Asker

    slack = Slack({"C0NEWINTL1": False})
    live, links, commands, directory = _service(sqlite_store, slack)
    opened: list = []
    role = await directory.role("U0ADMIN001", "T0AGENCY", "T0AGENCY")
    assert role is Role.ADMIN  # /pulse link opens the form
    await commands.run("link northwind", Asker("U0ADMIN001", "C0NEWINTL1", role, open_view=_opener(opened)))
    slack.group = []  # removed from the admins' group
    assert await directory.role("U0ADMIN001", "T0AGENCY", "T0AGENCY") is Role.ADMIN  # the cache still says so
    assert await directory.role("U0ADMIN001", "T0AGENCY", "T0AGENCY", fresh=True) is Role.MEMBER
    refused = await links.submit("U0ADMIN001", Role.ADMIN, _submitted(opened[0], "internal"), "en", "T0AGENCY")
    assert refused == {"audience": "Only agency admins may link channels."} and sqlite_store.channel_links.all() == []
    # Unlink likewise: linked while still in the group, refused once out of it.
    slack.group = ["U0ADMIN001"]
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submitted(opened[0], "internal"), "en", "T0AGENCY") is None
    slack.group = []
    asker = Asker("U0ADMIN001", "C0NEWINTL1", Role.ADMIN, home_team="T0AGENCY")
    refused = await commands.run("unlink", asker)
    assert refused.text == "Only agency admins may unlink channels." and live.by_channel("C0NEWINTL1") is not None


# --- #4: the account word was echoed raw -------------------------------------------------------------

async def test_an_unknown_account_word_is_echoed_unescaped(sqlite_store):
    """Review 3 #4: `link <!channel>` echoed the word unescaped (by mention: a broadcast from the bot)."""
    from bot.services.channel_links import register_link_commands
    from bot.services.commands import Asker, CommandService

    live = load_accounts(EXAMPLE)
    links = LinkService(seed=live.model_copy(deep=True), live=live, store=sqlite_store, clock=lambda: NOW)
    commands = CommandService(live)
    register_link_commands(commands, links)
    for via_mention in (True, False):
        reply = await commands.run("link <!channel>", Asker("U0ADMIN001", "C0NEWINTL1", Role.ADMIN, via_mention=via_mention))
        assert "<!channel>" not in reply.text, reply.text
    assert "&lt;!channel&gt;" in reply.text  # the slash form names it, escaped


# --- #10: unlink left the channel's subscriptions; a relink inherited them ----------------------------

async def test_unlink_then_relink_to_another_account_starts_without_the_old_subscriptions(sqlite_store):
    """Review 3 #10, reviewer's reproduction: unlink now removes the channel's subscriptions in the
    same transaction, named in its audit entry."""
    from bot.services.commands import Asker

    live, links, commands, _ = _service(sqlite_store, Slack({"C0NEWINTL1": False}))
    view = link_modal(live.by_key("northwind"), "C0NEWINTL1", (Audience.INTERNAL, Audience.CLIENT), "en")
    form = _submitted(view, "internal", subscriptions="status,comment_created")
    assert await links.submit("U0ADMIN001", Role.ADMIN, form, "en", "T0AGENCY") is None
    await commands.run("unlink", Asker("U0ADMIN001", "C0NEWINTL1", Role.ADMIN, home_team="T0AGENCY"))
    (entry,) = sqlite_store.audit.entries("channel.unlink", "C0NEWINTL1")
    assert entry["actor"] == "U0ADMIN001" and [s["account"] for s in entry["details"]["subscriptions_removed"]] == [
        "northwind"]
    view = link_modal(live.by_key("globex"), "C0NEWINTL1", (Audience.INTERNAL, Audience.CLIENT), "en")
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "client"), "en", "T0AGENCY") is None
    assert sqlite_store.subscriptions.list("C0NEWINTL1") == [], sqlite_store.subscriptions.list("C0NEWINTL1")


# --- #13: link, subscription and audit entry were separate transactions ------------------------------

async def test_a_crash_after_storing_the_link_leaves_it_unaudited_and_without_its_subscription(sqlite_store):
    """Review 3 #13: the database fails while storing the subscription (a trigger stands in for a
    crash or a lost connection): nothing of the link is left, and the admin's retry links it whole."""
    import sqlalchemy as sa

    live, links, _, _ = _service(sqlite_store, Slack({"C0NEWINTL1": False}))
    view = link_modal(live.by_key("northwind"), "C0NEWINTL1", (Audience.INTERNAL, Audience.CLIENT), "en")
    form = _submitted(view, "internal", subscriptions="status")
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TRIGGER killed BEFORE INSERT ON subscriptions BEGIN "
                             "SELECT RAISE(ABORT, 'process killed'); END"))
    try:
        await links.submit("U0ADMIN001", Role.ADMIN, form, "en", "T0AGENCY")
    except Exception:  # noqa: BLE001 - either way: nothing may be left behind
        pass
    assert sqlite_store.channel_links.all() == [] and sqlite_store.audit.recent() == []
    assert live.by_channel("C0NEWINTL1") is None
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER killed"))
    assert await links.submit("U0ADMIN001", Role.ADMIN, form, "en", "T0AGENCY") is None
    assert len(sqlite_store.channel_links.all()) == 1
    assert sqlite_store.audit.entries("channel.link", "C0NEWINTL1") and sqlite_store.subscriptions.list("C0NEWINTL1")


# --- #12: after an unlink + relink to another client, other processes kept the old account ---------

@pytest.mark.parametrize("refreshed", [False, True])
async def test_a_relink_to_another_client_reaches_the_other_processes_at_once(sqlite_store, refreshed):
    """Review 3 #12: process 1 corrects a mis-link (C0SHARED01 was alpha's, is beta's Slack Connect
    channel). Process 2's inbox worker syncs the links before it routes a batch, so alpha's next
    issue is not posted into beta's channel there; without the refresh (the old code: only the 60 s
    background sync) it was."""
    from bot.services.commands import Asker
    from bot.services.inbox_worker import InboxWorker, WorkerSettings
    from tests.fakes.slack import InMemorySlack
    from tests.test_inbox_worker import ACCOUNTS, PIN, SITES, add
    from tests.test_inbox_worker import NOW as WORKER_NOW

    sqlite_store.channel_links.put(RuntimeLink("C0SHARED01", "alpha", Audience.CLIENT, None, "U0ADMIN001", NOW))
    p1_live, p2_live = ACCOUNTS.model_copy(deep=True), ACCOUNTS.model_copy(deep=True)
    slack = Slack({"C0SHARED01": True})
    p1 = LinkService(seed=ACCOUNTS, live=p1_live, store=sqlite_store, clock=lambda: NOW,
                     audiences=ChannelAudiences(slack, p1_live))
    p2 = LinkService(seed=ACCOUNTS, live=p2_live, store=sqlite_store, clock=lambda: NOW)
    p1.sync(), p2.sync()
    assert p2_live.by_channel("C0SHARED01")[0].key == "alpha"
    await p1.unlink_command(None, Asker("U0ADMIN001", "C0SHARED01", Role.ADMIN), *p1_live.by_channel("C0SHARED01"))
    view = link_modal(p1_live.by_key("beta"), "C0SHARED01", (Audience.CLIENT,), "en")
    assert await p1.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "client"), "en") is None

    async def refresh():
        await asyncio.to_thread(p2.sync)

    posted = InMemorySlack()
    worker = InboxWorker(sqlite_store, p2_live, posted, None, clock=lambda: WORKER_NOW, settings=WorkerSettings(),
                         links=SITES, refresh_links=refresh if refreshed else None)
    add(sqlite_store, f"{PIN}/jira:issue_created.json", "d-1")  # GOLD-189: alpha's
    await worker.run_once()
    channels = {m["channel"] for m in posted.messages}
    assert {"C0ALPHA01", "C0ALPHA02"} <= channels
    assert ("C0SHARED01" in channels) is not refreshed


async def test_a_well_shaped_channel_id_slack_does_not_confirm_is_not_linked(sqlite_store):
    """Review 3 #6: beyond its shape, the form's channel must be one conversations.info confirms
    (another id put into the form, a channel the bot is not in, Slack down): nothing stored, the
    admin told what to do; once Slack confirms it, the same form links it."""
    slack = Slack({})
    live, links, _, _ = _service(sqlite_store, slack)
    view = link_modal(live.by_key("northwind"), "C0FORGED01", (Audience.CLIENT,), "en")
    refused = await links.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "client"), "en", "T0AGENCY")
    assert refused == {"audience": "Slack does not confirm this channel just now (is the bot in it?). Invite the bot "
                                   "or try again in a minute."}
    assert sqlite_store.channel_links.all() == [] and sqlite_store.audit.recent() == []
    slack.shared["C0FORGED01"] = True  # the bot invited: Slack knows it (shared: client only)
    assert await links.submit("U0ADMIN001", Role.ADMIN, _submitted(view, "client"), "en", "T0AGENCY") is None
    assert live.by_channel("C0FORGED01")[0].key == "northwind"
