"""`/pulse …` slash commands."""

from __future__ import annotations

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
    async def answer(command, context, client) -> None:
        role = await deps.directory.role(command["user_id"], context.actor_team_id, home_team(context))
        async def open_view(view: dict) -> bool:
            try:
                await client.views_open(trigger_id=command.get("trigger_id", ""), view=view)
                return True
            except Exception:
                log.warning("views.open failed", exc_info=True)
                return False

        asker = Asker(user_id=command["user_id"], channel_id=command["channel_id"], role=role,
                      locale=lambda: deps.directory.locale(command["user_id"]), home_team=home_team(context),
                      open_view=open_view)
        reply = await deps.commands.run(command.get("text", ""), asker)
        log.info(
            "command",
            role=role.name.lower(),
            text=command.get("text", "")[:100],
            public=reply.public,
        )
        for part in (reply, *reply.more):
            await respond(
                client,
                command["response_url"],
                text=part.text,
                blocks=part.blocks or None,
                response_type="in_channel" if part.public else "ephemeral",
            )

    async def on_pulse(ack, command, context, client):
        # Ack within Slack's 3 s (at once: see bot.listeners.answers); the answer follows
        # through response_url.
        await ack()
        # The answer's task starts with a copy of this context: its lines name the request.
        with bound_contextvars(team=context.team_id, user=command.get("user_id"),
                               channel=command.get("channel_id"), command=command.get("command")):
            deps.answers.start(answer(command, context, client), "command answer")

    app.command("/pulse")(on_pulse)
