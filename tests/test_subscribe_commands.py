"""`/pulse subscribe list|add|remove` through the command service, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.services.commands import Asker, CommandService
from bot.services.subscriptions import register_subscribe_commands

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
ACME = Account(
    key="acme", name="Acme", timezone="Europe/Berlin", jira=JiraScope(projects=["ACME"]),
    channels=[Channel(id="C0ACMECLI", audience=Audience.CLIENT), Channel(id="C0ACMEINT", audience=Audience.INTERNAL)],
)
ACCOUNTS = AccountsConfig(accounts=[ACME])


def service(store) -> CommandService:
    commands = CommandService(ACCOUNTS)
    register_subscribe_commands(commands, store, ACCOUNTS, lambda: NOW)
    return commands


def asker(role: Role, channel: str = "C0ACMECLI") -> Asker:
    return Asker(user_id="U0ADMIN", channel_id=channel, role=role)


async def test_add_list_remove_with_audit(store):
    commands = service(store)
    empty = await commands.run("subscribe list", asker(Role.MEMBER))
    assert empty.text.startswith("No subscriptions stored: this client channel gets the defaults:")
    added = await commands.run('subscribe add status,comment_created issuetype=Bug "label=needs review"', asker(Role.ADMIN))
    (row,) = store.subscriptions.list("C0ACMECLI")
    spec = "comment_created,issue_reopened,issue_resolved,status_changed issuetype=Bug 'label=needs review'"
    assert added.text == (
        f"Added subscription #{row['id']}: `{spec}`\nThis channel is shared with the client: what the account "
        "keeps internal (restricted comments, security-level and internal issues, logged time) is still left out.")
    assert row["spec"] == {"text": spec} and row["account_key"] == "acme" and row["created_by"] == "U0ADMIN"
    listed = await commands.run("subscribe list", asker(Role.MEMBER))
    assert listed.text == f"Subscriptions of this channel (Acme):\n• #{row['id']} `{spec}`"
    removed = await commands.run(f"subscribe remove {row['id']}", asker(Role.ADMIN))
    assert removed.text == f"Removed subscription #{row['id']}."
    assert store.subscriptions.list("C0ACMECLI") == []
    audit = store.audit.recent()
    assert [(a["action"], a["actor"], a["channel_id"]) for a in audit] == [
        ("subscription.remove", "U0ADMIN", "C0ACMECLI"), ("subscription.add", "U0ADMIN", "C0ACMECLI")]
    assert audit[1]["details"] == {"id": row["id"], "spec": spec}


async def test_members_cannot_change_and_externals_cannot_even_list(store):
    commands = service(store)
    member = await commands.run("subscribe add all", asker(Role.MEMBER))
    assert member.text == "`/pulse subscribe add <events> [filters]` is for agency admins only."
    external = await commands.run("subscribe list", asker(Role.EXTERNAL))
    assert external.text == "`/pulse subscribe list` is for agency members only."
    assert store.subscriptions.list() == [] and store.audit.recent() == []


async def test_bad_input_gets_usage_and_changes_nothing(store):
    commands = service(store)
    typo = await commands.run("subscribe add status_chnged", asker(Role.ADMIN))
    assert typo.text.startswith("I don't know the event `status_chnged`. Did you mean `status_changed`?")
    assert "Usage: `/pulse subscribe add <events>" in typo.text
    none = await commands.run("subscribe add", asker(Role.ADMIN))
    assert none.text.startswith("Which events?")
    bad_id = await commands.run("subscribe remove x", asker(Role.ADMIN))
    assert bad_id.text == "Usage: `/pulse subscribe remove <id>` (the ids are in `/pulse subscribe list`)."
    unknown = await commands.run("subscribe remove 99", asker(Role.ADMIN))
    assert unknown.text == "This channel has no subscription #99. See `/pulse subscribe list`."
    unlinked = await commands.run("subscribe list", asker(Role.ADMIN, channel="C0OTHER01"))
    assert unlinked.text.startswith("This channel is not linked to an account yet.")
    assert store.subscriptions.list() == [] and store.audit.recent() == []


async def test_another_channels_subscription_cannot_be_removed_from_here(store):
    commands = service(store)
    await commands.run("subscribe add all", asker(Role.ADMIN, channel="C0ACMEINT"))
    (row,) = store.subscriptions.list()
    reply = await commands.run(f"subscribe remove {row['id']}", asker(Role.ADMIN, channel="C0ACMECLI"))
    assert reply.text == f"This channel has no subscription #{row['id']}. See `/pulse subscribe list`."
    assert len(store.subscriptions.list()) == 1


async def test_adding_to_an_internal_channel_needs_no_client_reminder(store):
    added = await service(store).run("subscribe add worklog_created", asker(Role.ADMIN, channel="C0ACMEINT"))
    (row,) = store.subscriptions.list("C0ACMEINT")
    assert added.text == f"Added subscription #{row['id']}: `worklog_created`"
