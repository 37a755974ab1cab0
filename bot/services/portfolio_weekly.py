"""The weekly overview: each manager's accounts by need of attention, by direct message, once a week.

`tick` (every minute from `pulse serve` with the scheduler on) finds who is due
(`bot.domain.portfolio_weekly`: people holding a role today, their cron slot in their accounts'
timezone, within the grace) and sends each one message built from the stored snapshots only — the
Home's rows, those needing attention first — never a Jira fetch per person.

Never twice per person and week: the message's key (person + ISO week) is claimed in the store as
`OncePoster`'s intent before Slack is called, and answered after. The bot does not read DMs, so a
process killed between Slack's answer and the record leaves a claim nobody can settle: it is not
sent again (`OncePoster.post_unread`: that week's overview may be lost, never doubled). Slack
refusing the message releases the claim; the next tick tries again. Before each send the person is checked again to be an agency member
today (`Directory.is_member`): someone who became a guest or left for another team gets nothing
(recorded for the week, so not asked again); when Slack cannot tell, the next tick asks again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

from bot.domain.portfolio import AccountHealth, Scope, select
from bot.domain.portfolio_weekly import DEFAULT_CRON, GRACE, Recipient, recipients, week_key
from bot.logs import get_logger
from bot.render.portfolio import render_weekly
from bot.services.exactly_once import OncePoster, PostBusy
from bot.services.portfolio import PortfolioService

log = get_logger("pulse.portfolio")

Membership = Callable[[str], Awaitable[bool | None]]


class WeeklyOverview:
    def __init__(self, portfolio: PortfolioService, poster: OncePoster, is_member: Membership,
                 cron: str | None = DEFAULT_CRON, grace: dt.timedelta = GRACE):
        self.portfolio = portfolio
        self.poster = poster
        self.is_member = is_member
        self.cron = cron  # None: the weekly overview is off
        self.grace = grace

    async def tick(self) -> list[str]:
        """Send every overview that is due and not sent yet; the users sent one now."""
        if not self.cron:
            return []
        now = self.portfolio.clock()
        due: list[tuple[Recipient, str]] = []
        for person in recipients(self.portfolio.accounts.accounts, now, self.portfolio.handovers()):
            key = week_key(person, self.cron, now, self.grace)
            if key is not None:
                due.append((person, key))
        if not due:
            return []
        store = self.poster.store
        done = await asyncio.to_thread(store.posts.recorded, [key for _, key in due])
        due = [(person, key) for person, key in due if key not in done]
        if not due:
            return []
        healths, pending = await asyncio.to_thread(self.portfolio.healths)
        sent = []
        for person, key in due:
            try:
                if await self._send(person, key, healths, pending):
                    sent.append(person.user_id)
            except PostBusy:
                pass  # another process is sending it right now
            except Exception as exc:
                log.warning("weekly overview not sent; tried again on a later tick", user=person.user_id,
                            error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        return sent

    async def _send(self, person: Recipient, key: str, healths: list[AccountHealth], pending: list[str]) -> bool:
        member = await self.is_member(person.user_id)
        if member is None:
            log.warning("cannot tell whether a role holder is an agency member; weekly overview waits",
                        user=person.user_id)
            return False
        store, now = self.poster.store, self.portfolio.clock()
        if not member:
            log.warning("role holder is no longer an agency member; no weekly overview", user=person.user_id)
            await asyncio.to_thread(store.posts.record, key, person.user_id, None, None, now)
            return False
        mine = await asyncio.to_thread(self.portfolio.mine, person.user_id, healths)
        mine |= set(person.account_keys)
        rows = select(healths, Scope.MINE, mine=mine)
        waiting = sum(1 for k in pending if k in mine)
        if not rows and waiting:
            return False  # none of their accounts assessed yet (just started): a later tick sends it
        message = render_weekly(rows, person.language, pending=waiting)
        channel = await self.poster.slack.open_dm(person.user_id)
        posted = await asyncio.shield(self.poster.post_unread([key], channel, message))
        if posted is not None and posted.new:
            log.info("weekly overview sent", user=person.user_id, accounts=len(rows), key=key)
        return posted is not None and posted.new
