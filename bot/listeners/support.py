"""Support requests: the urgency buttons. Thin: who clicked, then the service decides."""

from __future__ import annotations

import json
import re
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

# Message subtypes a person writes (a reply "also sent to #channel", a message with a file).
PEOPLES_SUBTYPES = frozenset({"thread_broadcast", "file_share"})


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    support = deps.support
    if support is None:
        return

    async def choose(body: dict[str, Any], context: Any, client: Any) -> None:
        user_id = str((body.get("user") or {}).get("id") or "")
        channel_id = str((body.get("channel") or {}).get("id") or "")
        action = (body.get("actions") or [{}])[0]
        urgency = str(action.get("action_id") or "").removeprefix(URGENCY_ACTION)
        # Authorization from scratch on every click: who (by team), where (by channel id).
        role = await deps.directory.role(user_id, context.actor_team_id, home_team(context))
        question_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        refusal = await support.choose(str(action.get("value") or ""), urgency, Filer(user_id, role), channel_id,
                                       question_ts)
        log.info("support urgency clicked", role=role.name.lower(), refused=refusal.message_id if refusal else None)
        if refusal is not None and body.get("response_url"):
            link = deps.commands.accounts.by_channel(channel_id)
            language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
            await respond(client, body["response_url"], text=Voice(language).say(refusal),
                          response_type="ephemeral", replace_original=False)

    async def on_urgency(ack, body, context, client):
        await ack()
        with bound_contextvars(team=context.team_id, user=(body.get("user") or {}).get("id"),
                               channel=(body.get("channel") or {}).get("id"), command="support urgency"):
            deps.answers.start(choose(body, context, client), "support urgency")

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

    async def submitted(body: dict[str, Any], view: dict[str, Any], context: Any, client: Any) -> None:
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
        role = await deps.directory.role(user_id, context.actor_team_id, home_team(context))
        permalink = None
        if isinstance(ts, str):
            try:
                permalink = (await client.chat_getPermalink(channel=channel_id, message_ts=ts)).get("permalink")
            except Exception as exc:
                log.warning("no permalink for the request's message", error=str(exc))
        refusal = await support.from_message(
            user_id=user_id, role=role, channel_id=channel_id, message_ts=ts if isinstance(ts, str) else None,
            author=author if isinstance(author, str) else None, text=text, urgency=urgency, permalink=permalink,
        )
        if refusal is not None:
            link = deps.commands.accounts.by_channel(channel_id)
            language = link[0].language if link else language_of_locale(await deps.directory.locale(user_id))
            try:
                await client.chat_postEphemeral(channel=channel_id, user=user_id, text=Voice(language).say(refusal))
            except Exception as exc:
                log.warning("could not tell the refusal", error=str(exc))

    async def on_submit(ack, body, view, context, client):
        await ack()  # the modal closes; what follows is said in the channel
        deps.answers.start(submitted(body, view, context, client), "support modal")

    app.view(MODAL)(on_submit)
