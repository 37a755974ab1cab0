"""Slack Web API behind a small port: posting and updating, paced per channel, retried, errors translated.

slack_sdk does not retry 429 by default; we add its retry handlers (429 honours Retry-After, 5xx and
connection errors back off) and still pace ourselves to ~1 message per second per channel, keeping
order within a channel. A token Slack refuses pauses all posting (`SlackPause`) instead of failing
message after message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import utc_now
from bot.domain.doctor import ChannelFacts
from bot.errors import CredentialsRefused, UpstreamError
from bot.logs import get_logger

log = get_logger("pulse.slack")

# Errors that will not go away by trying again.
_PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "missing_scope",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    # conversations.open for a direct message
    "user_not_found",
    "user_disabled",
    "cannot_dm_bot",
}
# Slack refuses the token itself: no message can go out until an operator fixes it.
_TOKEN_REFUSED = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}


# Slack message metadata that marks our posts: `event_payload` {"post_key": token}. The token is
# opaque (a hash): metadata can be read by any app in the channel, the client's too.
POST_EVENT_TYPE = "account_pulse_post"
# Slack's clock and ours may disagree: a settling search starts this much before our intent.
CLOCK_SKEW = dt.timedelta(minutes=2)
# A settling search reads at most this many pages of 200 messages (recent history only).
MAX_HISTORY_PAGES = 10


class SlackPort(Protocol):
    async def post_message(
        self, channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None,
        post_key: str | None = None,
    ) -> str: ...

    async def find_post(
        self, channel: str, post_key: str, since: dt.datetime, thread_ts: str | None = None
    ) -> str | None:
        """The ts of our message marked `post_key` posted since `since` (in `thread_ts`'s thread), or None."""
        ...

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str:
        """The link to one message (`chat.getPermalink`); raises when Slack cannot give it."""
        ...

    async def open_dm(self, user_id: str) -> str:
        """The id (D…) of the bot's direct message channel with `user_id`: post there through
        OncePoster like in any channel (a DM is keyed and settled by its real channel id)."""
        ...


class FileUploads(Protocol):
    async def upload_file(self, filename: str, content: bytes, title: str) -> str:
        """Upload a file without sharing it anywhere; its Slack file id (for an image block)."""
        ...


class PeopleLookup(Protocol):
    async def lookup(self, email: str) -> str | None: ...


def make_web_client(token: str, base_url: str, max_retries: int = 5) -> AsyncWebClient:
    """An AsyncWebClient with retries for rate limits, server errors and connection errors."""
    client = AsyncWebClient(token=token, base_url=base_url, timeout=20)
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
            AsyncServerErrorRetryHandler(max_retry_count=max_retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=max_retries),
        ]
    )
    return client


