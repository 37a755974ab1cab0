"""`/pulse …` slash commands."""

from __future__ import annotations

import hashlib
from typing import Any

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.listeners.answers import respond
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.services.commands import Asker

log = get_logger("pulse.commands")


def home_team(context) -> str | None:
    """The team that installed the app (Slack Connect users come from other teams)."""
    result = context.authorize_result
    return (result.team_id if result else None) or context.team_id


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    async def answer(command: dict[str, Any], actor_team: str | None, home: str | None, client: Any) -> None:
        role = await deps.directory.role(command["user_id"], actor_team, home)
        async def open_view(view: dict) -> bool:
            try:
                await client.views_open(trigger_id=command.get("trigger_id", ""), view=view)
                return True
            except Exception:
                log.warning("views.open failed", exc_info=True)
                return False

        asker = Asker(user_id=command["user_id"], channel_id=command["channel_id"], role=role,
                      locale=lambda: deps.directory.locale(command["user_id"]), home_team=home,
                      open_view=open_view, request_key=_command_key(command))
        reply = await deps.commands.run(command.get("text", ""), asker)
        log.info(
            "command",
            role=role.name.lower(),
            text=command.get("text", "")[:100],
            public=reply.public,
        )
        for part in (reply, *reply.more):
            if not (part.text or part.blocks):
                continue  # nothing to say (a request answered before a restart, answered again)
            await respond(
                client,
                command["response_url"],
                text=part.text,
                blocks=part.blocks or None,
                response_type="in_channel" if part.public else "ephemeral",
            )

    async def on_pulse(ack, command, context, client):
        actor, home = context.actor_team_id, home_team(context)
        key = _command_key(command)
        recorded = None
        if deps.intents is not None and key and deps.commands.is_free_text(command.get("text", "")):
            # A support request: stored before Slack hears it arrived (bot.services.slack_intents).
            recorded = await deps.intents.record(COMMAND, key, {"command": dict(command), "actor_team": actor,
                                                                "home_team": home})
        # Ack within Slack's 3 s (at once: see bot.listeners.answers); the answer follows
        # through response_url.
        await ack()
        if recorded is False:
            return  # recorded before: answered by the first

        async def work() -> None:
            await answer(command, actor, home, client)
            if recorded and deps.intents is not None and key:
                await deps.intents.settle(COMMAND, key)

        # The answer's task starts with a copy of this context: its lines name the request.
        with bound_contextvars(team=context.team_id, user=command.get("user_id"),
                               channel=command.get("channel_id"), command=command.get("command")):
            deps.answers.start(work(), "command answer")

    app.command("/pulse")(on_pulse)

    async def recovered(payload: dict[str, Any]) -> None:
        command = payload["command"]
        with bound_contextvars(user=command.get("user_id"), channel=command.get("channel_id"),
                               command="/pulse (recovered)"):
            await answer(command, payload.get("actor_team"), payload.get("home_team"), app.client)

    if deps.intents is not None:
        deps.intents.handle(COMMAND, recovered)


# A recorded slash command's kind (bot.services.slack_intents).
COMMAND = "command"


def _command_key(command: dict[str, Any]) -> str | None:
    """One invocation: its trigger id (Slack makes one per command), hashed to fit a request's key."""
    trigger = command.get("trigger_id")
    return "cmd:" + hashlib.sha256(str(trigger).encode()).hexdigest()[:24] if trigger else None
