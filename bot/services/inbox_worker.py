"""Drains the webhook inbox into channel messages: at-least-once processing, exactly-once posting.

One batch (`run_once`): claim due deliveries (leased) → normalize → look up what the events lack
(one JQL `key in (…)` per chunk of keys; one board per distinct sprint board, for its project; one
Confluence content per distinct Data Center content id, for its space and title; one
`fixVersion = N` per distinct version a client channel would be told about, since a client hears of
a version only when one of its issues is visible to the client) → route
(audience policy + subscriptions) → coalesce bursts per channel → look up the Slack users of
mentioned people by email (optional, at most 50 a batch) → render → post (channels in
parallel, in order within a channel) → record.

Exactly-once posting: every message is keyed by its cause before it is posted
(`delivery:{delivery_id}:{channel}:{dedupe_key}`; comments by comment id, and edits by comment id
and edit time, because Jira sends one comment change both as `comment_*` and inside
`jira:issue_updated`). A key done in `posts` is never posted again, so a crash or a retry re-runs
the batch without repeating messages. The intent to post is recorded before Slack is called and
the message carries an opaque token as metadata: a crash (or a database failure) between Slack's
answer and its record leaves an uncertain post, settled from the channel's history before anything
is posted again (`bot.services.exactly_once`). A record that fails stops its channel for the batch.

Failures are per delivery: an upstream error or an unexpected exception (logged with its
traceback), in a lookup too, marks only the deliveries it concerns, which are retried with backoff and
dead-lettered (error text kept) after `max_attempts`; the rest of the batch goes on. Two waits are
not failures: a rate limit retries after the `Retry-After` it came with, and a token Slack refuses
pauses the worker (`SlackPause`: nothing claimed until the token works again; each internal
channel is then told once from when to when posting was paused). A body the worker cannot read
(not JSON, a 5,000-digit number, a value of a type or size its event does not allow) is
`anomalous` on its first pass, with the reason: normalizing is pure, a retry would fail alike.

Coalescing: `step()` (and so `run_forever`) waits until the oldest due delivery is `burst_window`
old, then takes everything due: a storm within the window becomes one summary per channel.

The story (`_run_batch` and `_notify`, read them top-down): claim → normalize (`_normalize`) →
look up (`EventLookups.complete`, then `drop_unroutable`) → decide and render (`NotificationPoster.plan`:
route by the audience policy and subscriptions, coalesce, render; in internal channels someone away
is named by their cover, `bot.domain.cover`) → post (`post_all`) → DM the covers, once per issue
and day (`CoverDMs.send`) → budget alerts (`BudgetAlerts.check`) → record (`_record`). A delivery on its way is a frozen `Work`
(`inbox_batch`); every step takes the works and returns new ones, a failure returned as
`work.failed(exc)` (first error wins) and logged by the one `log_failure`. The lookups live in
`inbox_lookups` (pure parts in `bot.domain.event_lookups`), deciding, rendering and posting in
`notification_posting`, threshold alerts in `budget_alerts`.

Adding a step: a function of values, called in `_notify` at its place in the story.
- It changes what a delivery is about: `list[Work] -> list[Work]`, between the lookups and `plan`.
- It changes how one message reads (e.g. mentions of a person away rewritten to their cover): a
  pure function in `bot/domain/` applied in `NotificationPoster.plan` where the account the
  renderer sees is made (`with_people`), or to the `Delivery` before `render_event`.
- It changes where messages go (e.g. a status change also posted into a support request's
  thread): `list[Outgoing] -> list[Outgoing]` between `plan` and `post_all`, each added message
  with its own stable key; `post_all` posts it through `OncePoster` and returns its failures
  (by inbox id) like any other, so its delivery is retried and nothing is posted twice.
Log context (delivery, channel) is bound by the steps (structlog contextvars): never pass it by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from structlog.contextvars import bound_contextvars

from bot.clock import utc_now
from bot.domain.accounts import AccountsConfig, Audience
from bot.domain.events import Event, Outcome
from bot.domain.health import Check, HealthChecks, WorkerPulse, inbox_worker_problems
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import BURST_THRESHOLD
from bot.domain.retry import backoff
from bot.domain.subscriptions import Subscription, SubscriptionSyntaxError, parse_subscription
from bot.domain.webhooks import normalize_body
from bot.errors import CredentialsRefused, UpstreamError
from bot.logs import get_logger, scrub_text
from bot.render.blocks import Message
from bot.render.i18n import translate
from bot.services.budget_alerts import Alerted, BudgetAlerts
from bot.services.channel_audiences import ChannelAudiences
from bot.services.exactly_once import OncePoster, PostBusy, owner_id
from bot.services.handover_cover import CoverDMs, Membership
from bot.services.inbox_batch import BatchReport, Work, delivery_context, fail_where, log_failure
from bot.services.inbox_lookups import EventLookups
from bot.services.notification_posting import NotificationPoster, post_key
from bot.services.support import SupportService
from integrations.confluence import ConfluencePort
from integrations.jira import JiraPort
from integrations.slack import PeopleLookup, SlackPause, SlackPort
from integrations.store.inbox import InboxItem
from integrations.store.store import Store

log = get_logger("pulse.inbox")


@dataclass(frozen=True)
class WorkerSettings:
    """Tuning of the inbox worker (defaults suit production)."""

    batch_limit: int = 2000
    claim_page: int = 500
    # Deliveries and intents are leased for `lease` and renewed every `heartbeat` while a batch
    # runs: a live worker never loses them (four beats may fail in a row), and what a dead one
    # held is free again within `lease`, so a restarted process drains it within seconds.
    lease: dt.timedelta = dt.timedelta(seconds=10)
    heartbeat: dt.timedelta = dt.timedelta(seconds=2)
    max_attempts: int = 8
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    burst_window: dt.timedelta = dt.timedelta(seconds=10)
    burst_threshold: int = BURST_THRESHOLD
    poll_seconds: float = 1.0
    jql_keys_per_query: int = 50
    # /healthz calls the worker stuck when it has had no successful pass for this long while a
    # delivery has been due that long (a pass is normally seconds; a huge burst paced at one
    # message a second per channel can take minutes).
    stuck_after: dt.timedelta = dt.timedelta(minutes=10)


class InboxWorker:
    """Turns stored webhook deliveries into Slack messages; see the module docstring."""

    def __init__(
        self,
        store: Store,
        accounts: AccountsConfig,
        slack: SlackPort,
        jira: JiraPort | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        settings: WorkerSettings | None = None,
        *,
        confluence: ConfluencePort | None = None,
        people_lookup: PeopleLookup | None = None,
        pause: SlackPause | None = None,
        links: SiteLinks | None = None,
        audiences: ChannelAudiences | None = None,
        on_events: Callable[[list[Event]], Awaitable[None]] | None = None,
        support: SupportService | None = None,
        is_member: Membership | None = None,
        refresh_links: Callable[[], Awaitable[None]] | None = None,
    ):
        self.store = store
        # Applies the channel links other processes made or removed (LinkService.sync) before a
        # batch is routed: a channel relinked to another client elsewhere gets none of the old
        # account's news here (one small read per batch instead of waiting for the 60 s sync).
        self.refresh_links = refresh_links
        # Told of each batch's events that went through (the portfolio marks their accounts stale).
        self.on_events = on_events
        # Support requests: their issues' news also goes into the request's thread.
        self.support = support
        # Channels' effective audiences (an internal channel Slack calls shared gets the client
        # view); None: as configured (tests of other things).
        self.audiences = audiences
        # The configured Jira/Confluence sites: message links are built from them, never from
        # a payload (whose `self` naming another host is logged as anomalous).
        self.links = links or SiteLinks()
        self.accounts = accounts
        self.slack = slack
        # Slack refusing the token pauses posting (SlackWeb's `pause`); None: never paused.
        self.pause = pause
        self.jira = jira
        # ConfluencePort (its `content` lookup); without it Data Center events stay unsupported.
        self.confluence = confluence
        # Slack user ids by email (SlackUsersByEmail): mentions the accounts' `people` lack.
        self.people_lookup = people_lookup
        self.clock = clock
        self.settings = settings or WorkerSettings()
        self.pulse = WorkerPulse(started_at=clock())
        # This worker's name on its leases and intents.
        self.owner = owner_id()
        self.once = OncePoster(store, slack, clock, self.owner, self.settings.lease)
        # During a handover the cover hears of the away person's issues by DM, once per issue and
        # day; only with a way to ask Slack whether the cover is still one of the agency.
        self.cover_dms = CoverDMs(slack, self.once, is_member, self.links) if is_member is not None else None

    # --- scheduling ---------------------------------------------------------------------------

    async def step(self) -> float:
        """Process a batch if the oldest due delivery has waited out the burst window; return how
        long to sleep before the next step."""
        s = self.settings
        if self.pause is not None:
            if not await self.pause.ready():
                return s.poll_seconds  # claim nothing: the deliveries wait, attempts untouched
            ended = self.pause.take_ended()
            if ended is not None:
                await self._tell_pause_ended(*ended)
        now = self.clock()
        oldest = await asyncio.to_thread(self.store.inbox.oldest_due, now)
        if oldest is None:
            return s.poll_seconds
        waited = now - oldest
        if waited < s.burst_window:
            return max(0.05, (s.burst_window - waited).total_seconds())
        report = await self.run_once()
        return 0.0 if report.claimed >= s.batch_limit else s.poll_seconds

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Step until `stop` is set; a failing batch is logged and its leases simply expire."""
        log.info("inbox worker started", window_s=self.settings.burst_window.total_seconds())
        # `stop` is read only between batches: a batch under way posts and records to its end, so
        # a graceful stop never leaves a message in Slack that the store does not know of.
        while not stop.is_set():
            try:
                delay = await self.step()
                self.pulse.passed(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("inbox batch failed; its deliveries will be retried after the lease")
                self.pulse.failed(exc)
                delay = self.settings.poll_seconds
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
        log.info("inbox worker stopped")

    def health(self, stopped: str | None = None) -> list[str]:
        """This worker's problems for /healthz (reads the store: call it off the event loop)."""
        now = self.clock()
        waiting = None if stopped else self.store.inbox.waiting_since(now)
        return inbox_worker_problems(
            self.pulse, now, waiting_since=waiting, stuck_after=self.settings.stuck_after, stopped=stopped
        )

    # --- one batch ----------------------------------------------------------------------------

    async def run_once(self, limit: int | None = None) -> BatchReport:
        """Claim every due delivery (up to `limit`), process them as one window, record outcomes;
        the leases are renewed all along (`_heartbeat`)."""
        # Its own thread: renewing must never queue behind lookups waiting on Jira.
        beat_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-heartbeat")
        heartbeat = asyncio.create_task(self._heartbeat(beat_thread), name="inbox-heartbeat")
        try:
            return await self._run_batch(limit)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            beat_thread.shutdown(wait=False)

    async def _heartbeat(self, thread: ThreadPoolExecutor) -> None:
        """Renew this worker's leases on its deliveries and its intents to post, until cancelled."""
        s = self.settings
        loop = asyncio.get_running_loop()

        def renew() -> tuple[int, int]:
            now = self.clock()
            return self.store.inbox.renew(self.owner, now, s.lease), self.store.posts.renew(self.owner, now, s.lease)

        while True:
            await asyncio.sleep(s.heartbeat.total_seconds())
            try:
                await loop.run_in_executor(thread, renew)
            except Exception:
                # The next beat tries again; only `lease` without one lets another worker take over.
                log.warning("inbox heartbeat failed; leases are renewed at the next beat", exc_info=True)

    async def _run_batch(self, limit: int | None) -> BatchReport:
        """The story of a batch: claim → normalize → notify (look up → decide and render → post →
        budget alerts) → record. Each step takes the batch's works and returns new ones."""
        items = await self._claim(limit or self.settings.batch_limit)
        if not items:
            return BatchReport()
        normalized = await asyncio.gather(*(self._normalize(i) for i in items))
        works = [n for n in normalized if isinstance(n, Work)]
        # Recorded already (ignored, anomalous, …): not notifications.
        statuses: list[str | None] = [n for n in normalized if isinstance(n, str)]
        report = BatchReport(claimed=len(items))
        if works:
            works, report = await self._notify(works, report)
        statuses += [await self._record(w) for w in works]
        report = replace(report, statuses=dict(Counter(s for s in statuses if s is not None)))
        log.info("inbox batch", **vars(report))
        return report

    async def _notify(self, works: list[Work], report: BatchReport) -> tuple[list[Work], BatchReport]:
        """Look up what the events lack → decide and render (mentions of someone away name their
        cover in internal channels) → support threads → post → DM covers → budget alerts → tell
        the portfolio."""
        if self.refresh_links is not None:
            try:
                await self.refresh_links()
            except Exception:
                # The links as last synced (the background sync retries); logged with the cause.
                log.exception("refreshing channel links before routing failed")
        subscriptions = await self._subscriptions()
        lookups = EventLookups(self.jira, self.confluence, self.accounts, self.settings.jql_keys_per_query)
        completed = await lookups.complete(works, subscriptions)
        works = lookups.drop_unroutable(completed.works, completed.unroutable)
        if self.support is not None:
            works = self.support.without_mirrored(works)  # a Slack reply's own copy is not posted back
        accounts = await self._effective_accounts()
        poster = self._poster(accounts)
        plan = await poster.plan(works, subscriptions)
        outgoing = plan.outgoing
        if self.support is not None:
            # Status changes and public comments of a support request's issue, in its thread.
            outgoing = outgoing + await self.support.thread_messages(plan.works, accounts, plan.outgoing)
        posted = await poster.post_all(outgoing)
        failures = dict(posted.failures)
        if self.cover_dms is not None:
            # The cover of someone away whose issue this is: one DM per issue and day.
            for inbox_id, exc in (await self.cover_dms.send(plan.covered)).items():
                failures.setdefault(inbox_id, exc)
        works = fail_where(plan.works, failures)
        alerted = Alerted(works, 0, 0)
        if self.jira is not None:
            alerted = await BudgetAlerts(self.store, self.jira, accounts, self.clock, self.once).check(works)
        if self.on_events is not None:
            try:
                await self.on_events([e for w in alerted.works if w.ok for e in w.events])
            except Exception:
                log.exception("telling the batch's events failed")
        return alerted.works, replace(
            report,
            messages=posted.messages,
            skipped_already_posted=plan.skipped_already_posted,
            jira_calls=completed.jira_calls + alerted.jira_calls,
            confluence_calls=completed.confluence_calls,
            alerts=alerted.alerts,
        )

    async def _claim(self, limit: int) -> list[InboxItem]:
        """Claim (lease) up to `limit` due deliveries, page by page."""
        s = self.settings
        now = self.clock()
        items: list[InboxItem] = []
        while len(items) < limit:
            page = await asyncio.to_thread(
                self.store.inbox.claim_due, now, min(s.claim_page, limit - len(items)), s.lease, self.owner
            )
            if not page:
                break
            items.extend(page)
        return items

    async def _normalize(self, item: InboxItem) -> Work | str:
        """The delivery as a `Work` to notify of, or the outcome it was recorded with at once
        (ignored, anomalous, …: not a notification)."""
        with bound_contextvars(**delivery_context(item)):
            try:
                return await self._normalize_one(item)
            except Exception as exc:
                log_failure(exc, "normalizing")
                return Work(item, (), error=exc)

    async def _normalize_one(self, item: InboxItem) -> Work | str:
        # Pure and total: a body it cannot read is `anomalous` (with the reason) on this first
        # pass; it would fail the same way on every retry.
        delivery = normalize_body(item.body, item.event_name)
        if delivery.outcome is not Outcome.HANDLED:
            reason = scrub_text(delivery.reason) if delivery.reason else None
            get_logger(delivery.outcome.logger_name).info(
                f"webhook {delivery.outcome.value}",
                webhook_event=delivery.webhook_event or item.event_name,
                reason=reason,
                # The traceback of an unreadable payload, for the operator.
                exc_info=delivery.error or False,
            )
            await asyncio.to_thread(self.store.inbox.finish, item.id, delivery.outcome.value, reason)
            return delivery.outcome.value
        for event in delivery.events:
            for field, host in self.links.foreign_self_urls(event):
                # Handled all the same (links come from the configured site), but worth a look:
                # a proxy, an app's api.atlassian.com URL, or a body not from our site.
                get_logger(Outcome.ANOMALOUS.logger_name).warning(
                    "payload self URL names another host than the configured site; no link to it",
                    webhook_event=delivery.webhook_event, field=field, host=host,
                )
        return Work(item, tuple(delivery.events))

    # --- routing, posting -----------------------------------------------------------------------

    async def _subscriptions(self) -> dict[str, list[Subscription]]:
        rows = await asyncio.to_thread(self.store.subscriptions.list)
        out: dict[str, list[Subscription]] = defaultdict(list)
        for row in rows:
            try:
                out[row["channel_id"]].append(parse_subscription(row["spec"]["text"]))
            except (SubscriptionSyntaxError, KeyError, TypeError):
                log.warning("unreadable stored subscription skipped", id=row.get("id"), spec=row.get("spec"))
        return out

    async def _effective_accounts(self) -> AccountsConfig:
        return await self.audiences.accounts(self.accounts) if self.audiences else self.accounts

    async def _tell_pause_ended(self, since: dt.datetime, until: dt.datetime) -> None:
        """Each internal channel hears once that posting was paused, from when to when."""
        for account in self.accounts.accounts:
            for channel in account.channels:
                if channel.audience is not Audience.INTERNAL:
                    continue
                text = translate(account.language, "slack.paused",
                                 since=_minute(since, account.tz), until=_minute(until, account.tz))
                key = f"paused:{since.isoformat()}:{channel.id}"
                try:
                    await self.once.post([key], channel.id, Message(text))
                except (UpstreamError, PostBusy) as exc:
                    log.warning("could not post the pause notice", channel=channel.id, error=str(exc))

    def _poster(self, accounts: AccountsConfig) -> NotificationPoster:
        return NotificationPoster(
            self.store, self.slack, accounts, self.clock, self.settings.burst_threshold, self.people_lookup,
            links=self.links, once=self.once,
        )

    # --- outcomes -----------------------------------------------------------------------------

    async def _record(self, w: Work) -> str | None:
        """Record the delivery's outcome (done, unsupported, retry, dead); None if recording failed
        (its lease expires and it is claimed again; the other outcomes still get recorded)."""
        with bound_contextvars(**delivery_context(w.item)):
            try:
                return await self._record_one(w)
            except Exception:
                log.exception("recording the delivery outcome failed")
                return None

    async def _record_one(self, w: Work) -> str:
        item, exc = w.item, w.error
        if exc is None and w.unsupported:
            get_logger(Outcome.UNSUPPORTED.logger_name).info(
                "webhook unsupported", webhook_event=item.event_name, reason=w.unsupported,
            )
            await asyncio.to_thread(self.store.inbox.finish, item.id, Outcome.UNSUPPORTED.value, w.unsupported)
            return Outcome.UNSUPPORTED.value
        if exc is None:
            await asyncio.to_thread(self.store.inbox.finish, item.id, "done")
            return "done"
        s = self.settings
        upstream = exc if isinstance(exc, UpstreamError) else None
        # Unexpected errors may be passing (a bug hit by one payload state): retry, then give up.
        retryable = upstream.retryable if upstream else True
        dead = (not retryable) or item.attempts >= s.max_attempts
        delay = backoff(item.attempts, s.backoff_base, s.backoff_cap)
        waiting = False
        if isinstance(exc, PostBusy):
            # Another live worker is posting the same message (a comment's twin delivery): wait.
            delay, waiting = dt.timedelta(seconds=exc.retry_after), True
        elif upstream is not None and upstream.retry_after is not None:
            # The service said when (a rate limit): try again then, not after our own backoff.
            delay, waiting = dt.timedelta(seconds=upstream.retry_after), True
        elif isinstance(exc, CredentialsRefused):
            # Slack refused the token: the pause holds the worker until it works; then at once.
            delay, waiting = dt.timedelta(0), True
        if waiting:
            dead = False  # neither is this delivery's fault: it is never dead-lettered for it
        at = self.clock() + delay
        error = str(exc) if upstream else f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(
            self.store.inbox.retry_later, item.id, error[:2000], at, dead, count_attempt=not waiting
        )
        (log.error if dead else log.warning)(
            "delivery dead-lettered" if dead else "delivery will be retried",
            attempts=item.attempts,
            error=error,
            retry_at=None if dead else at.isoformat(),
        )
        return "dead" if dead else "retry"


def _minute(moment: dt.datetime, tz: dt.tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def run_inbox_worker(worker: InboxWorker, health: HealthChecks | None = None) -> tuple[asyncio.Task, asyncio.Event]:
    """Run a built worker on the running loop; `health` gets its check as "inbox_worker".

    Stop it with `stop_inbox_worker(task, stop, timeout)`: it lets the batch under way finish and
    record its posts, and cancels only past the timeout. Cancelling at once can cut a post after
    Slack took it but before it was recorded, and the next process posts it again."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop), name="inbox-worker")
    if health is not None:
        health.register("inbox_worker", inbox_worker_check(worker, task))
    return task, stop


def inbox_worker_check(worker: InboxWorker, task: asyncio.Task) -> Check:
    """The health check of a worker running as `task`: its own problems, or that the task ended."""

    def check() -> list[str]:
        stopped = None
        if task.done():
            error = None if task.cancelled() else task.exception()
            stopped = f"its task ended on {type(error).__name__}: {error}" if error else "its task ended"
        return worker.health(stopped)

    return check


async def stop_inbox_worker(task: asyncio.Task, stop: asyncio.Event, timeout: float = 30.0) -> bool:
    """Stop the worker after its batch under way (cancel past `timeout` s); True if it ended cleanly."""
    stop.set()
    # asyncio.wait neither cancels the task on timeout nor raises what the task raised.
    await asyncio.wait({task}, timeout=timeout)
    if not task.done():
        log.warning("inbox worker did not finish its batch in time; cancelling it", timeout_s=timeout)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    if task.cancelled():
        return False
    if task.exception() is not None:
        log.error("inbox worker had stopped on an error", exc_info=task.exception())
        return False
    return True


__all__ = [
    "BatchReport", "InboxWorker", "WorkerSettings", "inbox_worker_check", "post_key", "run_inbox_worker",
    "stop_inbox_worker",
]
