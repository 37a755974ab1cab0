"""Digests as a use case: fetch from Jira → compute → render → post → record.

Scheduled digests post exactly once per channel and slot: the slot is claimed in the store before
anything is posted, and every message of a digest is posted under its own key through `OncePoster`
(intent, Slack, answer; an uncertain part is settled from Slack's history), so a retry after a
crash continues where it stopped instead of posting twice. When Jira keeps failing, the
internal channel hears that the digest is delayed — a digest is never built from partial data.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from structlog.contextvars import bind_contextvars, bound_contextvars, unbind_contextvars

from bot.domain.accounts import Account, Audience, Channel
from bot.domain.digest import Digest, build_digest, default_since
from bot.domain.digest_query import digest_jql
from bot.domain.jira_trouble import JiraTrouble, jira_scope, jira_trouble
from bot.domain.roles import Handover
from bot.domain.support_figures import support_figures
from bot.domain.work import Issue, Version
from bot.errors import UpstreamError, UpstreamUnavailable
from bot.logs import get_logger
from bot.render.blocks import Message, escape_mrkdwn
from bot.render.digest import RenderedDigest, render_digest
from bot.render.i18n import translate
from bot.render.status_page import status_page_storage, status_page_title, with_status_page_link
from bot.services.channel_audiences import ChannelAudiences
from bot.services.charts import Charts
from bot.services.exactly_once import OncePoster, PostBusy, owner_id
from integrations.confluence import ConfluencePort
from integrations.jira import JiraPort
from integrations.jira_calls import count_calls
from integrations.slack import SlackPort
from integrations.store.store import Store

log = get_logger("pulse.digests")

T = TypeVar("T")

# A claim older than this belongs to a process that died mid-digest: another may take it over.
STALE_CLAIM = dt.timedelta(minutes=2)
# A live process renews its slot's claim this often (seconds) while it composes and posts, so a
# claim goes stale only when its process died: six beats in a row would have to fail.
CLAIM_HEARTBEAT_S = 20.0
# How long a digest part's intent is its poster's alone (much less than STALE_CLAIM).
INTENT_LEASE = dt.timedelta(minutes=1)
# A slot delayed by a Jira outage is tried again this long after (while within its grace period).
RETRY_DELAYED = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class JiraData:
    issues: list[Issue]
    versions: list[Version]
    calls: int


@dataclass(frozen=True)
class SlotResult:
    status: str  # posted | claimed-elsewhere | delayed
    messages: int = 0
    jira_calls: int = 0
    text: str = ""  # the digest as plain text, for the CLI and the demo


async def _nothing() -> list[Version]:
    return []


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DigestService:
    def __init__(
        self,
        *,
        jira: JiraPort,
        slack: SlackPort | None,
        store: Store,
        clock: Callable[[], dt.datetime],
        jira_browse_url: str | None = None,
        retry_delays: Sequence[float] = (30.0, 120.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jira_concurrency: int = 6,
        confluence: ConfluencePort | None = None,
        claim_heartbeat_s: float = CLAIM_HEARTBEAT_S,
        audiences: ChannelAudiences | None = None,
    ):
        self._jira = jira
        # Channels' effective audiences (an internal channel Slack calls shared gets the client
        # view); None: as configured.
        self._audiences = audiences
        self._claim_heartbeat_s = claim_heartbeat_s
        self._slack = slack
        self._store = store
        self._clock = clock
        self._browse = jira_browse_url
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        # Bounded: the library is synchronous, each fetch holds a worker thread.
        self._jira_slots = asyncio.Semaphore(jira_concurrency)
        self._jira_pool = ThreadPoolExecutor(max_workers=2 * jira_concurrency, thread_name_prefix="digest-jira")
        self._confluence = confluence
        self._inflight: dict[tuple, asyncio.Future[JiraData]] = {}
        # A digest's intents are touched only by whoever holds the slot's claim, and a claim is
        # taken over only when stale (STALE_CLAIM): by then a dead process's intents have expired.
        # No Slack: this service only composes (`pulse digest` without --post), it never posts.
        self._once = OncePoster(store, slack, clock, owner_id(), INTENT_LEASE) if slack is not None else None
        # Told of each scheduled digest's Jira data (the portfolio refreshes its snapshot from it).
        self.on_fetched: Callable[[Account, JiraData, dt.datetime], Awaitable[None]] | None = None
        # Draws and uploads the budget burn-up that follows an internal digest (None: no charts).
        self.charts: Charts | None = None

    def _poster(self) -> OncePoster:
        if self._once is None:
            raise RuntimeError("this DigestService was built without Slack: it composes digests, it does not post")
        return self._once

    # -- fetch -------------------------------------------------------------------------------

    async def _in_jira_thread(self, fn: Callable[..., T], *args: object) -> T:
        # Our own pool (not asyncio's shared default, capped at 6 threads here), so Jira fetches
        # never queue the store writes behind them; the caller's context carries the call counter.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._jira_pool, context.run, fn, *args)

    async def _fetch_once(self, account: Account, now: dt.datetime, since: dt.datetime) -> JiraData:
        projects = list(account.jira.projects)
        with count_calls() as counter:
            # Versions come alongside the (sequentially paged) search: one round trip less.
            results = await asyncio.gather(
                self._in_jira_thread(self._jira.fetch_issues, digest_jql(account, now, since)),
                self._in_jira_thread(self._jira.fetch_versions_for, projects) if projects else _nothing(),
                return_exceptions=True,  # wait for both, so no failure goes unobserved
            )
        issues, versions = results
        if isinstance(issues, BaseException):
            raise issues
        if isinstance(versions, BaseException):
            raise versions
        return JiraData(issues, versions, counter.value)

    @property
    def jira(self) -> JiraPort:
        """The Jira port the digests read (handover steps ask it for comments too)."""
        return self._jira

    async def fetch(self, account: Account, now: dt.datetime, since: dt.datetime) -> JiraData:
        """Everything one digest needs from Jira; concurrent digests asking the same share one fetch.

        The client and internal channels of an account usually tick in the same minute and need
        the same issues: the second one waits for the first's fetch (and reports 0 calls of its own).
        """
        key = (account.key, digest_jql(account, now, since), tuple(account.jira.projects))
        running = self._inflight.get(key)
        if running is not None:
            data = await asyncio.shield(running)
            return dataclasses.replace(data, calls=0)
        # Shared by the account's channels: its lines name the account, not the channel that asked first.
        context = contextvars.copy_context()
        context.run(unbind_contextvars, "channel", "slot", "audience")
        task = asyncio.get_running_loop().create_task(self._fetch_with_retries(account, now, since), context=context)
        self._inflight[key] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(key, None)
            else:
                task.add_done_callback(lambda _t: self._inflight.pop(key, None))

    async def _fetch_with_retries(self, account: Account, now: dt.datetime, since: dt.datetime) -> JiraData:
        """Retries a failing Jira with backoff, then gives up whole (never partial data)."""
        attempt = 0
        while True:
            try:
                async with self._jira_slots:
                    return await self._fetch_once(account, now, since)
            except UpstreamError as exc:
                if not exc.retryable or attempt >= len(self._retry_delays):
                    raise UpstreamUnavailable(
                        exc.service, exc.message, retryable=exc.retryable, status=exc.status
                    ) from exc
                delay = max(self._retry_delays[attempt], exc.retry_after or 0)
                log.warning("jira failed, retrying digest fetch", account=account.key, error=str(exc), retry_in_s=delay)
                attempt += 1
                await self._sleep(delay)

    def close(self) -> None:
        """Release the Jira worker threads."""
        self._jira_pool.shutdown(wait=False, cancel_futures=True)

    async def audience(self, account: Account, channel: Channel) -> Audience:
        """What the channel's digest is for: its effective audience (see ChannelAudiences)."""
        return await self._audiences.audience(account, channel) if self._audiences else channel.audience

    # -- compose -----------------------------------------------------------------------------

    async def compose(
        self, account: Account, audience: Audience, now: dt.datetime, since: dt.datetime | None = None
    ) -> tuple[Digest, RenderedDigest, JiraData]:
        """Build and render one digest as of `now` (no posting)."""
        # Fetched for the default window when there was no previous digest; the digest itself is
        # told which, so it says "in the last 7 days" rather than "since the last digest".
        data = await self.fetch(account, now, default_since(now, since))
        handovers = await self._handovers(now) if audience is Audience.INTERNAL else []
        digest = build_digest(account, audience, data.issues, data.versions, now, since, handovers)
        if account.support is not None and self._store is not None:
            # The support section comes from the store (requests, clocks), not from Jira.
            requests = await asyncio.to_thread(self._store.support.in_period, account.key, digest.since, now)
            # The client's figures: only requests in channels the client sees (effective audience).
            client_channels = ({c.id for c in account.channels if await self.audience(account, c) is Audience.CLIENT}
                               if audience is Audience.CLIENT else None)
            figures = support_figures(account, audience, requests, digest.since, now, client_channels)
            digest = dataclasses.replace(digest, support=figures)
        return digest, render_digest(digest, account, jira_url=self._browse), data

    async def _handovers(self, now: dt.datetime) -> list[Handover]:
        """Handovers in force around `now` (the budget line names who holds the role today)."""
        if self._store is None:
            return []
        return await asyncio.to_thread(self._store.handovers.active, now.date() - dt.timedelta(days=1))

    async def publish_status_page(
        self, account: Account, data: JiraData, now: dt.datetime, since: dt.datetime
    ) -> str | None:
        """Update the account's Confluence status page (client view); its URL, or None.

        The page is written for the client audience whatever channel triggered it: status pages
        live in the account's space, which clients often read. A Confluence failure never holds
        back the Slack digest.
        """
        scope = account.confluence
        if self._confluence is None or scope is None or scope.status_page_parent_id is None:
            return None
        digest = build_digest(account, Audience.CLIENT, data.issues, data.versions, now, since)
        rendered = render_digest(digest, account)
        try:
            return await asyncio.to_thread(
                self._confluence.publish_status_page,
                scope.space,
                scope.status_page_parent_id,
                status_page_title(account, digest),
                status_page_storage(rendered),
            )
        except UpstreamError as exc:
            log.warning("status page not updated", account=account.key, error=str(exc))
            return None

    # -- post --------------------------------------------------------------------------------

    async def _post_messages(self, key: str, channel_id: str, messages: list[Message]) -> str | None:
        """Post the digest and its continuation replies; skip any part already posted under `key`."""
        parent_ts: str | None = None
        for index, message in enumerate(messages):
            # Shielded: once a part is on its way to Slack, a shutdown must not cut it off between
            # Slack's answer and our record of it.
            posted = await asyncio.shield(self._poster().post([f"{key}:{index}"], channel_id, message, parent_ts))
            parent_ts = parent_ts or posted.ts
        return parent_ts

    async def _post_chart(
        self, account: Account, data: JiraData, at: dt.datetime, channel_id: str, key: str, thread_ts: str,
        timeline: bool = False, since: dt.datetime | None = None,
    ) -> None:
        """The internal budget burn-up (or, with `timeline`, the milestone timeline of the milestones
        the digest shows since `since`), in the digest's thread, once (keyed like its parts). A chart
        that cannot be drawn or uploaded is logged and left out: it never holds back the digest."""
        assert self.charts is not None
        if await asyncio.to_thread(self._store.posts.get, key) is not None:
            return  # posted (or on its way) before a restart: not uploaded again
        try:
            if timeline:
                message = await self.charts.timeline_message(account, Audience.INTERNAL, data.issues, data.versions,
                                                             at, since)
            else:
                message = await self.charts.message(account, Audience.INTERNAL, data.issues, at)
            if message is not None:
                await asyncio.shield(self._poster().post([key], channel_id, message, thread_ts))
        except (UpstreamError, PostBusy) as exc:
            log.warning("the digest's chart was left out", error=str(exc))
        except Exception:
            log.exception("the digest's chart was left out")

    async def post_manual(self, channel_id: str, rendered: RenderedDigest, stamp: str) -> str | None:
        """Post an already rendered digest on request (CLI `--post`); keyed by when it was asked."""
        return await self._post_messages(f"manual:{channel_id}:{stamp}", channel_id, rendered.messages)

    async def notify_delayed(
        self, account: Account, slot: dt.datetime, since: dt.datetime, error: UpstreamError
    ) -> None:
        """Tell the account's internal channels, once per slot, that a digest is late: because Jira
        is down, or because this account's Jira projects or query are not found or not readable
        (then with Jira's words and what to fix: waiting does not help)."""
        trouble = jira_trouble(error)
        if trouble is JiraTrouble.DOWN:
            when = since.astimezone(account.tz).strftime("%Y-%m-%d %H:%M")
            text = translate(account.language, "digest.delayed", since=when)
            log.warning("digest delayed", account=account.key, slot=slot.isoformat(), error=str(error))
        else:
            message_id = "digest.jira_not_found" if trouble is JiraTrouble.NOT_FOUND else "digest.jira_forbidden"
            text = translate(account.language, message_id, scope=escape_mrkdwn(jira_scope(account)), detail=escape_mrkdwn(error.message))
            log.error("digest cannot be built: the account's Jira scope is not found or not readable",
                      exc_info=error, account=account.key, slot=slot.isoformat(), trouble=trouble.value,
                      error=str(error))
        for channel in account.channels:
            if await self.audience(account, channel) is not Audience.INTERNAL:
                continue
            # The client and internal digests of one slot, and every retry of it, share this notice.
            key = f"delayed:{account.key}:{slot.isoformat()}:{channel.id}"
            try:
                await self._poster().post([key], channel.id, Message(text))
            except (UpstreamError, PostBusy):
                log.exception("could not post the delay notice", channel=channel.id)

    async def run_slot(self, account: Account, channel: Channel, slot: dt.datetime) -> SlotResult:
        """Post the channel's digest for one schedule slot, exactly once across processes."""
        # Every line of this job (its claim's heartbeat task too) names the account, channel, slot.
        with bound_contextvars(account=account.key, channel=channel.id, slot=slot.isoformat(),
                               audience=channel.audience.value):
            return await self._run_slot(account, channel, slot)

    async def _run_slot(self, account: Account, channel: Channel, slot: dt.datetime) -> SlotResult:
        runs = self._store.digest_runs
        now = self._clock()
        run_id = await asyncio.to_thread(
            runs.claim, account.key, channel.id, slot, worker_name(), now, now - STALE_CLAIM, now - RETRY_DELAYED
        )
        if run_id is None:
            return SlotResult("claimed-elsewhere")
        heartbeat = asyncio.create_task(self._keep_claim(run_id), name="digest-claim-heartbeat")
        try:
            return await self._run_claimed(account, channel, slot, run_id, now)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _keep_claim(self, run_id: int) -> None:
        """Renew the slot's claim until cancelled: only a dead process's claim goes stale."""
        while True:
            await asyncio.sleep(self._claim_heartbeat_s)
            try:
                await asyncio.to_thread(self._store.digest_runs.renew, run_id, worker_name(), self._clock())
            except Exception:
                log.warning("renewing a digest claim failed; the next beat tries again", exc_info=True)

    async def _run_claimed(
        self, account: Account, channel: Channel, slot: dt.datetime, run_id: int, now: dt.datetime
    ) -> SlotResult:
        runs = self._store.digest_runs
        audience = await self.audience(account, channel)
        bind_contextvars(audience=audience.value)  # the effective one (run_slot bound the configured)
        since = await asyncio.to_thread(runs.last_posted, channel.id, slot)
        try:
            _digest, rendered, data = await self.compose(account, audience, slot, since)
        except UpstreamUnavailable as exc:
            await asyncio.to_thread(runs.finish, run_id, "delayed", self._clock(), error=str(exc))
            await self.notify_delayed(account, slot, now, exc)
            return SlotResult("delayed")
        if self.on_fetched is not None:
            await self.on_fetched(account, data, slot)
        url = await self.publish_status_page(account, data, slot, default_since(slot, since))
        if url:
            rendered = with_status_page_link(rendered, url, account.language)
        key = f"digest:{channel.id}:{slot.isoformat()}"
        try:
            ts = await self._post_messages(key, channel.id, rendered.messages)
        except UpstreamError as exc:
            # Leave the claim in place: a later tick takes it over once stale (STALE_CLAIM) and
            # continues after the parts already posted.
            log.exception("posting the digest failed", error=str(exc))
            raise
        if audience is Audience.INTERNAL and self.charts is not None and ts is not None:
            await self._post_chart(account, data, slot, channel.id, f"{key}:chart", ts)
            await self._post_chart(account, data, slot, channel.id, f"{key}:timeline", ts, timeline=True, since=since)
        await asyncio.to_thread(
            runs.finish, run_id, "posted", self._clock(), message_ts=ts, jira_calls=data.calls
        )
        log.info("digest posted", messages=len(rendered.messages), jira_calls=data.calls, issues=len(data.issues))
        return SlotResult("posted", len(rendered.messages), data.calls, rendered.text)
