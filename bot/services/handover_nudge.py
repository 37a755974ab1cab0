"""The vacation-status nudge: someone who holds roles sets a Slack status that says they are away
(`bot.domain.handover.SlackStatus.looks_like_vacation`) with an expiration, and has no handover for
that time: one DM, "You seem to be away until …: hand your roles over?", with a button that opens
the handover form prefilled.

At most once per status: the DM is posted through `OncePoster` under a key made of the person, the
status (emoji, text) and its expiration, recorded in the store before Slack is called, so the same
event delivered twice, by two processes or after a restart, sends nothing more. (A DM a crash left
uncertain is sent again when that status's event comes again: DMs are never read, see README.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable

from bot.domain.accounts import AccountsConfig
from bot.domain.handover import away_days, read_status
from bot.domain.roles import roles_named
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.handover import render_nudge
from bot.services.exactly_once import OncePoster, PostBusy
from bot.services.handover import PeopleCheck
from integrations.slack import SlackPort
from integrations.store.store import Store

log = get_logger("pulse.handover")


class VacationNudges:
    def __init__(self, accounts: AccountsConfig, store: Store, clock: Callable[[], dt.datetime], people: PeopleCheck,
                 slack: SlackPort, poster: OncePoster):
        self.accounts = accounts
        self.store = store
        self.clock = clock
        self.people = people
        self.slack = slack
        self.poster = poster

    async def status_changed(self, user: object, home_team: str | None) -> bool:
        """A `user_status_changed` event's `user`: DM them once if the status asks for it; True if sent now."""
        status = read_status(user)
        user_id = user.get("id") if isinstance(user, dict) else None
        if status is None or not isinstance(user_id, str) or not status.looks_like_vacation():
            return False
        now = self.clock()
        if status.expiration is None or status.expiration <= now:
            return False  # no end to offer a handover until (or already over)
        accounts = [a for a in self.accounts.accounts if roles_named(a, user_id)]
        if not accounts:
            return False  # no roles: nothing to hand over
        start, end = away_days(accounts[0], now, status.expiration)
        current = await asyncio.to_thread(self.store.handovers.active, start - dt.timedelta(days=1))
        if any(h.from_user == user_id and h.start <= end and h.end >= start for h in current):
            return False  # a handover of theirs covers (part of) that time already
        if await self.people.kind_of(user_id, home_team) != "member":
            return False  # guests and other organizations' people hand nothing over (and Slack must know them)
        status_id = hashlib.sha256(
            f"{status.emoji}\n{status.text}\n{int(status.expiration.timestamp())}".encode()).hexdigest()[:24]
        key = f"handover:nudge:{user_id}:{status_id}"
        try:
            channel = await self.slack.open_dm(user_id)
            posted = await self.poster.post([key], channel, render_nudge(accounts[0].language, start, end))
        except PostBusy:
            return False  # the same status's event in another worker, now
        except UpstreamError as exc:
            log.warning("vacation nudge not sent", user=user_id, error=str(exc))
            return False
        log.info("vacation nudge", user=user_id, new=posted.new, until=end.isoformat())
        return posted.new
