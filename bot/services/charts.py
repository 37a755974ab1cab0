"""Charts in Slack: draw (in a worker thread: matplotlib is CPU work), upload through Slack's current
flow (`files.getUploadURLExternal`, the upload, `files.completeUploadExternal`, without sharing
the file anywhere), then show it as an image block — posted through `OncePoster` like every
message, so a digest's chart is posted once even across a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from typing import Any

from bot.domain.accounts import Account, Audience
from bot.domain.budget import budget_status
from bot.domain.charts import burn_up, timeline
from bot.domain.milestones import milestones_section
from bot.domain.work import Issue, Version
from bot.logs import get_logger
from bot.render.blocks import Message
from bot.render.charts import draw_burn_up, draw_timeline, png
from bot.render.i18n import translate
from integrations.slack import FileUploads

log = get_logger("pulse.charts")


def burn_up_png(account: Account, audience: Audience, issues: Iterable[Issue], now: dt.datetime) -> bytes | None:
    """The account's budget burn-up for `audience` as PNG; None without a budget in hours."""
    issues = list(issues)
    status = budget_status(account, audience, issues, now)
    if status is None or status.budget_hours is None:
        return None
    title = translate(account.language, "chart.burn_up", account=account.name)
    return png(draw_burn_up(burn_up(account, status, issues, audience), title, account.language))


def timeline_png(account: Account, audience: Audience, issues: Iterable[Issue], versions: Iterable[Version],
                 now: dt.datetime, since: dt.datetime | None = None) -> bytes | None:
    """The account's milestone timeline for `audience` as PNG (the milestones its digest section
    shows, released since `since` included); None when no milestone has a date."""
    section = milestones_section(account, audience, list(issues), list(versions), now, since)
    data = timeline(section)
    if not data.points:
        return None
    title = translate(account.language, "chart.timeline", account=account.name)
    return png(draw_timeline(data, title, account.language))


def image_block(file_id: str, alt_text: str) -> dict[str, Any]:
    return {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt_text[:2000]}


class Charts:
    def __init__(self, uploads: FileUploads):
        self._uploads = uploads

    async def burn_up_block(
        self, account: Account, audience: Audience, issues: Iterable[Issue], now: dt.datetime
    ) -> dict[str, Any] | None:
        """Draw and upload the burn-up; the image block showing it (None without a budget).
        Raises UpstreamError when Slack refuses the upload."""
        image = await asyncio.to_thread(burn_up_png, account, audience, list(issues), now)
        if image is None:
            return None
        title = translate(account.language, "chart.burn_up", account=account.name)
        file_id = await self._uploads.upload_file(f"burn-up-{account.key}-{now:%Y%m%d}.png", image, title)
        return image_block(file_id, title)

    async def message(self, account: Account, audience: Audience, issues: Iterable[Issue], now: dt.datetime) -> Message | None:
        block = await self.burn_up_block(account, audience, issues, now)
        if block is None:
            return None
        return Message(block["alt_text"], [block])

    async def timeline_block(
        self, account: Account, audience: Audience, issues: Iterable[Issue], versions: Iterable[Version],
        now: dt.datetime, since: dt.datetime | None = None,
    ) -> dict[str, Any] | None:
        """Draw and upload the milestone timeline for `audience`; the image block showing it (None
        when no milestone has a date). Raises UpstreamError when Slack refuses the upload."""
        image = await asyncio.to_thread(timeline_png, account, audience, list(issues), list(versions), now, since)
        if image is None:
            return None
        title = translate(account.language, "chart.timeline", account=account.name)
        file_id = await self._uploads.upload_file(f"timeline-{account.key}-{now:%Y%m%d}.png", image, title)
        return image_block(file_id, title)

    async def timeline_message(
        self, account: Account, audience: Audience, issues: Iterable[Issue], versions: Iterable[Version],
        now: dt.datetime, since: dt.datetime | None = None,
    ) -> Message | None:
        block = await self.timeline_block(account, audience, issues, versions, now, since)
        if block is None:
            return None
        return Message(block["alt_text"], [block])
