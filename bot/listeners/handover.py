"""The handover form: its submission, and the buttons that open it (the App Home's "start a
handover", the vacation-status DM's "hand my roles over"). `/pulse handover` alone opens it through
the command table. Who submits or clicks is worked out again every time: a view can be replayed."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.domain.handover import read_day
from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.render.handover import MODAL, NUDGE_ACTION
from bot.render.i18n import language_of_locale
from bot.render.portfolio import ACTION_START_HANDOVER

log = get_logger("pulse.handover")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    handovers = deps.handovers
    if handovers is None:
        return

    async def confirm(client: Any, user: str, text: str) -> None:
        # By DM: the form was opened in an internal place, but the confirmation names accounts and
        # people and is for the submitter alone.
        channel = (await client.conversations_open(users=user))["channel"]["id"]
        await client.chat_postMessage(channel=channel, text=text)

    async def on_submit(ack, body, view, context, client):
        user = (body.get("user") or {}).get("id")
        if not isinstance(user, str):
            await ack()
            return
        # Within Slack's 3 s: users.info (cached) and the store; the summary runs after the ack.
        role = await deps.directory.role(user, context.actor_team_id, home_team(context))
        outcome = await handovers.submit(user, role, home_team(context), view)
        if outcome.errors:
            log.info("handover form refused", role=role.name.lower(), fields=sorted(outcome.errors))
            await ack(response_action="errors", errors=outcome.errors)
            return
        await ack()
        with bound_contextvars(team=context.team_id, user=user, command="handover form"):
            deps.answers.start(confirm(client, user, outcome.confirmation), "handover confirmation")

    app.view(MODAL)(on_submit)

    def _clicked(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        user = (body.get("user") or {}).get("id")
        return (user if isinstance(user, str) else None), ((body.get("actions") or [{}])[0] or {})

    async def on_home_button(ack, body, context, client):
        # The Home's "start a handover" (an account's row): the form, that account preselected.
        await ack()
        user, action = _clicked(body)
        if user is None or not body.get("trigger_id"):
            return
        # At once, not after the ack's delay: a trigger id is valid for 3 s.
        role = await deps.directory.role(user, context.actor_team_id, home_team(context))
        language = language_of_locale(await deps.directory.locale(user))

        async def open_view(view: dict[str, Any]) -> None:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await handovers.open_form(user, role, language, open_view, account_key=str(action.get("value") or ""))

    async def on_nudge_button(ack, body, context, client):
        # "Hand my roles over" under the vacation-status DM: the form, the clicker away on those days.
        await ack()
        user, action = _clicked(body)
        if user is None or not body.get("trigger_id"):
            return
        try:
            days = json.loads(str(action.get("value") or "{}"))
            start, end = read_day(str(days.get("start"))), read_day(str(days.get("end")))
        except (ValueError, AttributeError):
            start = end = None
        role = await deps.directory.role(user, context.actor_team_id, home_team(context))
        language = language_of_locale(await deps.directory.locale(user))

        async def open_view(view: dict[str, Any]) -> None:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await handovers.open_form(user, role, language, open_view, start=start, end=end)

    app.action(ACTION_START_HANDOVER)(on_home_button)
    app.action(NUDGE_ACTION)(on_nudge_button)

    nudges = deps.nudges
    if nudges is None:
        return

    async def on_status_changed(ack, event, context):
        await ack()
        user = event.get("user")
        if not isinstance(user, dict):
            return
        with bound_contextvars(team=context.team_id, user=user.get("id"), command="user_status_changed"):
            deps.answers.start(nudges.status_changed(user, home_team(context)), "vacation nudge")

    app.event("user_status_changed")(on_status_changed)
