"""Drains the webhook inbox into channel messages: at-least-once processing, exactly-once posting.

One batch (`run_once`): claim due deliveries (leased) → normalize → look up what the events lack
(one JQL `key in (…)` per chunk of keys; one board per distinct sprint board, for its project; one
Confluence content per distinct Data Center content id, for its space and title; one
`fixVersion = N` per distinct version a client channel would be told about, since a client hears of
a version only when one of its issues is visible to the client) → route
(audience policy + subscriptions) → coalesce bursts per channel → render → post (channels in
parallel, in order within a channel) → record.

Exactly-once posting: every message is keyed by its cause before it is posted
(`delivery:{delivery_id}:{channel}:{dedupe_key}`; comments by comment id, and edits by comment id
and edit time, because Jira sends one comment change both as `comment_*` and inside
`jira:issue_updated`). A key already in `posts` is never
posted again, so a crash or a retry re-runs the batch without repeating messages. The one window
left is a crash (or a database failure) between Slack's answer and the record: that message may
appear twice. A record that fails stops its channel for the batch (its remaining messages stay
pending), so a database outage costs at most one repeated message per channel.

Failures are per delivery: an upstream error or an unexpected exception (logged with its
traceback), in a lookup too, marks only the deliveries it concerns, which are retried with backoff and
dead-lettered (error text kept) after `max_attempts`; the rest of the batch goes on.

Coalescing: `step()` (and so `run_forever`) waits until the oldest due delivery is `burst_window`
old, then takes everything due: a storm within the window becomes one summary per channel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.clock import utc_now
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.audience import issue_visible
from bot.domain.budget import budget_period, budget_status
from bot.domain.digest_query import earliest_needed
from bot.domain.confluence_events import enrich
from bot.domain.events import (
    ConfluenceEvent,
    Event,
    EventType,
    JiraEvent,
    Outcome,
    attach_client_issue,
    attach_issue,
    attach_project,
    normalize,
)
from bot.domain.notify_policy import BURST_THRESHOLD, Burst, Delivery, account_for, coalesce, route
from bot.domain.subscriptions import Subscription, SubscriptionSyntaxError, parse_subscription, wanted
from bot.domain.work import Issue
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.budget_alerts import render_budget_alert
from bot.render.digest import Message
from bot.render.notifications import render_burst, render_event
from integrations.slack import SlackPort
from integrations.store.inbox import InboxItem
from integrations.store.store import Store

log = get_logger("pulse.inbox")

_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-\d+")
_DIGITS = re.compile(r"\d+")
MAX_KEY = 200  # posts.key column length

# Lookups the worker cannot make without the port behind them. Events that need one to be
# routed at all are recorded `unsupported` (with the reason), never silently `done`.
_LOOKUP_GAPS = {
    "content": "Confluence Data Center body names the content only by id, and the worker has no Confluence client to look it up",
    "board": "sprint event names only its board, and the worker has no Jira client to look up its project",
}
_JIRA_LOOKUPS = frozenset({"issue", "linked_issue", "project"})


@dataclass(frozen=True)
class WorkerSettings:
    """Tuning of the inbox worker (defaults suit production)."""

    batch_limit: int = 2000
    claim_page: int = 500
    lease: dt.timedelta = dt.timedelta(minutes=5)
    max_attempts: int = 8
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    burst_window: dt.timedelta = dt.timedelta(seconds=10)
    burst_threshold: int = BURST_THRESHOLD
    poll_seconds: float = 1.0
    jql_keys_per_query: int = 50


@dataclass
class BatchReport:
    """What one batch did (also logged as one summary line)."""

    claimed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    skipped_already_posted: int = 0
    jira_calls: int = 0
    confluence_calls: int = 0
    alerts: int = 0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def post_key(delivery_id: str, channel_id: str, event: Event) -> str:
    """The exactly-once key of one event in one channel."""
    if isinstance(event, JiraEvent) and event.comment is not None and (
        event.type is EventType.COMMENT_CREATED or event.comment.updated or event.timestamp_ms
    ):
        # The same comment change arrives in two deliveries (comment_* and jira:issue_updated):
        # keyed by the comment (new ones) or by the comment and its edit time (edits, deletes).
        key = f"event:{channel_id}:{event.dedupe_key}"
    else:
        key = f"delivery:{delivery_id}:{channel_id}:{event.dedupe_key}"
    if len(key) > MAX_KEY:
        # Dedupe keys carry changed values (a whole description): keep the key short but unique.
        key = key[: MAX_KEY - 66] + ":" + hashlib.sha256(key.encode()).hexdigest()
    return key


class _NotRecorded(Exception):
    """Slack has the message but the store could not record it."""


@dataclass
class _Handled:
    item: InboxItem
    events: list[Event]
    # UpstreamError (retryable or not), or any unexpected exception: retried with backoff.
    error: Exception | None = None
    # Why no event of the delivery can be routed with the ports we have (outcome `unsupported`).
    unsupported: str | None = None


@dataclass
class _Outgoing:
    """One message for one channel, and the deliveries (with their keys) it tells about."""

    account: Account
    channel: Channel
    message: Message
    keys: list[str]
    items: list[_Handled]
    thread_issue: str | None = None


class InboxWorker:
    """Turns stored webhook deliveries into Slack messages; see the module docstring."""

    def __init__(
        self,
        store: Store,
        accounts: AccountsConfig,
        slack: SlackPort,
        jira: Any | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        settings: WorkerSettings | None = None,
        *,
        confluence: Any | None = None,
    ):
        self.store = store
        self.accounts = accounts
        self.slack = slack
        self.jira = jira
        # ConfluencePort (its `content` lookup); without it Data Center events stay unsupported.
        self.confluence = confluence
        self.clock = clock
        self.settings = settings or WorkerSettings()

    # --- scheduling ---------------------------------------------------------------------------

    async def step(self) -> float:
        """Process a batch if the oldest due delivery has waited out the burst window; return how
        long to sleep before the next step."""
        s = self.settings
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
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox batch failed; its deliveries will be retried after the lease")
                delay = self.settings.poll_seconds
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
        log.info("inbox worker stopped")

    # --- one batch ----------------------------------------------------------------------------

    async def run_once(self, limit: int | None = None) -> BatchReport:
        """Claim every due delivery (up to `limit`), process them as one window, record outcomes."""
        s = self.settings
        limit = limit or s.batch_limit
        now = self.clock()
        report = BatchReport()
        items: list[InboxItem] = []
        while len(items) < limit:
            page = await asyncio.to_thread(
                self.store.inbox.claim_due, now, min(s.claim_page, limit - len(items)), s.lease
            )
            if not page:
                break
            items.extend(page)
        report.claimed = len(items)
        if not items:
            return report

        handled = [h for h in (await asyncio.gather(*(self._understand(i, report) for i in items))) if h]
        if handled:
            subscriptions = await self._subscriptions()
            unroutable = await self._lookup(handled, report, subscriptions)
            self._drop_unroutable(handled, unroutable)
            outgoing = await self._plan(handled, report, subscriptions)
            await self._post_all(outgoing, report)
            await self._budget(handled, report)
        for h in handled:
            try:
                await self._finish(h, report)
            except Exception:
                # Its lease expires and it is claimed again; the other outcomes still get recorded.
                log.exception("recording the delivery outcome failed", inbox_id=h.item.id, delivery_id=h.item.delivery_id)
        log.info(
            "inbox batch",
            claimed=report.claimed,
            statuses=report.statuses,
            messages=report.messages,
            skipped_already_posted=report.skipped_already_posted,
            jira_calls=report.jira_calls,
            confluence_calls=report.confluence_calls,
            alerts=report.alerts,
        )
        return report

    def _failed(self, items: list[_Handled], exc: Exception, stage: str) -> None:
        """Log an unexpected error (with its traceback) and retry only the deliveries it concerns."""
        ids = {"delivery_id": items[0].item.delivery_id} if len(items) == 1 else {
            "delivery_ids": [h.item.delivery_id for h in items]}
        log.exception(f"delivery failed in {stage}; it will be retried", **ids)
        for h in items:
            h.error = h.error or exc

    async def _understand(self, item: InboxItem, report: BatchReport) -> _Handled | None:
        try:
            return await self._understand_one(item, report)
        except Exception as exc:
            h = _Handled(item, [])
            self._failed([h], exc, "normalize")
            return h

    async def _understand_one(self, item: InboxItem, report: BatchReport) -> _Handled | None:
        try:
            payload = json.loads(item.body)
        except json.JSONDecodeError:
            payload = None
        delivery = normalize(payload, item.event_name)
        if delivery.outcome is not Outcome.HANDLED:
            get_logger(delivery.outcome.logger_name).info(
                f"webhook {delivery.outcome.value}",
                source=item.source,
                delivery_id=item.delivery_id,
                inbox_id=item.id,
                webhook_event=delivery.webhook_event or item.event_name,
                reason=delivery.reason,
            )
            await asyncio.to_thread(self.store.inbox.finish, item.id, delivery.outcome.value, delivery.reason or None)
            report.count(delivery.outcome.value)
            return None
        return _Handled(item, list(delivery.events))

    # --- lookups ------------------------------------------------------------------------------

    async def _lookup(
        self, handled: list[_Handled], report: BatchReport,
        subscriptions: dict[str, list[Subscription]] | None = None,
    ) -> dict[tuple[str, str], str]:
        """Fill in what events only name by id (issues, projects, boards, Confluence content): few
        calls, batched keys. A failed lookup fails only the deliveries that needed what it would
        have found. Returns why some looked-up ids cannot be routed, by (kind, id)."""
        unroutable: dict[tuple[str, str], str] = {}
        if self.jira is not None:
            await self._lookup_issues(handled, report)
            await self._lookup_version_issues(handled, report, subscriptions or {})
            await self._lookup_boards(handled, report, unroutable)
        if self.confluence is not None:
            await self._lookup_contents(handled, report, unroutable)
        return unroutable

    async def _lookup_issues(self, handled: list[_Handled], report: BatchReport) -> None:
        """Issues (batched `key in (…)`, or by id) and the projects of versions."""
        keys: set[str] = set()
        ids: set[str] = set()
        version_ids: set[str] = set()
        for h in handled:
            for e in h.events:
                if not isinstance(e, JiraEvent):
                    continue
                missing = e.needs_lookup()
                if "issue" in missing:
                    if e.issue and e.issue.key and _ISSUE_KEY.fullmatch(e.issue.key):
                        keys.add(e.issue.key)
                    elif e.issue_id and _DIGITS.fullmatch(e.issue_id):
                        ids.add(e.issue_id)
                if "linked_issue" in missing and e.link and e.link.destination_issue_id:
                    if _DIGITS.fullmatch(e.link.destination_issue_id):
                        ids.add(e.link.destination_issue_id)
                if "project" in missing and e.version is not None and e.version.id:
                    version_ids.add(e.version.id)
        by_key: dict[str, Issue] = {}
        by_id: dict[str, Issue] = {}
        failed_keys: dict[str, Exception] = {}
        failed_ids: dict[str, Exception] = {}

        async def fetch(jql: str) -> list[Issue]:
            report.jira_calls += 1
            return await asyncio.to_thread(self.jira.fetch_issues, jql)

        async def fetch_keys(chunk: list[str]) -> None:
            try:
                for issue in await fetch("key in (" + ", ".join(chunk) + ")"):
                    by_key[issue.key] = issue
            except UpstreamError as exc:
                if len(chunk) > 1 and exc.status == 400 and not exc.retryable:
                    # Jira rejects a whole `key in (…)` when one key does not exist or is not
                    # visible to us: ask key by key, so only that key's deliveries fail.
                    for key in chunk:
                        await fetch_keys([key])
                    return
                log.warning("jira issue lookup failed", keys=chunk, error=str(exc), retryable=exc.retryable)
                failed_keys.update(dict.fromkeys(chunk, exc))
            except Exception as exc:
                log.exception("jira issue lookup failed unexpectedly", keys=chunk)
                failed_keys.update(dict.fromkeys(chunk, exc))

        ordered = sorted(keys)
        n = self.settings.jql_keys_per_query
        for i in range(0, len(ordered), n):
            await fetch_keys(ordered[i : i + n])
        # `Issue` carries no numeric id, so ids cannot be matched back from a batched result.
        for issue_id in sorted(ids):
            try:
                found = await fetch(f"id = {issue_id}")
            except Exception as exc:
                if isinstance(exc, UpstreamError):
                    log.warning("jira issue lookup failed", issue_id=issue_id, error=str(exc))
                else:
                    log.exception("jira issue lookup failed unexpectedly", issue_id=issue_id)
                failed_ids[issue_id] = exc
                continue
            if found:
                by_id[issue_id] = found[0]
        version_projects, version_error = await self._version_projects(version_ids, report)
        for h in handled:
            new_events = []
            for e in h.events:
                if isinstance(e, JiraEvent):
                    e = _attach(e, by_key, by_id, version_projects)
                    error = _lookup_failure(e, failed_keys, failed_ids, version_error)
                    if error is not None:
                        # Without the lookup the client could never see it: try the delivery later.
                        h.error = h.error or error
                new_events.append(e)
            h.events = new_events

    async def _version_projects(
        self, version_ids: set[str], report: BatchReport
    ) -> tuple[dict[str, str], Exception | None]:
        """Project key of each version id (versions name only a numeric project id), and the
        first error of a project whose versions could not be read."""
        if not version_ids:
            return {}, None
        projects = [p for a in self.accounts.accounts for p in a.jira.projects]
        report.jira_calls += len(projects)
        try:
            versions = await asyncio.to_thread(self.jira.fetch_versions_for, projects)
            return {v.id: v.project for v in versions}, None
        except Exception as exc:
            log.warning("jira version lookup failed; asking project by project", error=str(exc))
        # One project failing fails the combined call: ask each alone, so the others still count.
        found: dict[str, str] = {}
        first_error: Exception | None = None
        for project in projects:
            report.jira_calls += 1
            try:
                for v in await asyncio.to_thread(self.jira.fetch_versions, project):
                    found[v.id] = v.project
            except Exception as exc:
                if isinstance(exc, UpstreamError):
                    log.warning("jira version lookup failed", project=project, error=str(exc))
                else:
                    log.exception("jira version lookup failed unexpectedly", project=project)
                first_error = first_error or exc
        return found, first_error

    def _version_for_client(self, e: Event, subscriptions: dict[str, list[Subscription]]) -> tuple[str, Account] | None:
        """The version id (and account) of a version event some client channel would be told
        about once the version is known to have an issue the client may see."""
        if not (isinstance(e, JiraEvent) and e.type.is_version and e.version is not None):
            return None
        if e.version.has_client_issue or not e.version.id or not _DIGITS.fullmatch(e.version.id):
            return None
        account = account_for(e, self.accounts)
        if account is None:
            return None
        if not any(c.audience is Audience.CLIENT and wanted(e, c.audience, subscriptions.get(c.id))
                   for c in account.channels):
            return None  # no client channel wants it: internal channels need no evidence
        return e.version.id, account

    async def _lookup_version_issues(
        self, handled: list[_Handled], report: BatchReport, subscriptions: dict[str, list[Subscription]]
    ) -> None:
        """Whether each version a client would hear of has an issue the client may see: one
        `fixVersion = N` per distinct version. Without one, the policy withholds it from clients."""
        pending = [h for h in handled if h.error is None]
        wanted_ids = {found[0] for h in pending for e in h.events if (found := self._version_for_client(e, subscriptions))}
        if not wanted_ids:
            return
        issues, failed = await _fetch_each(
            wanted_ids, lambda version_id: self.jira.fetch_issues(f"fixVersion = {version_id}"), "jira version issues"
        )
        report.jira_calls += len(wanted_ids)
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                found = self._version_for_client(e, subscriptions)
                if found is not None:
                    version_id, account = found
                    if version_id in failed:
                        # Same as the other lookups: only this delivery waits for a retry.
                        h.error = h.error or failed[version_id]
                    elif any(issue_visible(i, Audience.CLIENT, account) for i in issues.get(version_id) or ()):
                        e = attach_client_issue(e)
                new_events.append(e)
            h.events = new_events

    async def _lookup_boards(
        self, handled: list[_Handled], report: BatchReport, unroutable: dict[tuple[str, str], str]
    ) -> None:
        """The project of each sprint's board: one call per distinct board id in the batch."""
        pending = [h for h in handled if h.error is None]
        board_ids = {b for h in pending for e in h.events if (b := _board_to_look_up(e))}
        projects, failed = await _fetch_each(
            board_ids, lambda board_id: self.jira.board_project(int(board_id)), "jira board"
        )
        report.jira_calls += len(board_ids)
        if not board_ids:
            return
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                board_id = _board_to_look_up(e)
                if board_id in failed:
                    # Without its project the sprint reaches nobody: try the delivery later.
                    h.error = h.error or failed[board_id]
                elif board_id is not None and projects.get(board_id):
                    e = attach_project(e, projects[board_id])
                elif board_id is not None:
                    unroutable[("board", board_id)] = (
                        f"board {board_id} is in no project we can see (deleted, not visible to the bot, or a user's board)"
                    )
                new_events.append(e)
            h.events = new_events

    async def _lookup_contents(
        self, handled: list[_Handled], report: BatchReport, unroutable: dict[tuple[str, str], str]
    ) -> None:
        """Space, title and URL of Confluence content named only by id: one call per distinct id."""
        pending = [h for h in handled if h.error is None]
        content_ids = {c for h in pending for e in h.events if (c := _content_to_look_up(e))}
        contents, failed = await _fetch_each(content_ids, self.confluence.content, "confluence content")
        report.confluence_calls += len(content_ids)
        if not content_ids:
            return
        for h in pending:
            new_events: list[Event] = []
            for e in h.events:
                content_id = _content_to_look_up(e)
                if content_id in failed:
                    # Without its space the event reaches nobody: try the delivery later.
                    h.error = h.error or failed[content_id]
                elif content_id is not None and contents.get(content_id) is None:
                    unroutable[("content", content_id)] = (
                        f"Confluence content {content_id} not found or not visible to the bot"
                    )
                elif content_id is not None and isinstance(e, ConfluenceEvent):
                    try:
                        e = enrich(e, contents[content_id])
                    except Exception as exc:
                        # A content object we could not read: this delivery only, retried.
                        self._failed([h], exc, "the content lookup")
                    if e.space_key is None:
                        unroutable[("content", content_id)] = f"Confluence content {content_id} names no space"
                new_events.append(e)
            h.events = new_events

    def _lookup_gap(self, event: Event, unroutable: dict[tuple[str, str], str] | None = None) -> str | None:
        """Why this event cannot be routed with the ports and lookups we have, or None."""
        if event.routing_key is not None:
            return None
        unroutable = unroutable or {}
        for kind in event.needs_lookup():
            if kind == "content" and isinstance(event, ConfluenceEvent):
                if self.confluence is None:
                    return _LOOKUP_GAPS["content"]
                content_id = _content_to_look_up(event)
                if content_id is None:
                    return "Confluence body names no content id"
                return unroutable.get(("content", content_id))
            if kind == "board" and isinstance(event, JiraEvent):
                if self.jira is None:
                    return _LOOKUP_GAPS["board"]
                board_id = _board_to_look_up(event)
                if board_id is None:
                    return "sprint event names no board"
                return unroutable.get(("board", board_id))
            if kind in _JIRA_LOOKUPS and self.jira is None:
                return f"no Jira client to look up the {kind}"
        return None

    def _drop_unroutable(self, handled: list[_Handled], unroutable: dict[tuple[str, str], str] | None = None) -> None:
        for h in handled:
            if h.error is not None:
                continue
            gaps = [(e, gap) for e in h.events if (gap := self._lookup_gap(e, unroutable))]
            if not gaps:
                continue
            if len(gaps) == len(h.events):
                h.unsupported, h.events = gaps[0][1], []
                continue
            unsupported = get_logger(Outcome.UNSUPPORTED.logger_name)
            for e, gap in gaps:
                unsupported.info("webhook event unsupported", delivery_id=h.item.delivery_id,
                                 inbox_id=h.item.id, event_type=e.type.value, reason=gap)
            h.events = [e for e in h.events if not self._lookup_gap(e, unroutable)]

    # --- routing and coalescing ---------------------------------------------------------------

    async def _subscriptions(self) -> dict[str, list[Subscription]]:
        rows = await asyncio.to_thread(self.store.links.subscriptions)
        out: dict[str, list[Subscription]] = defaultdict(list)
        for row in rows:
            try:
                out[row["channel_id"]].append(parse_subscription(row["spec"]["text"]))
            except (SubscriptionSyntaxError, KeyError, TypeError):
                log.warning("unreadable stored subscription skipped", id=row.get("id"), spec=row.get("spec"))
        return out

    async def _plan(
        self, handled: list[_Handled], report: BatchReport,
        subscriptions: dict[str, list[Subscription]] | None = None,
    ) -> list[_Outgoing]:
        if subscriptions is None:
            subscriptions = await self._subscriptions()
        per_channel: dict[str, list[tuple[_Handled, Delivery, str]]] = {}
        seen: set[str] = set()
        for h in handled:
            if h.error is not None:
                continue
            try:
                routed = [(d, post_key(h.item.delivery_id, d.channel.id, d.event))
                          for d in route(h.events, self.accounts, subscriptions)]
            except Exception as exc:
                self._failed([h], exc, "routing")
                continue
            for d, key in routed:
                if key in seen:
                    continue
                seen.add(key)
                per_channel.setdefault(d.channel.id, []).append((h, d, key))
        all_keys = [k for group in per_channel.values() for _, _, k in group]
        posted = await asyncio.to_thread(self.store.posts.recorded, all_keys) if all_keys else set()
        report.skipped_already_posted = len(posted)
        outgoing: list[_Outgoing] = []
        for group in per_channel.values():
            group = [g for g in group if g[2] not in posted]
            if not group:
                continue
            messages = coalesce([d for _, d, _ in group], self.settings.burst_threshold)
            if len(messages) == 1 and isinstance(messages[0], Burst):
                burst = messages[0]
                items = _unique(h for h, _, _ in group)
                try:
                    rendered = render_burst(burst)
                except Exception as exc:
                    self._failed(items, exc, "rendering")
                    continue
                outgoing.append(_Outgoing(burst.account, burst.channel, rendered, [k for _, _, k in group], items))
                continue
            for h, d, key in group:
                try:
                    message = render_event(d.event, d.channel.audience, d.account)
                except Exception as exc:
                    self._failed([h], exc, "rendering")
                    continue
                issue = d.event.issue_key if isinstance(d.event, JiraEvent) else None
                outgoing.append(_Outgoing(d.account, d.channel, message, [key], [h], issue))
        return outgoing

    # --- posting ------------------------------------------------------------------------------

    async def _post_all(self, outgoing: list[_Outgoing], report: BatchReport) -> None:
        by_channel: dict[str, list[_Outgoing]] = {}
        for o in outgoing:
            by_channel.setdefault(o.channel.id, []).append(o)
        await asyncio.gather(*(self._post_channel(msgs, report) for msgs in by_channel.values()))

    async def _post_channel(self, messages: list[_Outgoing], report: BatchReport) -> None:
        for i, o in enumerate(messages):
            try:
                await self._post_one(o)
                report.messages += 1
            except _NotRecorded as exc:
                # Posting on would only add messages we cannot remember (each one repeated on
                # retry): stop this channel; its deliveries stay pending and are retried.
                log.exception(
                    "posted to Slack but could not record it; this channel waits for the retry",
                    channel=o.channel.id, delivery_ids=[h.item.delivery_id for h in o.items],
                )
                cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
                for later in messages[i:]:
                    for h in later.items:
                        h.error = h.error or cause
                return
            except UpstreamError as exc:
                log.warning(
                    "slack post failed", channel=o.channel.id, error=str(exc), retryable=exc.retryable
                )
                # Keep order within the channel: what follows waits for the retry too.
                for later in messages[i:]:
                    for h in later.items:
                        h.error = h.error or exc
                return
            except Exception as exc:
                # A bug with this one message, not Slack being down: the rest of the channel goes on
                # (holding it back would tie its deliveries' fate to this one's).
                self._failed(o.items, exc, "posting")

    async def _post_one(self, o: _Outgoing) -> None:
        channel = o.channel.id
        thread_ts = None
        if o.thread_issue:
            thread_ts = await asyncio.to_thread(self.store.threads.get, channel, o.thread_issue)
        ts = await self.slack.post_message(channel, o.message.text, o.message.blocks, thread_ts=thread_ts)
        try:
            await asyncio.shield(asyncio.to_thread(self._record, o, ts, thread_ts))
        except Exception as exc:
            raise _NotRecorded(f"{type(exc).__name__}: {exc}") from exc

    def _record(self, o: _Outgoing, ts: str, thread_ts: str | None) -> None:
        # Runs shielded: a shutdown (task cancel) right after Slack answered must still record
        # the post, or the next worker would post it again.
        now, channel = self.clock(), o.channel.id
        if len(o.keys) == 1:
            self.store.posts.record(o.keys[0], channel, ts, thread_ts, now)
        else:
            self.store.posts.record_many(o.keys, channel, ts, thread_ts, now)
        if o.thread_issue and thread_ts is None:
            self.store.threads.start(channel, o.thread_issue, ts, now)

    # --- budget thresholds --------------------------------------------------------------------

    async def _budget(self, handled: list[_Handled], report: BatchReport) -> None:
        """Worklogs may push an account over a threshold: check each such account once."""
        if self.jira is None:
            return
        by_account: dict[str, tuple[Account, list[_Handled]]] = {}
        for h in handled:
            if h.error is not None:
                continue
            for e in h.events:
                if isinstance(e, JiraEvent) and e.type.is_worklog:
                    account = account_for(e, self.accounts)
                    if account is not None and account.budget is not None and account.budget.hours:
                        by_account.setdefault(account.key, (account, []))[1].append(h)
        for account, items in by_account.values():
            try:
                report.alerts += await self._check_budget(account, report)
            except UpstreamError as exc:
                log.warning("budget check failed", account=account.key, error=str(exc))
                for h in items:
                    h.error = h.error or exc
            except Exception as exc:
                self._failed(items, exc, f"the budget check of {account.key}")

    async def _check_budget(self, account: Account, report: BatchReport) -> int:
        """Alert each audience on the thresholds its own view of the budget crossed; the number of
        audiences alerted."""
        assert account.budget is not None
        now = self.clock()
        period = budget_period(account, now)
        assert period is not None
        period_key = f"{period.start.isoformat()}..{period.end.isoformat()}"
        # A client channel sees only what the client may see: its percentage, and its thresholds
        # (alerting the client on the internal figure would reveal withheld work).
        audiences = [Audience.INTERNAL] + ([Audience.CLIENT] if account.budget.alert_client else [])
        sent = {
            a: await asyncio.to_thread(self.store.budget_alerts.sent, account.key, period_key, a.value)
            for a in audiences
        }
        if all(set(account.budget.thresholds) <= sent[a] for a in audiences):
            return 0  # every threshold already alerted this period: no Jira call needed
        # Jira reads the date in its user's timezone: start where the digest query starts (a day
        # early), or work logged early on the period's first local day is missed.
        first = earliest_needed(account, now, since=now)
        jql = f'{account.jira.scope_jql()} AND worklogDate >= "{first.isoformat()}"'
        report.jira_calls += 1
        issues = await asyncio.to_thread(self.jira.fetch_issues, jql)
        alerted = 0
        for audience in audiences:
            status = budget_status(account, audience, issues, now)
            assert status is not None
            new = [t for t in status.thresholds_crossed if t not in sent[audience]]
            if not new:
                continue
            threshold = new[-1]  # a jump over 80 and 100 at once is one alert, the higher one
            for channel in account.channels:
                if channel.audience is not audience:
                    continue
                key = f"budget:{account.key}:{period_key}:{audience.value}:{threshold}:{channel.id}"
                if await asyncio.to_thread(self.store.posts.get, key):
                    continue
                message = render_budget_alert(account.name, status, threshold, account.language)
                ts = await self.slack.post_message(channel.id, message.text, message.blocks)
                await asyncio.shield(
                    asyncio.to_thread(self.store.posts.record, key, channel.id, ts, None, self.clock())
                )
            for t in new:
                await asyncio.to_thread(
                    self.store.budget_alerts.record, account.key, period_key, t, str(status.percent_used), now,
                    audience.value,
                )
            log.info(
                "budget threshold alert", account=account.key, audience=audience.value,
                threshold=threshold, percent=str(status.percent_used),
            )
            alerted += 1
        return alerted

    # --- outcomes -----------------------------------------------------------------------------

    async def _finish(self, h: _Handled, report: BatchReport) -> None:
        item, exc = h.item, h.error
        if exc is None and h.unsupported:
            get_logger(Outcome.UNSUPPORTED.logger_name).info(
                "webhook unsupported", source=item.source, delivery_id=item.delivery_id, inbox_id=item.id,
                webhook_event=item.event_name, reason=h.unsupported,
            )
            await asyncio.to_thread(self.store.inbox.finish, item.id, Outcome.UNSUPPORTED.value, h.unsupported)
            report.count(Outcome.UNSUPPORTED.value)
            return
        if exc is None:
            await asyncio.to_thread(self.store.inbox.finish, item.id, "done")
            report.count("done")
            return
        s = self.settings
        upstream = exc if isinstance(exc, UpstreamError) else None
        # Unexpected errors may be passing (a bug hit by one payload state): retry, then give up.
        retryable = upstream.retryable if upstream else True
        dead = (not retryable) or item.attempts >= s.max_attempts
        delay = min(s.backoff_cap, s.backoff_base * (2 ** max(0, item.attempts - 1)))
        if upstream and upstream.retry_after:
            delay = max(delay, dt.timedelta(seconds=upstream.retry_after))
        at = self.clock() + delay
        error = str(exc) if upstream else f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(self.store.inbox.retry_later, item.id, error[:2000], at, dead)
        report.count("dead" if dead else "retry")
        (log.error if dead else log.warning)(
            "delivery dead-lettered" if dead else "delivery will be retried",
            inbox_id=item.id,
            delivery_id=item.delivery_id,
            attempts=item.attempts,
            error=error,
            retry_at=None if dead else at.isoformat(),
        )


