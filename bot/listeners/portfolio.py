"""The App Home: `app_home_opened` publishes the portfolio (from snapshots), its buttons change the
view or post a digest. Who clicks is worked out again on every click: a view can be replayed."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.render.i18n import language_of_locale
from bot.render.portfolio import (
    ACTION_OPEN_CONFLUENCE,
    ACTION_OPEN_JIRA,
    ACTION_PAGE_NEXT,
    ACTION_PAGE_PREVIOUS,
    ACTION_POST_DIGEST,
    ACTION_SCOPE,
    HomeState,
)

log = get_logger("pulse.home")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    home = deps.home
    if home is None:
        return

    async def publish(user: str, context: Any, client: Any, state: HomeState, notice: str | None = None,
                      stamp: str | None = None, post_account: str | None = None) -> None:
        role = await deps.directory.role(user, context.actor_team_id, home_team(context))
        language = language_of_locale(await deps.directory.locale(user))
        if post_account is not None and stamp is not None:
            notice = await home.post_digest(role, post_account, stamp, language)
        view = await home.view(user, role, language, state, notice)
        await client.views_publish(user_id=user, view=view)
        log.info("home published", role=role.name.lower(), scope=state.scope.value, page=state.page,
                 blocks=len(view["blocks"]))

    async def on_home_opened(ack, event, context, client):
        await ack()
        if event.get("tab") != "home" or not isinstance(event.get("user"), str):
            return
        with bound_contextvars(team=context.team_id, user=event["user"], command="app_home_opened"):
            deps.answers.start(publish(event["user"], context, client, HomeState()), "home")

    def _action(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        user = (body.get("user") or {}).get("id")
        actions = body.get("actions") or [{}]
        return user, actions[0]

    async def on_state(ack, body, context, client):
        await ack()
        user, action = _action(body)
        if isinstance(user, str):
            deps.answers.start(publish(user, context, client, HomeState.parse(action.get("value"))), "home")

    async def on_post_digest(ack, body, context, client):
        await ack()
        user, action = _action(body)
        if not isinstance(user, str) or not isinstance(action.get("value"), str):
            return
        stamp = f"{user}:{action.get('action_ts', '')}"
        with bound_contextvars(team=context.team_id, user=user, command="home:post_digest"):
            deps.answers.start(publish(user, context, client, HomeState(), stamp=stamp, post_account=action["value"]),
                               "home digest")

    async def on_link(ack):
        await ack()  # a URL button: Slack opens the link; nothing to do but acknowledge

    app.event("app_home_opened")(on_home_opened)
    app.action(ACTION_SCOPE)(on_state)
    app.action(ACTION_PAGE_PREVIOUS)(on_state)
    app.action(ACTION_PAGE_NEXT)(on_state)
    app.action(ACTION_POST_DIGEST)(on_post_digest)
    app.action(ACTION_OPEN_JIRA)(on_link)
    app.action(ACTION_OPEN_CONFLUENCE)(on_link)
