"""Posting a message exactly once, across crashes: intent → Slack → answer, and settling in between.

1. The intent: the message's keys are written to `posts` (state `posting`, the worker's lease, an
   opaque token) *before* Slack is called.
2. Slack gets the message with the token as message metadata (`account_pulse_post`).
3. The answer: the keys are `done` with the message's ts.

A worker killed between 2 and 3 leaves an intent without an answer: Slack may or may not have the
message. The next worker to post those keys (once the dead worker's lease ran out) looks for the
token among the bot's own messages in that channel (or thread) since the intent was recorded —
only then, and only there — and records the message it finds, or posts if there is none. Slack
saying no (an error answer) releases the intent; no answer at all (timeout, dropped connection,
5xx) keeps it, so the retry settles it the same way.

Every poster of the bot goes through here: notifications, digests, budget alerts, notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.blocks import Message
from integrations.slack import SlackPort
from integrations.store.posts import Intent
from integrations.store.store import Store

log = get_logger("pulse.posting")


def owner_id() -> str:
    """A name for one worker of one process: host, pid, and a random part (a restarted container
    often gets the same pid, and its intents must not look like the dead one's)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def message_key(keys: list[str]) -> str:
    """The token a message carries in its metadata: opaque (keys can name delivery ids and
    changed values; metadata is readable by every app in the channel, the client's too)."""
    return hashlib.sha256(keys[0].encode()).hexdigest()[:32]


class NotRecorded(Exception):
    """Slack has the message but the store could not record its answer (the intent stays open,
    so whoever posts these keys next settles it from Slack's history)."""


class PostBusy(Exception):
    """Another live worker is posting (some of) these keys, or just did: try again shortly."""

    retry_after = 2.0


@dataclass(frozen=True)
class Posted:
    ts: str
    thread_ts: str | None
    new: bool  # posted now (False: posted before, found in the store or settled from Slack)


class OncePoster:
    """Posts messages exactly once per key for one worker (`owner`, holding intents for `lease`)."""

    def __init__(
        self, store: Store, slack: SlackPort, clock: Callable[[], dt.datetime], owner: str, lease: dt.timedelta
    ):
        self.store = store
        self.slack = slack
        self.clock = clock
        self.owner = owner
        self.lease = lease
        # Keys this worker is posting now. The store hands a worker back its own unanswered try (it
        # crashed), so two of its tasks on one key at once must be told apart here, not there.
        self._in_flight: set[str] = set()

    async def post(
        self,
        keys: list[str],
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        thread_issue: str | None = None,
    ) -> Posted:
        """Post `message` for `keys` unless it was posted; `thread_issue`: it starts that issue's
        thread (recorded with the answer). Raises PostBusy, UpstreamError."""
        if self._in_flight.intersection(keys):
            raise PostBusy(f"{channel}: {len(keys)} key(s) being posted by this worker now")
        self._in_flight.update(keys)
        try:
            return await self._post(keys, channel, message, thread_ts, thread_issue)
        finally:
            self._in_flight.difference_update(keys)

    async def _post(
        self, keys: list[str], channel: str, message: Message, thread_ts: str | None, thread_issue: str | None
    ) -> Posted:
        token = message_key(keys)
        intent = await asyncio.to_thread(
            self.store.posts.intend, keys, channel, token, thread_ts, thread_issue, self.owner, self.clock(), self.lease
        )
        if intent.status == "done":
            return Posted(intent.ts or "", intent.thread_ts, new=False)
        if intent.status == "busy":
            raise PostBusy(f"{channel}: {len(keys)} key(s) held by another worker")
        if intent.status == "uncertain":
            found = await self._settle(channel, intent)
            if not intent.exact:
                # The dead worker's message grouped other keys: what is settled is recorded (or
                # forgotten); the caller plans again from what the store now says.
                raise PostBusy(f"{channel}: settled an earlier grouping; plan again")
            if found is not None:
                await self._answer(keys, channel, found, intent.thread_ts, thread_issue, message)
                return Posted(found, intent.thread_ts, new=False)
            await asyncio.to_thread(self.store.posts.retry_intent, keys, thread_ts, self.owner, self.clock())
        async with self._slack_call(keys):
            ts = await self.slack.post_message(
                channel, message.text, message.blocks or None, thread_ts=thread_ts, post_key=token
            )
        try:
            # Shielded: a shutdown (task cancel) right after Slack answered must still record it.
            await asyncio.shield(self._answer(keys, channel, ts, thread_ts, thread_issue, message))
        except Exception as exc:
            raise NotRecorded(f"{type(exc).__name__}: {exc}") from exc
        return Posted(ts, thread_ts, new=True)

    @contextlib.asynccontextmanager
    async def _slack_call(self, keys: list[str]) -> AsyncIterator[None]:
        """Around the one Slack call made for claimed `keys`: when it fails, settle the intent."""
        try:
            yield
        except UpstreamError as exc:
            if exc.uncertain:
                await asyncio.to_thread(self.store.posts.let_go, keys, self.owner, self.clock())
            else:
                # Slack said no: it has no such message. Forget the intent (a retry starts afresh).
                await asyncio.to_thread(self.store.posts.release, keys, self.owner)
            raise
        except Exception:
            # No telling whether Slack got it: the intent stays for the next try to settle.
            await asyncio.to_thread(self.store.posts.let_go, keys, self.owner, self.clock())
            raise

    async def post_unread(self, keys: list[str], channel: str, message: Message) -> Posted | None:
        """Post to a channel the bot cannot read back (a direct message: no im:history), never twice:
        unless one of `keys` was claimed before — posted, in flight, or left uncertain by a crash
        between Slack's answer and its record. An uncertain one cannot be settled from history, so
        it is not sent again (at most once there). None when nothing was posted now."""
        claimed = await asyncio.to_thread(lambda: [k for k in keys if self.store.posts.get(k) is not None])
        if claimed:
            return None
        return await self.post(keys, channel, message)

    async def update(self, keys: list[str], channel: str, ts: str, message: Message) -> bool:
        """Rewrite message `ts` in place to `message`, once per `keys`: claimed in the store before
        Slack is called (a second worker finds it done or busy). An update is idempotent, so one a
        crash left uncertain is simply done again. True when updated now. Raises PostBusy, UpstreamError."""
        intent = await asyncio.to_thread(
            self.store.posts.intend, keys, channel, message_key(keys), None, None, self.owner, self.clock(), self.lease
        )
        if intent.status == "done":
            return False
        if intent.status == "busy" or (intent.status == "uncertain" and not intent.exact):
            raise PostBusy(f"{channel}: {len(keys)} key(s) held by another worker")
        if intent.status == "uncertain":
            await asyncio.to_thread(self.store.posts.retry_intent, keys, None, self.owner, self.clock())
        async with self._slack_call(keys):
            await self.slack.update_message(channel, ts, message.text, message.blocks or None)
        await asyncio.shield(asyncio.to_thread(self.store.posts.answer, keys, ts, None))
        return True

    async def _settle(self, channel: str, intent: Intent) -> str | None:
        """Look for each uncertain message in Slack; record what is found, forget what is not.
        The ts found for the (exact) message, if any."""
        assert intent.since is not None
        found = None
        for token in sorted(intent.message_keys):
            ts = await self.slack.find_post(channel, token, intent.since, intent.thread_ts)
            log.warning(
                "uncertain post settled from Slack's history", channel=channel, post_key=token,
                found=ts is not None, since=intent.since.isoformat(), thread_ts=intent.thread_ts,
            )
            if intent.exact:
                found = ts
            elif ts is not None:
                await asyncio.to_thread(self.store.posts.answer_found, token, ts, intent.thread_ts, self.owner)
            else:
                await asyncio.to_thread(self.store.posts.release_message, token, self.owner)
        return found

    async def _answer(
        self, keys: list[str], channel: str, ts: str, thread_ts: str | None, thread_issue: str | None, message: Message
    ) -> None:
        def record() -> None:
            self.store.posts.answer(keys, ts, thread_ts)
            if thread_issue and thread_ts is None:
                self.store.threads.start(channel, thread_issue, ts, self.clock(), message.text, message.blocks)

        await asyncio.to_thread(record)

    async def renew(self) -> int:
        """Extend the lease of this worker's intents (part of its heartbeat)."""
        return await asyncio.to_thread(self.store.posts.renew, self.owner, self.clock(), self.lease)
