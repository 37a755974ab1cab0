"""Linking channels from Slack: `/pulse link <account>` (a modal confirms audience, digest schedule
and notifications) and `/pulse unlink`, for agency admins.

Runtime links live in the store (`channel_links`, with `audit_log` entries: who, when, what); the
accounts file is the seed and wins. The effective configuration is applied in place to the one
`AccountsConfig` every part of the bot holds (its `accounts` list), so a link takes effect at
once in this process; other processes pick it up with `sync` (their background pass).

Fail closed: the audience is proposed from Slack's word on sharing and on the channel's members,
and checked again when the modal is submitted (a view can be replayed, and a channel can be shared
or a guest invited in between): a channel shared with another organization, one with a guest or
another team's person in it (`conversations.members` + `users.info`), or one Slack cannot tell us
about, can only be a client channel. The submitter's admin rights (and an unlinker's) are asked
of Slack at the moment of the write, not taken from a cache.

The accounts file wins: a runtime link for a channel the file links too is retired (deleted,
audited as `channel.link_retired`, logged) when a process with that file syncs, so it cannot come
back when the file later drops the channel. A link, its subscription and its audit entry are
written together; unlinking removes the channel's subscriptions with it (audited).

Each link and unlink is announced once in the channel itself, keyed by the link (channel and when it
was made) through `OncePoster`: the full line (account, audience, schedule, notifications, who) only
where the channel's effective audience is internal (ChannelAudiences: linked internal and Slack says
nobody else is in it), everywhere else one client-safe line naming the account only. A link's
announcement is sent in the background right after the form closes (Slack waits 3 s for it) and,
should the process die first, by the next `run_forever` pass within ANNOUNCE_WITHIN.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.channel_links import RuntimeLink, allowed_audiences, linkable, merge, overridden
from bot.domain.commands import LINK_COMMANDS, Invocation
from bot.domain.schedule import cron_problem
from bot.domain.sharing import Sharing
from bot.domain.subscriptions import SubscriptionSyntaxError, format_subscription, parse_subscription
from bot.domain.words import CommandRef, sentence
from bot.errors import UserError
from bot.logs import get_logger
from bot.render.blocks import escape_mrkdwn
from bot.render.i18n import translate
from bot.render.portfolio import render_link_notice, render_unlink_notice
from bot.render.words import Voice
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService, Reply, answer_stays_internal
from bot.services.exactly_once import OncePoster
from integrations.store.store import Store

log = get_logger("pulse.links")

CALLBACK_ID = "portfolio.link"
# A link whose announcement a dead process left unsent is announced by a later pass this long after.
ANNOUNCE_WITHIN = dt.timedelta(minutes=15)
# The members check must leave time for views.open within Slack's 3 s; slower is "cannot tell".
MEMBERS_CHECK_S = 1.5
MAX_MEMBERS = 1000
RETIRED_BY = "accounts-file"


class ChannelMembers(Protocol):
    async def conversations_members(self, *, channel: str, **kwargs: Any) -> Any: ...


# Whether someone is one of the agency (not a guest, not another team's); None: Slack cannot tell.
Membership = Callable[[str], Awaitable[bool | None]]
# The person's role asked of Slack now (no cache): (user id, home team) -> Role.
RoleNow = Callable[[str, str | None], Awaitable[Role]]


class LinkService:
    def __init__(self, *, seed: AccountsConfig, live: AccountsConfig, store: Store,
                 clock: Callable[[], dt.datetime], audiences: ChannelAudiences | None = None,
                 poster: OncePoster | None = None, members: ChannelMembers | None = None,
                 is_member: Membership | None = None, role_now: RoleNow | None = None):
        # `seed`: the accounts file as loaded (a copy nobody changes); `live`: the config the bot runs on.
        self._seed = seed
        self.live = live
        self._store = store
        self._clock = clock
        self._audiences = audiences
        # Without members and a membership check, no channel is known to hold agency people only:
        # `internal` is never offered (fail closed).
        self._members = members
        self._is_member = is_member
        self._role_now = role_now
        self._notes: set[str] = set()
        # Announces links in their channels (None: nothing is posted, e.g. without Slack).
        self._poster = poster
        self._announcing: set[asyncio.Task[None]] = set()

    def sync(self) -> None:
        """Apply the store's runtime links to the live configuration. The accounts file wins: a
        runtime link it overrides is retired (deleted with the subscriptions of another account,
        audited, logged); a link this version cannot use is skipped with a note (each note logged
        once per process)."""
        links = self._store.channel_links.all()
        for link, file_account in overridden(self._seed, links):
            retired = self._store.channel_links.unlink(
                link.channel_id, RETIRED_BY, self._clock(), action="channel.link_retired", keep_account=file_account,
                details={"file_account": file_account, "linked_by": link.created_by})
            if retired is not None:
                log.warning("runtime channel link retired: the accounts file links the channel", channel=link.channel_id,
                            runtime_account=link.account_key, file_account=file_account, linked_by=link.created_by)
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
                await self.announce_recent()
            except Exception:
                log.exception("syncing runtime channel links failed")
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                pass

    # --- announcing ----------------------------------------------------------------------------

    async def announce_recent(self) -> int:
        """Announce links made within ANNOUNCE_WITHIN whose announcement is not recorded (a process
        died before it); how many were posted now."""
        if self._poster is None:
            return 0
        since = self._clock() - ANNOUNCE_WITHIN
        recent = [link for link in await asyncio.to_thread(self._store.channel_links.all) if link.created_at >= since]
        return sum([await self.announce_link(link) for link in recent])

    async def announce_link(self, link: RuntimeLink) -> bool:
        """Tell the linked channel, once: internal detail only where its effective audience is
        internal. Never fails the link (logged); True when posted now."""
        if self._poster is None:
            return False
        key = f"channel-linked:{link.channel_id}:{link.created_at.isoformat()}"
        try:
            if await asyncio.to_thread(self._store.posts.get, key) is not None:
                return False
            found = self.live.by_channel(link.channel_id)
            if found is None or found[0].key != link.account_key:
                return False  # unlinked since, or the accounts file links it otherwise (it wins)
            account, channel = found
            effective = await self._audiences.audience(account, channel) if self._audiences else Audience.CLIENT
            internal = channel.audience is Audience.INTERNAL and effective is Audience.INTERNAL
            subscriptions = [str(row["spec"].get("text", "")) for row in
                             await asyncio.to_thread(self._store.subscriptions.list, link.channel_id)]
            message = render_link_notice(account, internal, cron=link.cron, subscriptions=subscriptions,
                                         by=link.created_by)
            posted = await asyncio.shield(self._poster.post([key], link.channel_id, message))
            return posted.new
        except Exception as exc:
            log.warning("the link was not announced in its channel", channel=link.channel_id,
                        error=f"{type(exc).__name__}: {exc}")
            return False

    async def _announce_unlink(self, removed: RuntimeLink, account: Account, by: str) -> None:
        if self._poster is None:
            return
        key = f"channel-unlinked:{removed.channel_id}:{removed.created_at.isoformat()}"
        try:
            # No longer linked: internal words only if it was linked internal and Slack says now
            # that nobody from another organization is in it (fail closed otherwise).
            internal = (removed.audience is Audience.INTERNAL
                        and await self._sharing(removed.channel_id) is Sharing.PRIVATE_TO_US)
            await asyncio.shield(self._poster.post([key], removed.channel_id,
                                                   render_unlink_notice(account, internal, by=by)))
        except Exception as exc:
            log.warning("the unlink was not announced in its channel", channel=removed.channel_id,
                        error=f"{type(exc).__name__}: {exc}")

    async def settle(self) -> None:
        """Wait for the announcements `submit` started (tests)."""
        while self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)

    async def _sharing(self, channel_id: str) -> Sharing:
        if self._audiences is None:
            return Sharing.UNKNOWN
        self._audiences.forget(channel_id)  # Slack's word now, not a cached one
        return await self._audiences.sharing(channel_id)

    async def _outsiders(self, channel_id: str) -> bool | None:
        """Is anyone in the channel a guest or another team's (True), nobody (False), or can Slack
        not tell us in time (None)? A workspace guest is no other organization to
        `conversations.info`, but a client all the same."""
        if self._members is None or self._is_member is None:
            return None
        try:
            return await asyncio.wait_for(self._scan_members(channel_id), MEMBERS_CHECK_S)
        except Exception as exc:  # TimeoutError, Slack errors: cannot tell
            log.warning("channel members could not be checked: linked as a client channel only", channel=channel_id,
                        error=repr(exc))
            return None

    async def _scan_members(self, channel_id: str) -> bool | None:
        assert self._members is not None and self._is_member is not None
        cursor, seen = "", 0
        while True:
            page = {"cursor": cursor} if cursor else {}
            answer = await self._members.conversations_members(channel=channel_id, limit=200, **page)
            ids = [m for m in (answer.get("members") or []) if isinstance(m, str)]
            answers = await asyncio.gather(*(self._is_member(u) for u in ids))
            if any(a is False for a in answers):
                return True
            if any(a is None for a in answers):
                return None
            seen += len(ids)
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return False if seen else None  # no members at all is nothing Slack really said
            if seen >= MAX_MEMBERS:
                return None

    async def _allowed(self, channel_id: str) -> tuple[Sharing, bool | None, tuple[Audience, ...]]:
        sharing = await self._sharing(channel_id)
        # Members are asked only where they could still make the channel internal.
        outsiders = await self._outsiders(channel_id) if sharing is Sharing.PRIVATE_TO_US else None
        return sharing, outsiders, allowed_audiences(sharing, outsiders)

    async def _still_admin(self, user_id: str, home_team: str | None, role: Role) -> bool:
        """Admin rights at the moment of a write: asked of Slack now (the directory's cache may
        hold a demoted admin's group for minutes)."""
        if role < Role.ADMIN:
            return False
        if self._role_now is None:
            return True
        return await self._role_now(user_id, home_team) >= Role.ADMIN

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
        _sharing, _outsiders, allowed = await self._allowed(asker.channel_id)
        view = link_modal(target, asker.channel_id, allowed, asker.language)
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
        if not await self._still_admin(asker.user_id, asker.home_team, asker.role):
            raise UserError(sentence("unlink.refused"))
        # The link, the channel's subscriptions (a relink starts without them) and the audit entry at once.
        removed = await asyncio.to_thread(self._store.channel_links.unlink, asker.channel_id, asker.user_id, self._clock())
        await asyncio.to_thread(self.sync)
        if removed is not None:
            log.info("channel unlinked", account=removed.account_key, channel=removed.channel_id, by=asker.user_id)
            await self._announce_unlink(removed, account, asker.user_id)
        return Reply(translate(asker.language, "unlink.done", channel=f"<#{asker.channel_id}>",
                               account=escape_mrkdwn(account.name)))

    # --- the modal's submission ---------------------------------------------------------------

    async def submit(self, user_id: str, role: Role, view: dict[str, Any], language: str,
                     home_team: str | None = None) -> dict[str, str] | None:
        """Link the channel as the modal says; errors by block id for Slack to show in the modal,
        or None when linked. The submitter's role (asked of Slack now), the channel's id, its
        sharing and its members are checked again."""
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            channel_id, account_key = str(meta["channel"]), str(meta["account"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"audience": translate(language, "link.refused")}
        if not await self._still_admin(user_id, home_team, role):
            return {"audience": translate(language, "link.refused")}
        if not linkable(channel_id):
            # Nothing but a channel's id is ever stored: one bad row would stop every sync.
            log.warning("link form names no linkable channel", channel=channel_id[:40], by=user_id)
            command = Voice.for_asker(language).command(CommandRef(("link",), "args.account"))
            return {"audience": translate(language, "link.bad_channel", command=command)}
        account = self._seed.by_key(account_key)
        if account is None or self.live.by_channel(channel_id) is not None:
            return {"audience": translate(language, "link.stale_form")}
        values = view.get("state", {}).get("values", {})
        audience_value = (((values.get("audience") or {}).get("audience") or {}).get("selected_option") or {}).get("value")
        cron = ((values.get("schedule") or {}).get("schedule") or {}).get("value") or None
        subs_text = ((values.get("subscriptions") or {}).get("subscriptions") or {}).get("value") or ""
        sharing, outsiders, allowed = await self._allowed(channel_id)
        if audience_value not in {a.value for a in allowed}:
            # Fail closed: a shared channel, one with guests, or one Slack cannot tell about is never internal.
            return {"audience": translate(language, "link.shared_note")}
        if sharing is Sharing.UNKNOWN and self._audiences is not None:
            # Only a channel Slack confirms is stored (a form naming another id, or one the bot is
            # not in, is not linked); Slack down or the scope missing: the admin tries again.
            log.warning("link form names a channel conversations.info does not confirm", channel=channel_id, by=user_id)
            return {"audience": translate(language, "link.unconfirmed")}
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
        spec = format_subscription(subscription) if subscription is not None else None
        details = {"audience": audience.value, "cron": link.cron, "subscription": spec, "sharing": sharing.name,
                   "outsiders": outsiders}
        # The link, its subscription and its audit entry: all or nothing.
        stored = await asyncio.to_thread(self._store.channel_links.link, link, {"text": spec} if spec else None, details)
        if not stored:
            return {"audience": translate(language, "link.stale_form")}
        await asyncio.to_thread(self.sync)
        log.info("channel linked", account=account.key, channel=channel_id, audience=audience.value, by=user_id)
        # In the background: Slack closes the form only once this returns (3 s).
        task = asyncio.create_task(self._announce_quietly(link), name=f"announce-link-{channel_id}")
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)
        return None

    async def _announce_quietly(self, link: RuntimeLink) -> None:
        await self.announce_link(link)


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
