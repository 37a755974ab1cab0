"""Thin Bolt adapters: ack first, work out who asked, call a service, answer."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import channel_links, commands, events, handover, portfolio, support
from bot.listeners.deps import ListenerDeps


def register_all(app: AsyncApp, deps: ListenerDeps) -> None:
    """Attach every listener to the Bolt app."""
    commands.register(app, deps)
    events.register(app, deps)
    portfolio.register(app, deps)
    support.register(app, deps)
    channel_links.register(app, deps)
    handover.register(app, deps)