class ChannelPacer:
    """At most one message per `interval` seconds per channel, in call order within a channel."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def run(self, channel: str, call: Callable[[], Awaitable[Any]]) -> Any:
        # asyncio.Lock is FIFO, which keeps messages in order within the channel.
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last.get(channel, -1e9) + self._interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                return await call()
            finally:
                self._last[channel] = self._clock()


def _api_error(exc: SlackApiError) -> str:
    return exc.response.get("error", "unknown") if exc.response is not None else "unknown"


class SlackPause:
    """Posting held while Slack refuses the bot token (revoked, expired, workspace deactivated).

    A refused token is an operator's problem, not a bad message: nothing is sent and nothing is
    dead-lettered meanwhile. The error is logged once when the pause starts; `ready()` probes
    `auth.test` at most every `probe_every` seconds and the first success ends the pause;
    `take_ended()` then hands its window, once, to whoever tells the channels.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        probe_every: float = 30.0,
        clock: Callable[[], dt.datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._client = client
        self.probe_every = probe_every
        self._clock = clock
        self._monotonic = monotonic
        self.since: dt.datetime | None = None
        self._error: str | None = None
        self._next_probe = 0.0
        self._ended: tuple[dt.datetime, dt.datetime] | None = None

    def trip(self, error: str) -> None:
        """Slack refused the token: pause (logged once per pause)."""
        if self.since is not None:
            return
        self.since, self._error = self._clock(), error
        self._next_probe = self._monotonic() + self.probe_every
        log.error(
            "slack refused the bot token; posting is paused until it works again (nothing is lost)",
            error=error, probe_every_s=self.probe_every,
        )

    def health(self) -> list[str]:
        """For /healthz: the pause, while it lasts (deliveries wait meanwhile; nothing is lost)."""
        if self.since is None:
            return []
        return [f"slack posting paused since {self.since.isoformat()}: Slack refused the bot token ({self._error}); "
                "check SLACK_BOT_TOKEN and that the app is still installed"]

    async def ready(self) -> bool:
        """May we post? While paused, probe the token (at most every `probe_every` s)."""
        if self.since is None:
            return True
        if self._monotonic() < self._next_probe:
            return False
        self._next_probe = self._monotonic() + self.probe_every
        try:
            await self._client.auth_test()
        except SlackApiError as exc:
            log.info("slack still refuses the bot token; posting stays paused", error=_api_error(exc))
            return False
        except (SlackClientError, OSError, asyncio.TimeoutError) as exc:
            log.info("slack unreachable while paused; posting stays paused", error=f"{type(exc).__name__}: {exc}")
            return False
        self._ended = (self.since, self._clock())
        log.warning("slack accepts the bot token again; posting resumes", paused_since=self.since.isoformat())
        self.since = None
        return True

    def take_ended(self) -> tuple[dt.datetime, dt.datetime] | None:
        """The (from, to) of the pause that just ended, once; else None."""
        ended, self._ended = self._ended, None
        return ended


def _translate(exc: Exception) -> UpstreamError:
    if isinstance(exc, SlackApiError):
        error = _api_error(exc)
        if error in _TOKEN_REFUSED:
            return CredentialsRefused("slack", error)
        status = exc.response.status_code if exc.response is not None else None
        retry_after = None
        if exc.response is not None and exc.response.headers:
            value = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
            retry_after = float(value) if value else None
        return UpstreamError(
            "slack", error, retryable=error not in _PERMANENT, status=status, retry_after=retry_after,
            uncertain=status is not None and status >= 500,
        )
    # No answer from Slack (timeout, connection dropped): the request may have reached it.
    return UpstreamError("slack", f"{type(exc).__name__}: {exc}", retryable=True, uncertain=True)


def _posting_client(client: AsyncWebClient) -> AsyncWebClient:
    """The client for chat.postMessage: it retries only rate limits (Slack did not post then).

    A server error or a dropped connection may come after Slack posted the message: sending it
    again blindly would post it twice. Such a post is left uncertain for the caller to settle.
    """
    return AsyncWebClient(
        token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
        proxy=client.proxy, session=client.session,
        retry_handlers=[h for h in client.retry_handlers if isinstance(h, AsyncRateLimitErrorRetryHandler)],
    )


def _marked(message: dict[str, Any], post_key: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == POST_EVENT_TYPE and payload.get("post_key") == post_key


async def read_channel(client: AsyncWebClient, channel_id: str) -> ChannelFacts | None:
    """What conversations.info says about a channel; None when Slack says it does not exist (or,
    for a private channel, that the bot is not in it: Slack answers the same)."""
    try:
        response = await client.conversations_info(channel=channel_id)
    except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
        if isinstance(exc, SlackApiError) and _api_error(exc) == "channel_not_found":
            return None
        raise _translate(exc) from exc
    channel = response.get("channel") or {}
    return ChannelFacts(
        id=channel_id,
        name=channel.get("name"),
        # Missing flags read as the unsafe answer: not a member, shared with another organization.
        is_member=channel.get("is_member") is True,
        is_ext_shared=channel.get("is_ext_shared") is not False,
        is_archived=channel.get("is_archived") is True,
    )


class SlackWeb:
    """The real adapter over slack_sdk's AsyncWebClient."""

    def __init__(self, client: AsyncWebClient, pacer: ChannelPacer | None = None, pause: SlackPause | None = None):
        self.client = client
        self._poster = _posting_client(client)
        self._pacer = pacer or ChannelPacer()
        self.pause = pause or SlackPause(client)
        self._bot_user: str | None = None
        self._dms: dict[str, str] = {}  # user id -> DM channel id (Slack keeps it for good)

    async def _call(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        if self.pause.since is not None:
            # Paused: do not knock on Slack's door with every message; `pause.ready()` probes.
            raise CredentialsRefused("slack", "posting paused: slack refused the bot token")
        try:
            return await self._pacer.run(kwargs["channel"], lambda: method(**kwargs))
        except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
            error = _translate(exc)
            if isinstance(error, CredentialsRefused):
                self.pause.trip(error.message)
            raise error from exc

    async def post_message(
        self, channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None,
        post_key: str | None = None,
    ) -> str:
        """Post; with `post_key`, the message carries it as metadata (`find_post` finds it again)."""
        metadata = (
            {"event_type": POST_EVENT_TYPE, "event_payload": {"post_key": post_key}} if post_key else None
        )
        response = await self._call(
            self._poster.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            metadata=metadata,
        )
        return response["ts"]

    async def find_post(
        self, channel: str, post_key: str, since: dt.datetime, thread_ts: str | None = None
    ) -> str | None:
        """Our own message marked `post_key` among the channel's messages since `since` (only
        called for a post a crash left uncertain: needs channels:history / groups:history)."""
        if channel.startswith("D"):
            # The bot never reads DMs (no im:history): an uncertain DM is sent again rather than
            # lost. Only a crash between Slack's answer and recording it can repeat one.
            log.warning("uncertain direct message not settled: DMs are not read; sending again", channel=channel)
            return None
        if self.pause.since is not None:
            raise CredentialsRefused("slack", "posting paused: slack refused the bot token")
        try:
            if self._bot_user is None:
                self._bot_user = (await self.client.auth_test())["user_id"]
            oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
            cursor = None
            for _ in range(MAX_HISTORY_PAGES):
                args: dict[str, Any] = dict(
                    channel=channel, oldest=oldest, limit=200, include_all_metadata=True, cursor=cursor
                )
                if thread_ts:
                    response = await self.client.conversations_replies(ts=thread_ts, **args)
                else:
                    response = await self.client.conversations_history(**args)
                messages: list[Any] = response.get("messages", [])
                for message in messages:
                    if message.get("user") == self._bot_user and _marked(message, post_key):
                        return message["ts"]
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not response.get("has_more") or not cursor:
                    return None
        except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
            error = _translate(exc)
            if isinstance(error, CredentialsRefused):
                self.pause.trip(error.message)
            raise error from exc
        # Not settled within the pages we read: never guess (posting could repeat the message).
        raise UpstreamError(
            "slack", f"post {post_key} not settled within {MAX_HISTORY_PAGES} pages of history", retryable=True
        )

    async def upload_file(self, filename: str, content: bytes, title: str) -> str:
        """Upload a file without sharing it (see `upload_file`); its Slack file id."""
        return await upload_file(self, filename, content, title)

    async def permalink(self, channel: str, ts: str) -> str:
        """`chat.getPermalink` (no scope needed): the message's link; an UpstreamError when Slack cannot."""
        try:
            response = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
            raise _translate(exc) from exc
        link = response.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise UpstreamError("slack", "chat.getPermalink gave no link", retryable=False)
        return link

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        """Replace a posted message's text and blocks (`chat.update`), paced with the channel's posts."""
        await self._call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)

    async def open_dm(self, user_id: str) -> str:
        """`conversations.open` with one user (im:write); the channel id is remembered."""
        known = self._dms.get(user_id)
        if known is not None:
            return known
        if self.pause.since is not None:
            raise CredentialsRefused("slack", "posting paused: slack refused the bot token")
        try:
            response = await self.client.conversations_open(users=user_id)
        except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
            error = _translate(exc)
            if isinstance(error, CredentialsRefused):
                self.pause.trip(error.message)
            raise error from exc
        channel_id = str((response.get("channel") or {}).get("id") or "")
        if not channel_id:
            raise UpstreamError("slack", "conversations.open answered without a channel id", retryable=True)
        self._dms[user_id] = channel_id
        return channel_id


async def upload_file(web: SlackWeb, filename: str, content: bytes, title: str) -> str:
    """`files_upload_v2`: files.getUploadURLExternal, the upload, files.completeUploadExternal
    (`files.upload` is gone). Shared nowhere: a message shows it by file id."""
    if web.pause.since is not None:
        raise CredentialsRefused("slack", "posting paused: slack refused the bot token")
    try:
        response = await web.client.files_upload_v2(filename=filename, content=content, title=title, alt_txt=title)
    except (SlackApiError, SlackClientError, OSError, asyncio.TimeoutError) as exc:
        error = _translate(exc)
        if isinstance(error, CredentialsRefused):
            web.pause.trip(error.message)
        raise error from exc
    return str(response["file"]["id"])


class SlackUsersByEmail:
    """Slack user ids by email (`users.lookupByEmail`), hits and misses cached for `ttl` seconds."""

    def __init__(self, client: AsyncWebClient, ttl: float = 3600, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}

    async def lookup(self, email: str) -> str | None:
        """The Slack user id for `email`, or None (unknown, or Slack failed: never raises)."""
        key = email.strip().lower()
        if not key:
            return None
        cached = self._cache.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        try:
            response = await self.client.users_lookupByEmail(email=email.strip())
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
            if error == "users_not_found":
                return self._remember(key, None)
            # Not cached: a missing scope or an outage should heal without waiting out the ttl.
            log.warning("slack user lookup by email failed", error=error)
            return None
        except (SlackClientError, OSError, asyncio.TimeoutError) as exc:
            log.warning("slack user lookup by email failed", error=f"{type(exc).__name__}: {exc}")
            return None
        user = response.get("user") or {}
        # A deactivated user cannot be notified: a mention would show an unknown user.
        user_id = None if user.get("deleted") else user.get("id")
        return self._remember(key, user_id)

    def _remember(self, key: str, user_id: str | None) -> str | None:
        self._cache[key] = (user_id, self._clock() + self._ttl)
        return user_id
