"""The one place that decides a channel's effective audience (configured, downgraded when shared).

`conversations.info` is asked once per channel per `ttl` (a few minutes), and again at once after
Slack's `channel_shared` / `channel_unshared` / `shared_channel_invite_accepted` events
(`forget`). Everything whose content depends on the audience asks here: the inbox worker's
routing, budget alerts, scheduled and on-demand digests, slash commands and @mentions.

Fail-closed: when Slack cannot answer (down, rate limited, missing `channels:read`/`groups:read`)
an internal channel gets the client view — its content is sent in the client view, not deferred —
and the error is logged with its traceback. An internal channel Slack calls shared gets the client
view from then on; the first time this process sees it, an error is logged and the account's other
internal channels (or, without one, the admins PULSE_ADMINS names, by direct message) are told once
(a durable exactly-once notice: not again after a restart) what happened and what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.sharing import Sharing, effective_audience, read_sharing
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.blocks import Message
from bot.render.i18n import translate
from bot.services.exactly_once import PostBusy

log = get_logger("pulse.sharing")

DEFAULT_TTL_S = 300.0


class ConversationsInfo(Protocol):
    async def conversations_info(self, *, channel: str) -> Any: ...


class Poster(Protocol):
    async def post(self, keys: list[str], channel: str, message: Message) -> Any: ...


class ChannelAudiences:
    """Effective audiences of the accounts' channels, from Slack's word on sharing (cached)."""

    def __init__(
        self,
        client: ConversationsInfo,
        accounts: AccountsConfig,
        *,
        notices: Poster | None = None,
        admins: Sequence[str] = (),
        ttl: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self._accounts = accounts
        self._notices = notices
        self._admins = [a for a in admins if a.startswith(("U", "W"))]
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Sharing]] = {}
        self._reported: set[str] = set()  # channels whose downgrade this process has logged

    def linked(self, channel_id: str) -> tuple[Account, Channel] | None:
        """The account and configured channel of a channel id, if the accounts file links it."""
        return self._accounts.by_channel(channel_id)

    def forget(self, channel_id: str) -> None:
        """Slack said the channel's sharing changed: ask again before its next use."""
        self._cache.pop(channel_id, None)

    async def sharing(self, channel_id: str) -> Sharing:
        hit = self._cache.get(channel_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        try:
            answer = await self._client.conversations_info(channel=channel_id)
            sharing = read_sharing(answer.get("channel"))
        except Exception:
            # Not cached: the next use asks again. Meanwhile the client view (fail-closed).
            log.exception("conversations.info failed: the channel gets the client view until Slack answers",
                          channel=channel_id)
            return Sharing.UNKNOWN
        if sharing is Sharing.UNKNOWN:
            log.error("conversations.info answered in a shape we cannot read: the channel gets the client view",
                      channel=channel_id)
        self._cache[channel_id] = (self._clock(), sharing)
        return sharing

    async def audience(self, account: Account, channel: Channel) -> Audience:
        """What the channel's content is for now."""
        if channel.audience is Audience.CLIENT:
            return Audience.CLIENT  # never upgraded, never asked
        sharing = await self.sharing(channel.id)
        effective = effective_audience(channel.audience, sharing)
        if sharing is Sharing.SHARED:
            await self._report(account, channel)
        return effective

    async def channel(self, account: Account, channel: Channel) -> Channel:
        """The channel with its effective audience."""
        audience = await self.audience(account, channel)
        return channel if audience is channel.audience else channel.model_copy(update={"audience": audience})

    async def accounts(self, accounts: AccountsConfig) -> AccountsConfig:
        """The accounts with every channel at its effective audience (the same object when none
        changed), for code that routes on `Channel.audience`."""
        changed = False
        out = []
        for account in accounts.accounts:
            channels = [await self.channel(account, c) for c in account.channels]
            if any(a is not b for a, b in zip(channels, account.channels, strict=True)):
                changed = True
                account = account.model_copy(update={"channels": channels})
            out.append(account)
        return accounts.model_copy(update={"accounts": out}) if changed else accounts

    async def _report(self, account: Account, channel: Channel) -> None:
        if channel.id not in self._reported:
            self._reported.add(channel.id)
            log.error("an internal channel is shared with another organization: it gets the client view until "
                      "an admin removes the other organization or sets it to audience: client",
                      account=account.key, channel=channel.id)
        if self._notices is None:
            return
        text = translate(account.language, "channel.shared_internal", channel=f"<#{channel.id}>", account=account.name)
        others = [c.id for c in account.channels if c.audience is Audience.INTERNAL and c.id != channel.id]
        # Only to channels Slack says are ours alone (another shared one is no place for it).
        targets = [c for c in others if await self.sharing(c) is Sharing.PRIVATE_TO_US] or self._admins
        if not targets:
            log.error("no internal channel or admin to tell that a channel is shared", account=account.key,
                      channel=channel.id)
        for target in targets:
            try:
                await self._notices.post([f"shared-internal:{channel.id}:{target}"], target, Message(text))
            except (UpstreamError, PostBusy) as exc:
                # Tried again on the next use of the channel; the post is keyed, so once.
                log.warning("could not post the shared-channel notice", channel=target, error=str(exc))
