"""Linking channels from Slack: `/pulse link <account>` (a modal confirms audience, digest schedule
and notifications) and `/pulse unlink`, for agency admins.

Runtime links live in the store (`channel_links`, with `audit_log` entries: who, when, what); the
accounts file is the seed and wins. The effective configuration is applied in place to the one
`AccountsConfig` every part of the bot holds (its `accounts` list), so a link takes effect at
once in this process; other processes pick it up with `sync` (their background pass).

Fail closed: the audience is proposed from Slack's word on sharing and checked again when the
modal is submitted (a view can be replayed, and a channel can be shared in between): a channel
shared with another organization, or one Slack cannot tell us about, can only be a client channel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.channel_links import RuntimeLink, allowed_audiences, merge
from bot.domain.commands import LINK_COMMANDS, Invocation
from bot.domain.schedule import cron_problem
from bot.domain.sharing import Sharing
from bot.domain.subscriptions import SubscriptionSyntaxError, format_subscription, parse_subscription
from bot.domain.words import CommandRef, sentence
from bot.errors import UserError
from bot.logs import get_logger
from bot.render.blocks import escape_mrkdwn
from bot.render.i18n import translate
from bot.render.words import Voice
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService, Reply, answer_stays_internal
from integrations.store.store import Store

log = get_logger("pulse.links")

CALLBACK_ID = "portfolio.link"


class LinkService:
    def __init__(self, *, seed: AccountsConfig, live: AccountsConfig, store: Store,
                 clock: Callable[[], dt.datetime], audiences: ChannelAudiences | None = None):
        # `seed`: the accounts file as loaded (a copy nobody changes); `live`: the config the bot runs on.
        self._seed = seed
        self.live = live
        self._store = store
        self._clock = clock
        self._audiences = audiences
        self._notes: set[str] = set()

    def sync(self) -> None:
        """Apply the store's runtime links to the live configuration (the accounts file wins; each
        conflict is logged once per process)."""
        merged, notes = merge(self._seed, self._store.channel_links.all())
        for note in notes:
            if note not in self._notes:
                self._notes.add(note)
                log.warning("runtime channel link ignored", note=note)
        # In place: every service holds this same object (and reads `accounts` on each use).
        self.live.accounts[:] = merged.accounts

    async def run_forever(self, stop: asyncio.Event, every_s: float = 60.0) -> None:
        """Pick up links made by other processes."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.sync)
            except Exception:
                log.exception("syncing runtime channel links failed")
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                pass

    async def _sharing(self, channel_id: str) -> Sharing:
        if self._audiences is None:
            return Sharing.UNKNOWN
        self._audiences.forget(channel_id)  # Slack's word now, not a cached one
        return await self._audiences.sharing(channel_id)

    # --- /pulse link, /pulse unlink -----------------------------------------------------------

    async def link_command(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        voice = asker.voice()
        if asker.channel_id.startswith("D"):
            raise UserError(sentence("link.not_here"))
        if account is not None:
            seeded = self._seed.by_channel(asker.channel_id) is not None
            raise UserError(sentence("link.in_file" if seeded else "link.already", account=account.name,
                                     unlink=CommandRef(("unlink",))))
        target = self._seed.by_key(inv.args[0].lower()) if len(inv.args) == 1 else None
        if target is None:
            raise self._which_account(inv, asker)
        sharing = await self._sharing(asker.channel_id)
        view = link_modal(target, asker.channel_id, allowed_audiences(sharing), asker.language)
        if asker.open_view is None or not await asker.open_view(view):
            return Reply(translate(asker.language, "link.modal_failed"))
        return Reply(voice.say(sentence("link.opened")))

    def _which_account(self, inv: Invocation, asker: Asker) -> UserError:
        """No or no known account named. The account keys name the agency's clients: listed only
        where the answer stays internal (a slash command's ephemeral answer; never a mention's
        answer in the channel being linked, typically the new Slack Connect channel with a client)."""
        command = CommandRef(("link",), "args.account")
        if not answer_stays_internal(asker, None):
            # The slash form (a mention cannot open the form anyway).
            return UserError(sentence("link.usage_here", command=Voice.for_asker(asker.language).command(command)))
        keys = ", ".join(f"`{a.key}`" for a in self._seed.accounts)
        if len(inv.args) != 1:
            return UserError(sentence("link.usage", command=command, accounts=keys))
        return UserError(sentence("link.unknown_account", key=escape_mrkdwn(inv.args[0]), accounts=keys))

    async def unlink_command(self, inv: Invocation, asker: Asker, account: Account | None, channel: Channel | None) -> Reply:
        if account is None:
            raise UserError(sentence("unlink.not_linked"))
        if self._seed.by_channel(asker.channel_id) is not None:
            raise UserError(sentence("unlink.in_file", account=account.name))
        removed = await asyncio.to_thread(self._store.channel_links.delete, asker.channel_id)
        await asyncio.to_thread(self.sync)
        if removed is not None:
            await asyncio.to_thread(
                self._store.audit.record, asker.user_id, "channel.unlink", self._clock(),
                account_key=removed.account_key, channel_id=removed.channel_id,
                details={"audience": removed.audience.value, "cron": removed.cron},
            )
            log.info("channel unlinked", account=removed.account_key, channel=removed.channel_id, by=asker.user_id)
        return Reply(translate(asker.language, "unlink.done", channel=f"<#{asker.channel_id}>",
                               account=escape_mrkdwn(account.name)))

    # --- the modal's submission ---------------------------------------------------------------

    async def submit(self, user_id: str, role: Role, view: dict[str, Any], language: str) -> dict[str, str] | None:
        """Link the channel as the modal says; errors by block id for Slack to show in the modal,
        or None when linked. The submitter's role and the channel's sharing are checked again."""
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            channel_id, account_key = str(meta["channel"]), str(meta["account"])
        except (ValueError, KeyError, TypeError):
            return {"audience": translate(language, "link.refused")}
        if role < Role.ADMIN:
            return {"audience": translate(language, "link.refused")}
        account = self._seed.by_key(account_key)
        if account is None or self.live.by_channel(channel_id) is not None:
            return {"audience": translate(language, "link.stale_form")}
        values = view.get("state", {}).get("values", {})
        audience_value = (((values.get("audience") or {}).get("audience") or {}).get("selected_option") or {}).get("value")
        cron = ((values.get("schedule") or {}).get("schedule") or {}).get("value") or None
        subs_text = ((values.get("subscriptions") or {}).get("subscriptions") or {}).get("value") or ""
        sharing = await self._sharing(channel_id)
        allowed = allowed_audiences(sharing)
        if audience_value not in {a.value for a in allowed}:
            # Fail closed: a shared (or unknown) channel is never linked as internal.
            return {"audience": translate(language, "link.shared_note")}
        audience = Audience(audience_value)
        errors: dict[str, str] = {}
        if cron and (problem := cron_problem(cron.strip())):
            errors["schedule"] = translate(language, "link.bad_cron", problem=problem)
        subscription = None
        if subs_text.strip():
            try:
                subscription = parse_subscription(subs_text.strip())
            except SubscriptionSyntaxError:
                errors["subscriptions"] = translate(language, "link.bad_subscription")
        if errors:
            return errors
        now = self._clock()
        link = RuntimeLink(channel_id, account.key, audience, cron.strip() if cron else None, user_id, now)
        if not await asyncio.to_thread(self._store.channel_links.put, link):
            return {"audience": translate(language, "link.stale_form")}
        spec = format_subscription(subscription) if subscription is not None else None
        if spec is not None:
            await asyncio.to_thread(self._store.subscriptions.add, channel_id, account.key, {"text": spec}, user_id, now)
        await asyncio.to_thread(
            self._store.audit.record, user_id, "channel.link", now, account_key=account.key, channel_id=channel_id,
            details={"audience": audience.value, "cron": link.cron, "subscription": spec, "sharing": sharing.name},
        )
        await asyncio.to_thread(self.sync)
        log.info("channel linked", account=account.key, channel=channel_id, audience=audience.value, by=user_id)
        return None


def link_modal(account: Account, channel_id: str, allowed: tuple[Audience, ...], language: str) -> dict[str, Any]:
    """The confirmation modal: audience (only what sharing allows; the proposal preselected),
    digest schedule, notifications."""

    def t(message_id: str, **params: object) -> str:
        return translate(language, message_id, **params)

    def option(audience: Audience) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": t(f"link.audience.{audience.value}")[:75]}, "value": audience.value}

    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": t("link.intro", channel=f"<#{channel_id}>",
                                                                   account=escape_mrkdwn(account.name))}},
        {"type": "input", "block_id": "audience", "label": {"type": "plain_text", "text": t("link.audience")},
         "element": {"type": "radio_buttons", "action_id": "audience", "options": [option(a) for a in allowed],
                     "initial_option": option(allowed[0])}},
    ]
    if allowed == (Audience.CLIENT,):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t("link.shared_note")}]})
    blocks += [
        {"type": "input", "block_id": "schedule", "optional": True,
         "label": {"type": "plain_text", "text": t("link.schedule")},
         "hint": {"type": "plain_text", "text": t("link.schedule_hint", timezone=account.timezone)},
         "element": {"type": "plain_text_input", "action_id": "schedule", "max_length": 100}},
        {"type": "input", "block_id": "subscriptions", "optional": True,
         "label": {"type": "plain_text", "text": t("link.subscriptions")},
         "hint": {"type": "plain_text", "text": t("link.subscriptions_hint")},
         "element": {"type": "plain_text_input", "action_id": "subscriptions", "max_length": 500}},
    ]
    return {
        "type": "modal", "callback_id": CALLBACK_ID,
        "private_metadata": json.dumps({"channel": channel_id, "account": account.key}),
        "title": {"type": "plain_text", "text": t("link.title")[:24]},
        "submit": {"type": "plain_text", "text": t("link.submit")[:24]},
        "close": {"type": "plain_text", "text": t("link.cancel")[:24]},
        "blocks": blocks,
    }


def register_link_commands(commands: CommandService, links: LinkService) -> None:
    """`/pulse link <account>` and `/pulse unlink` (agency admins)."""
    link_spec, unlink_spec = LINK_COMMANDS
    commands.add(link_spec, links.link_command)
    commands.add(unlink_spec, links.unlink_command)
