"""Scheduled digests: APScheduler ticks every minute; the store decides what is posted.

Each tick plans every channel's slots (`bot.domain.schedule.plan_slots`) against the slots
already claimed in the store, so restarts, missed slots and several processes need no scheduler
state of their own: the in-memory job store holds only the tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import utc_now
from bot.domain.accounts import AccountsConfig
from bot.domain.schedule import LOOKBACK, plan_slots
from bot.logs import get_logger
from bot.services.digests import RETRY_DELAYED, STALE_CLAIM, DigestService, worker_name

log = get_logger("pulse.scheduler")


class DigestScheduler:
    def __init__(
        self,
        accounts: AccountsConfig,
        service: DigestService,
        store,
        clock: Callable[[], dt.datetime],
        tick_seconds: float = 60,
    ):
        self._accounts = accounts
        self._service = service
        self._store = store
        self._clock = clock
        self._tick_seconds = tick_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task | None = None

    async def tick(self) -> list[tuple[str, dt.datetime, str]]:
        """Post due digests and record skipped ones; returns (channel, slot, outcome) for each."""
        now = self._clock()
        jobs, outcomes = [], []
        for account in self._accounts.accounts:
            for channel in account.channels:
                if channel.digest is None:
                    continue
                grace = dt.timedelta(minutes=channel.digest.grace_minutes)
                claimed = await asyncio.to_thread(
                    self._store.digest_runs.claimed_slots,
                    channel.id,
                    now - max(LOOKBACK, grace),
                    now - STALE_CLAIM,
                    now - RETRY_DELAYED,
                )
                plan = plan_slots(channel.digest.cron, account.timezone, grace, now, claimed)
                for slot in plan.skip:
                    # Past grace: a delayed or abandoned run of this slot is closed as skipped too.
                    run_id = await asyncio.to_thread(
                        self._store.digest_runs.claim,
                        account.key, channel.id, slot, worker_name(), now, now - STALE_CLAIM, now,
                    )
                    if run_id is not None:
                        await asyncio.to_thread(self._store.digest_runs.finish, run_id, "skipped", now, error="missed beyond grace")
                        log.warning("digest slot skipped: missed beyond grace", account=account.key, channel=channel.id, slot=slot.isoformat())
                        outcomes.append((channel.id, slot, "skipped"))
                if plan.post is not None:
                    jobs.append((account, channel, plan.post))
        results = await asyncio.gather(
            *(self._service.run_slot(a, c, s) for a, c, s in jobs), return_exceptions=True
        )
        for (account, channel, slot), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                log.error("digest failed", account=account.key, channel=channel.id, slot=slot.isoformat(), exc_info=result)
                outcomes.append((channel.id, slot, "failed"))
            else:
                outcomes.append((channel.id, slot, result.status))
        if outcomes:
            # One summary line per tick that did anything (idle minutes stay quiet).
            counts: dict[str, int] = {}
            for _, _, outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
            log.info("digest tick", **counts)
        return outcomes

    def start(self) -> None:
        """Start ticking on the running event loop (first tick right away)."""
        self._scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
        self._scheduler.add_job(
            self._tick_in_own_task,
            IntervalTrigger(seconds=self._tick_seconds),
            id="digest-tick",
            max_instances=1,
            coalesce=True,
            next_run_time=utc_now(),
        )
        self._scheduler.start()
        log.info("scheduler started", channels=sum(1 for a in self._accounts.accounts for c in a.channels if c.digest))

    async def _tick_in_own_task(self) -> None:
        # APScheduler cancels a job still running at shutdown; a task of our own is awaited instead
        # (see stop), so a digest half posted is finished, not cut off and posted again later.
        if self._running is not None and not self._running.done():
            return
        self._running = asyncio.create_task(self.tick(), name="digest-tick")
        await asyncio.shield(self._running)

    async def stop(self, timeout: float = 60) -> None:
        """Stop ticking; let a tick in progress finish (up to `timeout` seconds)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self._running is not None and not self._running.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._running), timeout)
            except asyncio.TimeoutError:
                log.warning("digest tick still running at shutdown; cancelling it", timeout_s=timeout)
                self._running.cancel()
