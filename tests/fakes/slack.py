"""`InMemorySlack`: the Slack port in memory; records what would have been posted."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from bot.errors import UpstreamError


@dataclass
class InMemorySlack:
    """A SlackPort fake for service tests: records what would have been posted."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[UpstreamError] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    fail_next_update: list[Exception] = field(default_factory=list)
    searches: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # uploaded (upload_file), in order
    # Users a DM cannot be opened with (conversations.open answers user_not_found / user_disabled).
    no_dm: set[str] = field(default_factory=set)
    dms_opened: list[str] = field(default_factory=list)
    # chat.getPermalink answers message_not_found (the message is gone, or Slack cannot say).
    no_permalink: bool = False

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)

    async def post_message(
        self, channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None,
        post_key: str | None = None,
    ) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        ts = f"{1_790_000_000 + next(self._ts)}.000100"
        self.messages.append(
            dict(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, ts=ts, post_key=post_key)
        )
        return ts

    async def find_post(
        self, channel: str, post_key: str, since: dt.datetime, thread_ts: str | None = None
    ) -> str | None:
        self.searches.append(dict(channel=channel, post_key=post_key, since=since, thread_ts=thread_ts))
        if channel.startswith("D"):
            return None  # like the adapter (integrations/slack.py): the bot cannot read DMs (no im:history)
        for m in self.messages:
            if m["channel"] == channel and m["post_key"] == post_key and m["thread_ts"] == thread_ts:
                return m["ts"]
        return None

    async def update_message(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        if self.fail_next_update:
            raise self.fail_next_update.pop(0)
        self.updates.append(dict(channel=channel, ts=ts, text=text, blocks=blocks))

    async def permalink(self, channel: str, ts: str) -> str:
        if self.no_permalink:
            raise UpstreamError("slack", "message_not_found", retryable=False)
        return f"https://agency.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    async def open_dm(self, user_id: str) -> str:
        if user_id in self.no_dm:
            raise UpstreamError("slack", "user_not_found", retryable=False)
        self.dms_opened.append(user_id)
        return self.dm_channel(user_id)

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The DM channel id `open_dm` gives for `user_id` (tests read a person's DMs with it)."""
        return "D" + user_id.removeprefix("U").removeprefix("W")

    def dms_to(self, user_id: str) -> list[dict[str, Any]]:
        return self.in_channel(self.dm_channel(user_id))

    async def upload_file(self, filename: str, content: bytes, title: str) -> str:
        self.files.append(dict(filename=filename, content=content, title=title))
        return f"F{len(self.files):08d}"

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel]
