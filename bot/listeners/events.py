"""@mentions: the way Slack Connect clients (who cannot run our slash commands) talk to the bot."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.services.commands import Asker

log = get_logger("pulse.mentions")
_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
# A recorded mention's kind, and what is kept of its event (what the answer reads).
MENTION = "mention"
_KEPT = ("type", "channel", "ts", "thread_ts", "user", "text", "team", "user_team")


def _mention_key(event: dict[str, Any]) -> str:
    """The Slack message (not the event id): a retry or a second delivery of it is the same request."""
    return f"{event.get('channel')}:{event.get('ts')}"


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    async def answer(event: dict[str, Any], actor_team: str | None, home: str | None,
                     say: Callable[..., Awaitable[Any]]) -> None:
        text = _MENTION.sub("", event.get("text", "")).strip()
        user = event.get("user", "")
        role = await deps.directory.role(user, actor_team, home)
        # Always in a thread: a mention is a conversation, not a channel announcement.
        thread = event.get("thread_ts") or event["ts"]
        asker = Asker(user_id=user, channel_id=event["channel"], role=role, via_mention=True,
                      locale=lambda: deps.directory.locale(user), home_team=home,
                      message_ts=event["ts"], thread_ts=thread)
        reply = await deps.commands.run(text, asker)
        log.info("mention", role=role.name.lower(), text=text[:100])
        for part in (reply, *reply.more):
            if part.text or part.blocks:  # nothing more to say: the command answered in the thread itself
                await say(text=part.text, blocks=part.blocks or None, thread_ts=thread)

    async def answer_recorded(event: dict[str, Any], actor_team: str | None, home: str | None,
                              say: Callable[..., Awaitable[Any]]) -> None:
        await answer(event, actor_team, home, say)
        assert deps.intents is not None
        await deps.intents.settle(MENTION, _mention_key(event))

    async def recovered(payload: dict[str, Any]) -> None:
        # A recorded request whose process died before it was answered (see bot.services.slack_intents).
        event = payload["event"]

        async def say(**message: Any) -> None:
            await app.client.chat_postMessage(channel=event["channel"], **message)

        with bound_contextvars(user=event.get("user"), channel=event.get("channel"), command="mention (recovered)"):
            await answer(event, payload.get("actor_team"), payload.get("home_team"), say)

    if deps.intents is not None:
        deps.intents.handle(MENTION, recovered)

    async def on_mention(ack, event, context, say):
        actor_team, home = context.actor_team_id, home_team(context)
        work = answer
        if deps.intents is not None and deps.commands.is_free_text(_MENTION.sub("", event.get("text", "")).strip()):
            # A support request: stored before Slack hears it arrived (Slack does not send an
            # acknowledged event again). A failure to store raises: no ack, Slack retries.
            payload = {"event": {k: event.get(k) for k in _KEPT}, "actor_team": actor_team, "home_team": home}
            if not await deps.intents.record(MENTION, _mention_key(event), payload):
                await ack()  # Slack's retry of a request recorded already: the first delivery answers it
                log.info("mention seen before", channel=event.get("channel"), ts=event.get("ts"))
                return
            work = answer_recorded
        # Events are acknowledged at once too; the answer may need Jira (see bot.listeners.answers).
        await ack()
        # The answer's task starts with a copy of this context: its lines name the request.
        with bound_contextvars(team=context.team_id, user=event.get("user"), channel=event.get("channel"),
                               command="mention"):
            deps.answers.start(work(event, actor_team, home, say), "mention answer")

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