def _attach(e: JiraEvent, by_key: dict[str, Issue], by_id: dict[str, Issue], versions: dict[str, str]) -> JiraEvent:
    missing = e.needs_lookup()
    if "issue" in missing:
        issue = (by_key.get(e.issue.key) if e.issue and e.issue.key else None) or (
            by_id.get(e.issue_id) if e.issue_id else None
        )
        if issue is not None:
            e = attach_issue(e, issue)
    if "linked_issue" in missing and e.link and e.link.destination_issue_id in by_id:
        e = attach_issue(e, by_id[e.link.destination_issue_id], linked=True)
    if "project" in e.needs_lookup() and e.version is not None and e.version.id in versions:
        e = attach_project(e, versions[e.version.id])
    return e


def _lookup_failure(
    e: JiraEvent, failed_keys: dict[str, Exception], failed_ids: dict[str, Exception], version_error: Exception | None
) -> Exception | None:
    """The failed lookup that left this event without what it needs, if one did."""
    missing = e.needs_lookup()
    if "issue" in missing:
        if e.issue and e.issue.key in failed_keys:
            return failed_keys[e.issue.key]
        if e.issue_id in failed_ids:
            return failed_ids[e.issue_id]
    if "linked_issue" in missing and e.link and e.link.destination_issue_id in failed_ids:
        return failed_ids[e.link.destination_issue_id]
    if "project" in missing and e.version is not None:
        # A version names no project key: any project whose versions we could not read may own it.
        return version_error
    return None


