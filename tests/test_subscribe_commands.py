"""`/pulse subscribe list|add|remove` through the command service, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel, JiraScope
from bot.domain.events import EventType
from bot.domain.subscriptions import CLIENT_DEFAULT, INTERNAL_DEFAULT, parse_subscription
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
    assert empty.text.startswith("No subscriptions stored: this client channel (Acme) gets the defaults:\n"
                                 "• Issues: issue_created★, status_changed★, issue_resolved★, issue_reopened★\n")
    added = await commands.run('subscribe add status,comment_created issuetype=Bug "label=needs review"', asker(Role.ADMIN))
    # `add` adds: the defaults the channel had are stored first, so they stay (and can be removed).
    defaults, row = store.subscriptions.list("C0ACMECLI")
    spec = "comment_created,issue_reopened,issue_resolved,status_changed issuetype=Bug 'label=needs review'"
    assert added.text == (
        f"Added subscription #{row['id']}: `{spec}`\n"
        "    Issues: status_changed★, issue_resolved★, issue_reopened★\n"
        "    Comments: comment_created★\n"
        "    only when: issuetype=Bug 'label=needs review'\n"
        f"This channel keeps its defaults too, now stored as #{defaults['id']}: "
        f"`/pulse subscribe remove {defaults['id']}` to hear only what you added.\n"
        "This channel is shared with the client: what the account "
        "keeps internal (restricted comments, security-level and internal issues, logged time) is still left out.")
    assert row["spec"] == {"text": spec} and row["account_key"] == "acme" and row["created_by"] == "U0ADMIN"
    assert parse_subscription(defaults["spec"]["text"]) == CLIENT_DEFAULT
    listed = await commands.run("subscribe list", asker(Role.MEMBER))
    assert listed.text.startswith(
        f"Subscriptions of this channel (Acme):\n• #{defaults['id']} the defaults of client channels\n"
        "    Issues: issue_created★, status_changed★, issue_resolved★, issue_reopened★\n")
    assert f"\n• #{row['id']} `{spec}`\n    Issues: status_changed★" in listed.text
    removed = await commands.run(f"subscribe remove {row['id']}", asker(Role.ADMIN))
    assert removed.text == (f"Removed subscription #{row['id']}: `{spec}`.\n"
                            f"Still subscribed: #{defaults['id']} the defaults of client channels.")
    assert [r["id"] for r in store.subscriptions.list("C0ACMECLI")] == [defaults["id"]]
    audit = store.audit.recent()
    assert [(a["action"], a["actor"], a["channel_id"]) for a in audit] == [
        ("subscription.remove", "U0ADMIN", "C0ACMECLI"), ("subscription.add", "U0ADMIN", "C0ACMECLI"),
        ("subscription.add", "U0ADMIN", "C0ACMECLI")]
    assert audit[1]["details"] == {"id": row["id"], "spec": spec}
    last = await commands.run(f"subscribe remove {defaults['id']}", asker(Role.ADMIN))
    assert last.text == (f"Removed subscription #{defaults['id']}: the defaults of client channels.\n"
                         "No subscriptions left: this client channel gets its defaults again.")


async def test_add_keeps_the_defaults_so_the_channel_hears_both(store):
    from bot.domain.subscriptions import wanted
    from bot.services.inbox_worker import InboxWorker

    commands = service(store)
    await commands.run("subscribe add worklog_created", asker(Role.ADMIN, channel="C0ACMEINT"))
    stored = (await InboxWorker(store, ACCOUNTS, None)._subscriptions())["C0ACMEINT"]
    heard = {t for t in EventType if any(s.matches(_event(t)) for s in stored)}
    assert heard == set(INTERNAL_DEFAULT.events) | {EventType.WORKLOG_CREATED}
    assert wanted(_event(EventType.STATUS_CHANGED), Audience.INTERNAL, stored)


async def test_adding_what_covers_the_defaults_stores_no_defaults(store):
    commands = service(store)
    added = await commands.run("subscribe add all", asker(Role.ADMIN, channel="C0ACMEINT"))
    (row,) = store.subscriptions.list("C0ACMEINT")
    assert added.text == (f"Added subscription #{row['id']}: `all`\n"
                          "    every event, of every kind (Issues, Issue fields, Priority, Due dates, "
                          "Milestones and sprints, Comments, Logged time, Confluence)")


def _event(event_type):
    from bot.domain.events import JiraEvent

    return JiraEvent(type=event_type, webhook_event="x", project_key="ACME")


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
    defaults, row = store.subscriptions.list("C0ACMEINT")
    assert added.text == (f"Added subscription #{row['id']}: `worklog_created`\n    Logged time: worklog_created\n"
                          f"This channel keeps its defaults too, now stored as #{defaults['id']}: "
                          f"`/pulse subscribe remove {defaults['id']}` to hear only what you added.")
