"""During a handover, the cover hears by DM of the away person's issues: once per handover, issue
and day (in the account's timezone), not per event.

An inbox step after posting (`InboxWorker._notify`): planning lists the batch's internal deliveries
about people away, posted now or before, with who covers them (`Plan.covered`, `bot.domain.cover`). Each
(handover, issue, day, cover) is one `OncePoster` key, so the intent is recorded in the store before
Slack is called: three events of one issue on one day make one DM, and a restart or a second worker
finds the key claimed instead of sending another. The bot cannot read DMs back (no im:history), so
a DM a crash cut off between Slack's answer and its record is not settled from history but left
alone (`OncePoster.post_unread`: at most once; a lost ping beats a duplicate). The DM carries internal content, so the cover's membership of the agency is asked of
Slack before each one: not a member (a guest, another team) → no DM; Slack cannot tell → the
deliveries are retried later (never a guess).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from bot.domain.accounts import Audience
from bot.domain.cover import CoverNote
from bot.domain.links import SiteLinks
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.handover import render_cover_dm
from bot.services.exactly_once import OncePoster, PostBusy
from bot.services.inbox_batch import log_failure
from bot.services.notification_posting import Covered
from integrations.slack import SlackPort

log = get_logger("pulse.handover")

# Whether someone is one of the agency today; None: Slack cannot tell now (Directory.is_member).
Membership = Callable[[str], Awaitable[bool | None]]


def dm_key(note: CoverNote) -> str:
    """One DM per handover, issue, day and cover (a chain changing mid-day tells the new cover too)."""
    return f"cover-dm:{note.handover_id}:{note.issue_key}:{note.day.isoformat()}:{note.holder.user_id}"


class CoverDMs:
    """Sends the cover's once-a-day DM per issue; see the module docstring."""

    def __init__(self, slack: SlackPort, once: OncePoster, is_member: Membership, links: SiteLinks | None = None):
        self.slack = slack
        self.once = once
        self.is_member = is_member
        self.links = links or SiteLinks()

    async def send(self, covered: Sequence[Covered]) -> dict[int, Exception]:
        """DM the covers of the people away whom the batch's internal deliveries concern; the
        deliveries whose DM failed (by inbox id), to be retried like any other (the channel posts
        are keyed: they are not repeated)."""
        due: dict[str, tuple[Covered, CoverNote]] = {}
        items: dict[str, list[int]] = {}
        for c in covered:
            if c.channel.audience is not Audience.INTERNAL:
                continue  # never for a client channel's message (it has no cover anyway)
            for note in c.notes:
                key = dm_key(note)
                due.setdefault(key, (c, note))
                items.setdefault(key, []).append(c.item.id)
        # Sent already (an earlier event of the issue today): no membership call, no DM.
        sent = await asyncio.to_thread(self.once.store.posts.recorded, list(due)) if due else set()
        failures: dict[int, Exception] = {}
        for key, (o, note) in due.items():
            if key in sent:
                continue
            try:
                await self._dm(key, o, note)
            except PostBusy as exc:
                log.info("another worker holds this cover DM; retrying shortly", reason=str(exc))
                for inbox_id in items[key]:
                    failures.setdefault(inbox_id, exc)
            except UpstreamError as exc:
                log_failure(exc, "cover DM")
                if not exc.retryable:
                    continue  # Slack refuses this DM for good (user gone): not the delivery's fault
                for inbox_id in items[key]:
                    failures.setdefault(inbox_id, exc)
            except Exception as exc:
                log_failure(exc, "cover DM")
                for inbox_id in items[key]:
                    failures.setdefault(inbox_id, exc)
        return failures

    async def _dm(self, key: str, o: Covered, note: CoverNote) -> None:
        user = note.holder.user_id
        member = await self.is_member(user)
        if member is None:
            raise UpstreamError("slack", f"cannot tell whether {user} is an agency member", retryable=True)
        if not member:
            log.warning("the cover is no longer an agency member; no DM", user=user, issue=note.issue_key)
            return
        channel = await self.slack.open_dm(user)
        message = render_cover_dm(o.account, note, o.channel.id, self.links)
        posted = await self.once.post_unread([key], channel, message)
        if posted is not None and posted.new:
            log.info("cover told by DM", user=user, issue=note.issue_key, handover=note.handover_id)