def _board_to_look_up(e: Event) -> str | None:
    """The board id of a sprint event still missing its project, if it names one."""
    if isinstance(e, JiraEvent) and e.sprint is not None and "board" in e.needs_lookup():
        board_id = e.sprint.board_id
        if board_id and _DIGITS.fullmatch(board_id):
            return board_id
    return None


def _content_to_look_up(e: Event) -> str | None:
    """The content id of a Confluence event still missing its space or title, if it names one."""
    if isinstance(e, ConfluenceEvent) and "content" in e.needs_lookup():
        if e.content_id and _DIGITS.fullmatch(e.content_id):
            return e.content_id
    return None


def _unique(items: Iterable[_Handled]) -> list[_Handled]:
    return list({id(h): h for h in items}.values())


async def _fetch_each(
    ids: set[str], fetch: Callable[[str], Any], what: str
) -> tuple[dict[str, Any], dict[str, Exception]]:
    """One lookup per distinct id (in id order); a failure is kept for its id's deliveries only."""
    found: dict[str, Any] = {}
    failed: dict[str, Exception] = {}
    for item_id in sorted(ids, key=int):
        try:
            found[item_id] = await asyncio.to_thread(fetch, item_id)
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                log.warning(f"{what} lookup failed", id=item_id, error=str(exc), retryable=exc.retryable)
            else:
                log.exception(f"{what} lookup failed unexpectedly", id=item_id)
            failed[item_id] = exc
    return found, failed


def start_inbox_worker(
    store: Store,
    accounts: AccountsConfig,
    slack: SlackPort,
    jira: Any | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    settings: WorkerSettings | None = None,
    *,
    confluence: Any | None = None,
) -> tuple[asyncio.Task, asyncio.Event]:
    """Start the worker on the running loop; stop it with `stop_inbox_worker(task, stop, timeout)`.

    `confluence` (a ConfluencePort) lets it route Confluence Data Center events. Stopping by hand:
    `stop.set()`, then `await asyncio.wait_for(task, timeout)` so the batch under way finishes and
    records its posts, and only then (on timeout) cancel. Cancelling at once can cut a post after
    Slack took it but before it was recorded, and the next process posts it again.
    """
    stop = asyncio.Event()
    worker = InboxWorker(store, accounts, slack, jira, clock, settings, confluence=confluence)
    return asyncio.create_task(worker.run_forever(stop), name="inbox-worker"), stop


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


__all__ = ["BatchReport", "InboxWorker", "WorkerSettings", "post_key", "start_inbox_worker", "stop_inbox_worker"]
