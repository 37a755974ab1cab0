"""`/pulse subscribe list|add|remove`: what a channel hears about; every change is audited.

Agency members may list, admins may add and remove; external people (Slack Connect, guests)
never reach these commands (their role is below MEMBER). Stored specs are the text
`format_subscription` writes, so the worker reads them back with `parse_subscription`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shlex
from collections.abc import Callable

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.audience import worklog_amounts_visible
from bot.domain.commands import CommandSpec, Invocation, UsageError
from bot.domain.subscriptions import (
    Subscription,
    SubscriptionSyntaxError,
    covers,
    defaults_for,
    format_subscription,
    parse_subscription,
)
from bot.domain.words import CommandRef, sentence
from bot.render.i18n import translate
from bot.render.subscriptions import render_added, render_list, render_removed
from bot.services.commands import Asker, CommandService, Reply
from integrations.store.store import Store

SUBSCRIBE_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("subscribe", "list"), "summary.subscribe.list", min_role=Role.MEMBER, needs_account=True),
    CommandSpec(
        ("subscribe", "add"), "summary.subscribe.add", args="args.events_filters", min_role=Role.ADMIN, needs_account=True,
    ),
    CommandSpec(("subscribe", "remove"), "summary.subscribe.remove", args="args.id", min_role=Role.ADMIN, needs_account=True),
)


class SubscriptionCommands:
    """Handlers for the three subcommands, over the store's subscriptions and audit log."""

    def __init__(self, store: Store, accounts: AccountsConfig, clock: Callable[[], dt.datetime]):
        self.store = store
        self.accounts = accounts
        self.clock = clock

    async def _rows(self, channel_id: str) -> list[tuple[int, Subscription]]:
        rows = await asyncio.to_thread(self.store.subscriptions.list, channel_id)
        parsed = []
        for row in rows:
            try:
                parsed.append((row["id"], parse_subscription(row["spec"]["text"])))
            except (SubscriptionSyntaxError, KeyError, TypeError):
                continue  # the worker skips it too (and logs it)
        return parsed

    async def list(self, _inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        return Reply(render_list(account.name, channel.audience, await self._rows(channel.id), asker.voice()))

    async def _store(self, asker: Asker, account: Account, channel: Channel, subscription: Subscription) -> int:
        text = format_subscription(subscription)
        now = self.clock()
        sub_id = await asyncio.to_thread(
            self.store.subscriptions.add, channel.id, account.key, {"text": text}, asker.user_id, now
        )
        await asyncio.to_thread(
            self.store.audit.record, asker.user_id, "subscription.add", now,
            account_key=account.key, channel_id=channel.id, details={"id": sub_id, "spec": text},
        )
        return sub_id

    async def add(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        subscription = parse_subscription(shlex.join(inv.args))  # SubscriptionSyntaxError is a UsageError
        defaults_id = None
        if not await self._rows(channel.id):
            # A channel without stored subscriptions hears its defaults; the first one stored would
            # replace them, so they are stored first: `add` adds, and they can be removed by id.
            defaults = defaults_for(channel.audience)
            if not all(covers(subscription, d) for d in defaults):
                for default in defaults:
                    defaults_id = await self._store(asker, account, channel, default)
        sub_id = await self._store(asker, account, channel, subscription)
        reply = render_added(sub_id, subscription, channel.audience, defaults_id, asker.voice())
        if channel.audience is Audience.CLIENT:
            # Subscribing widens what the channel hears about, never what a client may see.
            note = ("subscribe.client_note" if worklog_amounts_visible(Audience.CLIENT, account)
                    else "subscribe.client_note_hours")
            reply += "\n" + translate(asker.language, note)
        return Reply(reply)

    async def remove(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        assert account is not None and channel is not None
        if len(inv.args) != 1 or not inv.args[0].lstrip("#").isdigit():
            raise UsageError(sentence("subscribe.remove_usage", command=CommandRef(("subscribe", "remove"), "args.id"),
                                  list=CommandRef(("subscribe", "list"))))
        sub_id = int(inv.args[0].lstrip("#"))
        before = dict(await self._rows(channel.id))
        removed = await asyncio.to_thread(self.store.subscriptions.remove, channel.id, sub_id)
        if not removed:
            raise UsageError(sentence("subscribe.no_such", id=sub_id, list=CommandRef(("subscribe", "list"))))
        now = self.clock()
        await asyncio.to_thread(
            self.store.audit.record, asker.user_id, "subscription.remove", now,
            account_key=account.key, channel_id=channel.id, details={"id": sub_id},
        )
        remaining = [(i, s) for i, s in before.items() if i != sub_id]
        if sub_id not in before:  # stored but unreadable: nothing to describe
            return Reply(translate(asker.language, "subscribe.removed_unreadable", id=sub_id))
        return Reply(render_removed(sub_id, before[sub_id], channel.audience, remaining, asker.language))


def register_subscribe_commands(
    command_service: CommandService, store: Store, accounts: AccountsConfig, clock: Callable[[], dt.datetime]
) -> SubscriptionCommands:
    """Add `/pulse subscribe list|add|remove` to the command service."""
    handlers = SubscriptionCommands(store, accounts, clock)
    list_spec, add_spec, remove_spec = SUBSCRIBE_COMMANDS
    command_service.add(list_spec, handlers.list)
    command_service.add(add_spec, handlers.add)
    command_service.add(remove_spec, handlers.remove)
    return handlers


__all__ = ["SUBSCRIBE_COMMANDS", "SubscriptionCommands", "register_subscribe_commands"]
