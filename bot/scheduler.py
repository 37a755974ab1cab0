"""Scheduled digests: APScheduler ticks every minute; the store decides what is posted.

Each tick plans every channel's slots (`bot.domain.schedule.plan_slots`) against the slots
already claimed in the store, so restarts, missed slots and several processes need no scheduler
state of their own: the in-memory job store holds only the tick.

Channels are planned one by one and each failure stays with its channel: one channel's broken
schedule (or a store error while planning it) is logged with its traceback and shown by
`health()`, and every other channel still gets its digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import utc_now
from bot.domain.accounts import Account, AccountsConfig, Channel
from bot.domain.schedule import LOOKBACK, plan_slots
from bot.logs import get_logger
from bot.services.digests import RETRY_DELAYED, STALE_CLAIM, DigestService, worker_name

log = get_logger("pulse.scheduler")

# The audit entry that marks when the bot began scheduling a channel's digests (per cron).
SCHEDULE_STARTED = "digest.schedule_started"
# A tick that has not finished for this long is stuck (a tick is normally seconds to minutes).
STUCK_AFTER = dt.timedelta(minutes=15)


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
        self._since: dict[tuple[str, str], dt.datetime] = {}  # (channel, cron) -> first scheduled
        # channel -> what went wrong: planning its slots (until planning works again), and its
        # last digest run that raised (until a run of that channel ends without raising).
        self._schedule_failing: dict[str, str] = {}
        self._digest_failing: dict[str, str] = {}
        self._tick_started_at: dt.datetime | None = None
        self._tick_finished_at: dt.datetime | None = None

    def health(self) -> list[str]:
        """What is wrong with scheduled digests right now, one sentence each; empty when all is well.

        Listed: a channel whose schedule could not be planned at the last tick, a channel whose
        last digest run raised, and a stuck scheduler (a tick running for longer than STUCK_AFTER).
        For /healthz.
        """
        failing = {**self._digest_failing, **self._schedule_failing}
        problems = [f"digests of channel {channel}: {error}" for channel, error in sorted(failing.items())]
        started, finished = self._tick_started_at, self._tick_finished_at
        running = started is not None and (finished is None or finished < started)
        if running and started is not None and self._clock() - started > STUCK_AFTER:
            problems.append(f"scheduler stuck: a digest tick has been running since {started.isoformat()}")
        return problems

    async def tick(self) -> list[tuple[str, dt.datetime, str]]:
        """Post due digests and record skipped ones; returns (channel, slot, outcome) for each."""
        now = self._clock()
        self._tick_started_at = now
        try:
            outcomes = await self._tick(now)
        finally:
            self._tick_finished_at = self._clock()
        if outcomes:
            # One summary line per tick that did anything (idle minutes stay quiet).
            counts: dict[str, int] = {}
            for _, _, outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
            log.info("digest tick", **counts)
        return outcomes

    async def _tick(self, now: dt.datetime) -> list[tuple[str, dt.datetime, str]]:
        jobs, outcomes = [], []
        for account in self._accounts.accounts:
            for channel in account.channels:
                if channel.digest is None:
                    continue
                try:
                    post, skipped = await self._plan(account, channel, now)
                except Exception as exc:  # one channel's failure must not stop the others' digests
                    log.exception("digest schedule failed", account=account.key, channel=channel.id, cron=channel.digest.cron)
                    self._schedule_failing[channel.id] = f"schedule {channel.digest.cron!r} failed: {type(exc).__name__}: {exc}"
                    outcomes.append((channel.id, now, "failed"))
                    continue
                self._schedule_failing.pop(channel.id, None)
                outcomes.extend((channel.id, slot, "skipped") for slot in skipped)
                if post is not None:
                    jobs.append((account, channel, post))
        results = await asyncio.gather(
            *(self._service.run_slot(a, c, s) for a, c, s in jobs), return_exceptions=True
        )
        for (account, channel, slot), result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                log.error("digest failed", account=account.key, channel=channel.id, slot=slot.isoformat(), exc_info=result)
                self._digest_failing[channel.id] = f"digest for {slot.isoformat()} failed: {type(result).__name__}: {result}"
                outcomes.append((channel.id, slot, "failed"))
            else:
                self._digest_failing.pop(channel.id, None)
                outcomes.append((channel.id, slot, result.status))
        return outcomes

    async def _plan(self, account: Account, channel: Channel, now: dt.datetime) -> tuple[dt.datetime | None, list[dt.datetime]]:
        """The slot to post for one channel (or None), after closing the ones missed beyond grace."""
        assert channel.digest is not None
        grace = dt.timedelta(minutes=channel.digest.grace_minutes)
        since = await self._scheduled_since(account, channel, now)
        claimed = await asyncio.to_thread(
            self._store.digest_runs.claimed_slots,
            channel.id,
            now - max(LOOKBACK, grace),
            now - STALE_CLAIM,
            now - RETRY_DELAYED,
        )
        plan = plan_slots(channel.digest.cron, account.timezone, grace, now, claimed, since)
        skipped = []
        for slot in plan.skip:
            # Past grace: a delayed or abandoned run of this slot is closed as skipped too.
            run_id = await asyncio.to_thread(
                self._store.digest_runs.claim,
                account.key, channel.id, slot, worker_name(), now, now - STALE_CLAIM, now,
            )
            if run_id is not None:
                await asyncio.to_thread(self._store.digest_runs.finish, run_id, "skipped", now, error="missed beyond grace")
                log.warning("digest slot skipped: missed beyond grace", account=account.key, channel=channel.id, slot=slot.isoformat())
                skipped.append(slot)
        return plan.post, skipped

    async def _scheduled_since(self, account: Account, channel: Channel, now: dt.datetime) -> dt.datetime:
        """When the bot began scheduling this channel with this cron (recorded the first time)."""
        assert channel.digest is not None
        key = (channel.id, channel.digest.cron)
        if key not in self._since:
            self._since[key] = await asyncio.to_thread(self._first_scheduled, account, channel, now)
        return self._since[key]

    def _first_scheduled(self, account: Account, channel: Channel, now: dt.datetime) -> dt.datetime:
        assert channel.digest is not None
        entries = self._store.audit.entries(SCHEDULE_STARTED, channel.id)
        same_cron = [e["at"] for e in entries if e["details"].get("cron") == channel.digest.cron]
        if same_cron:
            return same_cron[0]
        if not entries:
            # A store from before these entries: the channel's first digest run says since when.
            first_run = self._store.digest_runs.first_slot(channel.id)
            if first_run is not None:
                return first_run
        # New channel, new cron or new store: slots before now were never this bot's to post.
        self._store.audit.record(
            "scheduler", SCHEDULE_STARTED, now,
            account_key=account.key, channel_id=channel.id, details={"cron": channel.digest.cron},
        )
        log.info("digest schedule started", account=account.key, channel=channel.id, cron=channel.digest.cron)
        return now

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
