"""Review 3 reproductions: channel links (`/pulse link`, `/pulse unlink`, sync, export-config)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.accounts_file import load_accounts
from bot.domain.access import Role
from bot.services.channel_audiences import ChannelAudiences
from bot.services.channel_links import LinkService
from tests.test_cli import ROOT

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


