"""The `/pulse link` modal's submission: the submitter's role is worked out again (a view can be
replayed); errors go back into the modal, success closes it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.render.i18n import language_of_locale
from bot.services.channel_links import CALLBACK_ID

log = get_logger("pulse.links")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    links = deps.links
    if links is None:
        return

    async def on_submit(ack, body, view, context):
        user = (body.get("user") or {}).get("id")
        if not isinstance(user, str):
            await ack()
            return
        # Within Slack's 3 s: the role from the directory (cached), then asked of Slack again by
        # `submit` for the write (no cache); the sharing check is one conversations.info, the
        # members' users.info mostly cached from the command that opened the modal.
        team = home_team(context)
        role = await deps.directory.role(user, context.actor_team_id, team)
        language = language_of_locale(await deps.directory.locale(user))
        errors = await links.submit(user, role, view, language, team)
        if errors:
            await ack(response_action="errors", errors=errors)
        else:
            await ack()

    app.view(CALLBACK_ID)(on_submit)
