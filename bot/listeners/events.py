"""@mentions: the way Slack Connect clients (who cannot run our slash commands) talk to the bot."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.services.commands import Asker

log = get_logger("pulse.mentions")
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    async def answer(event, context, say) -> None:
        text = _MENTION.sub("", event.get("text", "")).strip()
        user = event.get("user", "")
        role = await deps.directory.role(user, context.actor_team_id, home_team(context))
        # Always in a thread: a mention is a conversation, not a channel announcement.
        thread = event.get("thread_ts") or event["ts"]
        asker = Asker(user_id=user, channel_id=event["channel"], role=role, via_mention=True,
                      locale=lambda: deps.directory.locale(user), home_team=home_team(context),
                      message_ts=event["ts"], thread_ts=thread)
        reply = await deps.commands.run(text, asker)
        log.info("mention", role=role.name.lower(), text=text[:100])
        for part in (reply, *reply.more):
            if part.text or part.blocks:  # nothing more to say: the command answered in the thread itself
                await say(text=part.text, blocks=part.blocks or None, thread_ts=thread)

    async def on_mention(ack, event, context, say):
        # Events are acknowledged at once too; the answer may need Jira (see bot.listeners.answers).
        await ack()
        # The answer's task starts with a copy of this context: its lines name the request.
        with bound_contextvars(team=context.team_id, user=event.get("user"), channel=event.get("channel"),
                               command="mention"):
            deps.answers.start(answer(event, context, say), "mention answer")

    app.event("app_mention")(on_mention)

    async def on_sharing_changed(ack, event):
        # Slack says a channel's sharing changed: judge it afresh now (a newly shared internal
        # channel gets the client view from its next message on, and its admins hear of it).
        await ack()
        channel = event.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else channel  # an object in invite events
        if deps.audiences is None or not isinstance(channel_id, str):
            return
        deps.audiences.forget(channel_id)
        link = deps.audiences.linked(channel_id)
        if link is not None:
            deps.answers.start(deps.audiences.audience(*link), "sharing check", channel=channel_id)
        log.info("channel sharing changed", slack_event=event.get("type"), channel=channel_id)

    for name in ("channel_shared", "channel_unshared", "shared_channel_invite_accepted"):
        app.event(name)(on_sharing_changed)
