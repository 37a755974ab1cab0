"""Support requests: the urgency buttons. Thin: who clicked, then the service decides."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from structlog.contextvars import bound_contextvars

from bot.listeners.answers import respond
from bot.listeners.commands import home_team
from bot.listeners.deps import ListenerDeps
from bot.logs import get_logger
from bot.render.i18n import language_of_locale
from bot.render.support import MODAL, REQUEST_BUTTON, SHORTCUT, URGENCY_ACTION, request_modal
from bot.render.words import Voice
from bot.services.support import Filer

log = get_logger("pulse.support")

# Kinds of recorded requests (bot.services.slack_intents).
CLICK, SUBMISSION = "urgency", "submission"

# Message subtypes a person writes (a reply "also sent to #channel", a message with a file).
PEOPLES_SUBTYPES = frozenset({"thread_broadcast", "file_share"})


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    support = deps.support
    if support is None:
        return

    async def choose(body: dict[str, Any], actor_team: str | None, home: str | None, client: Any,
                     recovered: bool = False) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        channel_id = str((body.get("channel") or {}).get("id") or "")
        action = (body.get("actions") or [{}])[0]
        urgency = str(action.get("action_id") or "").removeprefix(URGENCY_ACTION)
        # Authorization from scratch on every click: who (by team), where (by channel id).
        role = await deps.directory.role(user_id, actor_team, home)
        question_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        refusal = await support.choose(str(action.get("value") or ""), urgency, Filer(user_id, role), channel_id,
                                       question_ts)
        log.info("support urgency clicked", role=role.name.lower(), refused=refusal.message_id if refusal else None)
        if recovered and refusal is not None and refusal.message_id == "support.already_chosen":
            return  # the click counted before the restart: nothing more to say (the tick files it)
        if refusal is not None and body.get("response_url"):
            link = deps.commands.accounts.by_channel(channel_id)
            language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
            await respond(client, body["response_url"], text=Voice(language).say(refusal),
                          response_type="ephemeral", replace_original=False)

    async def recorded(kind: str, key: str | None, body: dict[str, Any], context: Any) -> bool | None:
        """Record a click or submission before its ack (see bot.services.slack_intents): True if
        recorded now, False if recorded before (a repeat: answered by the first), None if not
        recorded (no store, or nothing to key it by)."""
        if deps.intents is None or not key:
            return None
        return await deps.intents.record(kind, key, {"body": body, "actor_team": context.actor_team_id,
                                                     "home_team": home_team(context)})

    async def settled(kind: str, key: str | None, work: Callable[[], Awaitable[None]]) -> None:
        await work()
        if deps.intents is not None and key:
            await deps.intents.settle(kind, key)

    async def on_urgency(ack, body, context, client):
        key = _click_key(body)
        new = await recorded(CLICK, key, body, context)
        await ack()
        if new is False:
            return
        with bound_contextvars(team=context.team_id, user=(body.get("user") or {}).get("id"),
                               channel=(body.get("channel") or {}).get("id"), command="support urgency"):
            actor, home = context.actor_team_id, home_team(context)
            deps.answers.start(settled(CLICK, key if new else None, lambda: choose(body, actor, home, client)),
                               "support urgency")

    app.action(re.compile(f"^{URGENCY_ACTION}"))(on_urgency)

    async def heard(event: dict[str, Any], context: Any) -> None:
        user_id, channel_id, ts = str(event.get("user") or ""), str(event.get("channel") or ""), str(event.get("ts") or "")
        thread = event.get("thread_ts")
        role = await deps.directory.role(user_id, context.actor_team_id, home_team(context))
        if thread and thread != ts:
            await support.thread_reply(channel_id, str(thread), user_id, role, ts, event.get("text"))
        else:
            bot = context.bot_user_id
            await support.channel_message(channel_id, user_id, role, ts,
                                          to_the_bot=bool(bot) and f"<@{bot}" in str(event.get("text") or ""))

    async def on_message(ack, event, context):
        # message.channels / message.groups: who wrote when (never kept: the text). Edits, joins and
        # bots' messages (other subtypes, bot_id) are nobody's answer; a thread reply also sent to
        # the channel, or a message with a file (a screenshot), is the message it is.
        await ack()
        subtype = event.get("subtype")
        if (subtype and subtype not in PEOPLES_SUBTYPES) or event.get("bot_id") or not event.get("user"):
            return
        link = deps.commands.accounts.by_channel(str(event.get("channel") or ""))
        if link is None or link[0].support is None:
            return  # only channels of accounts that file requests are watched (no users.info for others)
        with bound_contextvars(team=context.team_id, user=event.get("user"), channel=event.get("channel"),
                               command="support message"):
            deps.answers.start(heard(event, context), "support message")

    app.event("message")(on_message)

    # -- "Turn into support request": a message shortcut for agency members, then a modal

    async def on_shortcut(ack, shortcut, context, client):
        await ack()
        user_id = str((shortcut.get("user") or {}).get("id") or "")
        channel_id = str((shortcut.get("channel") or {}).get("id") or "")
        message = shortcut.get("message") or {}
        role = await deps.directory.role(user_id, context.actor_team_id, home_team(context))
        link = deps.commands.accounts.by_channel(channel_id)
        language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
        refusal = support.may_turn_into_request(role, channel_id)
        if refusal is not None:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, text=Voice(language).say(refusal))
            return
        # Only where the message is: the submission re-checks all of it (a view can be replayed).
        meta = json.dumps({"channel": channel_id, "ts": message.get("ts"), "author": message.get("user")})
        await client.views_open(trigger_id=shortcut["trigger_id"],
                                view=request_modal(language, str(message.get("text") or ""), meta))

    app.shortcut(SHORTCUT)(on_shortcut)

    async def on_request_button(ack, body, context, client):
        # "Request support" under a status answer: the modal, for whoever may file here (checked
        # now and again on submission).
        await ack()
        user_id = str((body.get("user") or {}).get("id") or "")
        channel_id = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        role = await deps.directory.role(user_id, context.actor_team_id, home_team(context))
        link = deps.commands.accounts.by_channel(channel_id)
        language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
        refusal = support.may_file_here(role, channel_id)
        if refusal is not None:
            if body.get("response_url"):
                await respond(client, body["response_url"], text=Voice(language).say(refusal),
                              response_type="ephemeral", replace_original=False)
            return
        meta = json.dumps({"channel": channel_id, "ts": None, "author": None})
        await client.views_open(trigger_id=body["trigger_id"], view=request_modal(language, "", meta))

    app.action(REQUEST_BUTTON)(on_request_button)

    async def submitted(body: dict[str, Any], view: dict[str, Any], actor_team: str | None, home: str | None,
                        client: Any) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            values = view["state"]["values"]
            text = str(values["text"]["text"].get("value") or "")
            urgency = str((values["urgency"]["urgency"].get("selected_option") or {}).get("value") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("support modal submission unreadable", user=user_id)
            return
        channel_id, ts, author = str(meta.get("channel") or ""), meta.get("ts"), meta.get("author")
        role = await deps.directory.role(user_id, actor_team, home)
        permalink = None
        if isinstance(ts, str):
            try:
                permalink = (await client.chat_getPermalink(channel=channel_id, message_ts=ts)).get("permalink")
            except Exception as exc:
                log.warning("no permalink for the request's message", error=str(exc))
        refusal = await support.from_message(
            user_id=user_id, role=role, channel_id=channel_id, message_ts=ts if isinstance(ts, str) else None,
            author=author if isinstance(author, str) else None, text=text, urgency=urgency, permalink=permalink,
            view_id=str(view.get("id") or "") or None,
        )
        if refusal is not None:
            link = deps.commands.accounts.by_channel(channel_id)
            language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
            try:
                await client.chat_postEphemeral(channel=channel_id, user=user_id, text=Voice(language).say(refusal))
            except Exception as exc:
                log.warning("could not tell the refusal", error=str(exc))

    async def on_submit(ack, body, view, context, client):
        key = str(view.get("id") or "") or None
        new = await recorded(SUBMISSION, key, body, context)
        await ack()  # the modal closes; what follows is said in the channel
        if new is False:
            return
        actor, home = context.actor_team_id, home_team(context)
        deps.answers.start(settled(SUBMISSION, key if new else None, lambda: submitted(body, view, actor, home, client)),
                           "support modal")

    app.view(MODAL)(on_submit)

    # -- answered after a restart (recorded before the ack; bot.services.slack_intents)

    async def click_recovered(payload: dict[str, Any]) -> None:
        body = payload["body"]
        with bound_contextvars(user=(body.get("user") or {}).get("id"), channel=(body.get("channel") or {}).get("id"),
                               command="support urgency (recovered)"):
            await choose(body, payload.get("actor_team"), payload.get("home_team"), app.client, recovered=True)

    async def submission_recovered(payload: dict[str, Any]) -> None:
        body = payload["body"]
        with bound_contextvars(user=(body.get("user") or {}).get("id"), command="support modal (recovered)"):
            await submitted(body, body.get("view") or {}, payload.get("actor_team"), payload.get("home_team"),
                            app.client)

    if deps.intents is not None:
        deps.intents.handle(CLICK, click_recovered)
        deps.intents.handle(SUBMISSION, submission_recovered)


def _click_key(body: dict[str, Any]) -> str | None:
    """One click: who, where, when Slack says it happened (Slack sends an interaction once)."""
    action = (body.get("actions") or [{}])[0]
    user_id = (body.get("user") or {}).get("id")
    channel_id = (body.get("channel") or {}).get("id")
    action_ts = action.get("action_ts")
    return f"{channel_id}:{user_id}:{action_ts}" if user_id and channel_id and action_ts else None
