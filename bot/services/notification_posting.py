"""Inbox events to Slack: plan per channel (route, coalesce, render), post in threads, exactly once.

Each message goes through `OncePoster` (intent before Slack, answer after, uncertain posts settled
from Slack's history). A status change replied in an issue's thread also rewrites the thread's
parent to show the new status; that update is best effort and outside the exactly-once keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from structlog.contextvars import bound_contextvars

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.cover import CoverNote, concerned, cover_notes, covering
from bot.domain.events import Event, EventType, JiraEvent, Person
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import Burst, Delivery, coalesce, route, withheld_for_past
from bot.domain.roles import Handover, today_at
from bot.domain.subscriptions import Subscription
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.blocks import Message
from bot.render.notifications import render_burst, render_event, render_thread_parent
from bot.services.exactly_once import NotRecorded, OncePoster, PostBusy
from bot.services.inbox_batch import Work, deliveries_context, delivery_context, fail_where, log_failure
from integrations.slack import PeopleLookup, SlackPort
from integrations.store.inbox import InboxItem
from integrations.store.store import Store
from integrations.store.threads import ThreadParent

log = get_logger("pulse.inbox")

STATUS_TYPES = frozenset({EventType.STATUS_CHANGED, EventType.ISSUE_RESOLVED, EventType.ISSUE_REOPENED})
MAX_KEY = 200  # posts.key column length
MAX_EMAIL_LOOKUPS = 50  # distinct emails asked of Slack per batch
EMAIL_LOOKUP_CONCURRENCY = 5


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


def current_status(event: Event) -> str | None:
    """The issue's status after a status change (resolved / reopened included), else None."""
    if not isinstance(event, JiraEvent) or event.type not in STATUS_TYPES:
        return None
    if event.field_id == "status" and event.to_value:
        return event.to_value
    # A resolution change without a status item: the issue as sent carries its status.
    return event.issue.status if event.issue is not None else None


def _covered(p: Person, account: Account) -> bool:
    return any(k and k in account.people for k in (p.account_id, p.email, p.username, p.key))


def _mentioned(event: Event) -> list[Person]:
    """People named in the comment body an event will quote (the only place names become mentions)."""
    if not isinstance(event, JiraEvent) or event.comment is None or event.type is EventType.COMMENT_DELETED:
        return []
    body = event.comment.body
    text = json.dumps(body) if isinstance(body, Mapping) else str(body or "")
    # A loose test (an id or login anywhere in the body): a false hit costs one cached lookup.
    return [p for p in event.people if any(r and r in text for r in (p.account_id, p.username, p.key))]


def emails_to_look_up(deliveries: Iterable[Delivery], limit: int = MAX_EMAIL_LOOKUPS) -> list[str]:
    """Emails of people mentioned in the deliveries' comments whom their account's `people` lacks."""
    out: dict[str, str] = {}
    for d in deliveries:
        for p in _mentioned(d.event):
            if p.email and p.email.strip() and not _covered(p, d.account):
                out.setdefault(p.email.strip().lower(), p.email)
    emails = list(out.values())
    if len(emails) > limit:
        log.warning("too many people to look up in Slack; the rest stay names", emails=len(emails), limit=limit)
    return emails[:limit]


def with_people(account: Account, found: Mapping[str, str]) -> Account:
    """The account with looked-up mappings added (its configured `people` win)."""
    if not found:
        return account
    return account.model_copy(update={"people": {**found, **account.people}})


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel, and the deliveries (with their keys) it tells about."""

    account: Account
    channel: Channel
    message: Message
    keys: tuple[str, ...]
    items: tuple[InboxItem, ...]
    thread_issue: str | None = None
    status: str | None = None  # the issue's new status, when this message tells a status change


@dataclass(frozen=True)
class Covered:
    """An internal channel's delivery (posted now or before) about people away, and who covers
    them (`bot.domain.cover`): `bot.services.handover_cover` DMs each cover once per issue and day."""

    account: Account
    channel: Channel
    notes: tuple[CoverNote, ...]
    item: InboxItem


@dataclass(frozen=True)
class Plan:
    """The messages to post, the works with what planning failed, and how many were posted before."""

    outgoing: list[Outgoing]
    works: list[Work]
    skipped_already_posted: int
    covered: list[Covered] = field(default_factory=list)


@dataclass(frozen=True)
class Posted:
    """What posting did: new messages, and the deliveries it failed (by inbox id)."""

    messages: int
    failures: Mapping[int, Exception]


def _is_burst(messages: Sequence[object]) -> bool:
    return len(messages) == 1 and isinstance(messages[0], Burst)


def _unique(items: Iterable[InboxItem]) -> tuple[InboxItem, ...]:
    return tuple({i.id: i for i in items}.values())


class NotificationPoster:
    """Plans the messages of a batch and posts them: channels in parallel, in order within one."""

    def __init__(
        self,
        store: Store,
        slack: SlackPort,
        accounts: AccountsConfig,
        clock: Callable[[], dt.datetime],
        burst_threshold: int,
        people_lookup: PeopleLookup | None = None,
        *,
        links: SiteLinks | None = None,
        once: OncePoster,
    ):
        self.store = store
        self.links = links or SiteLinks()
        self.slack = slack
        self.once = once
        self.accounts = accounts
        self.clock = clock
        self.burst_threshold = burst_threshold
        # Slack user ids by email for mentions `Account.people` does not map; None: names only.
        self.people_lookup = people_lookup

    # --- decide and render --------------------------------------------------------------------

    async def plan(self, works: list[Work], subscriptions: Mapping[str, list[Subscription]]) -> Plan:
        """Decide (route by the audience policy and subscriptions, drop what is already posted,
        coalesce bursts per channel) and render."""
        failures: dict[int, Exception] = {}
        per_channel: dict[str, list[tuple[InboxItem, Delivery, str]]] = {}
        seen: set[str] = set()
        withheld: set[str] = set()
        for w in works:
            if not w.ok:
                continue
            with bound_contextvars(**delivery_context(w.item)):
                try:
                    routed, refused = self._route(w, subscriptions)
                except Exception as exc:
                    log_failure(exc, "routing")
                    failures[w.item.id] = exc
                    continue
                try:
                    if refused:
                        await asyncio.to_thread(self._withhold, refused)
                except Exception as exc:
                    # Unrecorded, the comment's twin could reach the client: retry this delivery.
                    log_failure(exc, "recording withheld comments")
                    failures[w.item.id] = exc
                    continue
            withheld.update(k for _, k in refused)
            for d, key in routed:
                if key in seen:
                    continue
                seen.add(key)
                per_channel.setdefault(d.channel.id, []).append((w.item, d, key))
        all_keys = [k for group in per_channel.values() for _, _, k in group]
        posted = await asyncio.to_thread(self.store.posts.recorded, all_keys) if all_keys else set()
        # A twin earlier in this batch than the edit that withholds it is recorded above too.
        posted |= withheld.intersection(all_keys)
        planned = []
        for group in per_channel.values():
            group = [g for g in group if g[2] not in posted]
            if group:
                planned.append((group, coalesce([d for _, d, _ in group], self.burst_threshold)))
        # Internal deliveries (posted now or before: a cover's DM may still be due after a retry).
        internal = [(item, d, key) for group in per_channel.values() for item, d, key in group
                    if d.channel.audience is Audience.INTERNAL and key not in withheld]
        # Bursts quote no comments: only messages rendered one by one need the people.
        found = await self._look_up_people(
            [d for group, messages in planned if not _is_burst(messages) for _, d, _ in group]
            + [d for _, d, key in internal if key in posted]
        )
        accounts: dict[str, Account] = {}  # each account with the people found, made once
        covers, covered = await self._covers(internal, accounts, found, failures)
        outgoing: list[Outgoing] = []
        for group, messages in planned:
            if _is_burst(messages):
                burst = messages[0]
                assert isinstance(burst, Burst)
                items = _unique(i for i, _, _ in group)
                with bound_contextvars(**deliveries_context(items)):
                    try:
                        rendered = render_burst(burst)
                    except Exception as exc:
                        log_failure(exc, "rendering")
                        for i in items:
                            failures.setdefault(i.id, exc)
                        continue
                outgoing.append(Outgoing(burst.account, burst.channel, rendered, tuple(k for _, _, k in group), items))
                continue
            for item, d, key in group:
                with bound_contextvars(**delivery_context(item)):
                    try:
                        if item.id in failures:
                            continue  # its cover could not be worked out: retried as a whole
                        account = accounts.get(d.account.key)
                        if account is None:
                            account = accounts[d.account.key] = with_people(d.account, found)
                        # Only internal deliveries have covers (`_covers`): a client channel's
                        # message reads as without a handover.
                        message = render_event(d.event, d.channel.audience, account, links=self.links,
                                               covers=covering(covers.get(key, ())))
                    except Exception as exc:
                        log_failure(exc, "rendering")
                        failures.setdefault(item.id, exc)
                        continue
                issue = d.event.issue_key if isinstance(d.event, JiraEvent) else None
                status = current_status(d.event) if issue else None
                outgoing.append(Outgoing(d.account, d.channel, message, (key,), (item,), issue, status))
        covered = [c for c in covered if c.item.id not in failures]
        return Plan(outgoing, fail_where(works, failures), len(posted), covered)

    async def _covers(
        self, internal: list[tuple[InboxItem, Delivery, str]], accounts: dict[str, Account],
        found: Mapping[str, str], failures: dict[int, Exception],
    ) -> tuple[dict[str, tuple[CoverNote, ...]], list[Covered]]:
        """Who covers the people away whom each internal delivery concerns (their issue, a comment
        mentioning them), as of today in the account's timezone: by post key (the message names the
        cover), and as `Covered` (the cover's DM). Cover is for agency eyes: only channels whose
        effective audience is internal (a shared one is a client's) get any."""
        concerning = []
        for item, d, key in internal:
            account = accounts.get(d.account.key)
            if account is None:
                account = accounts[d.account.key] = with_people(d.account, found)
            if concerned(d.event, account):
                concerning.append((item, d, key, account))
        if not concerning:
            return {}, []
        try:
            handovers = await asyncio.to_thread(self._handovers)
        except Exception as exc:
            # Without knowing who is away, a mention could name the wrong person: retry them.
            log_failure(exc, "reading handovers")
            for item, _, _, _ in concerning:
                failures.setdefault(item.id, exc)
            return {}, []
        by_key: dict[str, tuple[CoverNote, ...]] = {}
        covered: list[Covered] = []
        for item, d, key, account in concerning:
            notes = cover_notes(d.event, account, today_at(account, self.clock()), handovers)
            if notes:
                by_key[key] = notes
                covered.append(Covered(d.account, d.channel, notes, item))
        return by_key, covered

    def _handovers(self) -> list[Handover]:
        """Handovers not cancelled that may apply today somewhere (a day of slack for time zones)."""
        return self.store.handovers.active(self.clock().date() - dt.timedelta(days=1))

    def _route(
        self, w: Work, subscriptions: Mapping[str, list[Subscription]]
    ) -> tuple[list[tuple[Delivery, str]], list[tuple[str, str]]]:
        """Where the delivery's events go (with their keys), and the (channel, key)s its comment
        edits are withheld from (the audience policy: `notify_policy`)."""
        delivery_id = w.item.delivery_id
        routed = [(d, post_key(delivery_id, d.channel.id, d.event))
                  for d in route(list(w.events), self.accounts, subscriptions)]
        refused = [(d.channel.id, post_key(delivery_id, d.channel.id, d.event))
                   for d in withheld_for_past(list(w.events), self.accounts)]
        return routed, refused

    async def _look_up_people(self, deliveries: list[Delivery]) -> dict[str, str]:
        """Jira email → Slack user id for the mentioned people the accounts do not map."""
        people = self.people_lookup
        if people is None:
            return {}
        emails = emails_to_look_up(deliveries)
        if not emails:
            return {}
        gate = asyncio.Semaphore(EMAIL_LOOKUP_CONCURRENCY)

        async def one(email: str) -> str | None:
            async with gate:
                try:
                    return await people.lookup(email)
                except Exception:
                    # A mention falls back to the name: never fail a notification for this.
                    log.exception("people lookup failed; the mention stays a name")
                    return None

        ids = await asyncio.gather(*(one(e) for e in emails))
        by_email = {e.strip().lower(): i for e, i in zip(emails, ids, strict=True) if i}
        # Keyed as each event spells the address: rendering matches `Person.email` exactly.
        spellings = {p.email for d in deliveries for p in _mentioned(d.event) if p.email}
        return {s: by_email[s.strip().lower()] for s in spellings if s.strip().lower() in by_email}

    def _withhold(self, refused: list[tuple[str, str]]) -> None:
        # A post without a message (ts NULL): the key counts as handled for that channel, so a
        # `comment_created` twin, in this batch or a later one, is never posted there.
        now = self.clock()
        for channel_id, key in refused:
            self.store.posts.record(key, channel_id, None, None, now)

    # --- posting ------------------------------------------------------------------------------

    async def post_all(self, outgoing: list[Outgoing]) -> Posted:
        """Post every planned message: channels in parallel, in order within a channel."""
        by_channel: dict[str, list[Outgoing]] = {}
        for o in outgoing:
            by_channel.setdefault(o.channel.id, []).append(o)
        results = await asyncio.gather(*(self._post_channel(msgs) for msgs in by_channel.values()))
        failures: dict[int, Exception] = {}
        for _, failed in results:
            for inbox_id, exc in failed.items():
                failures.setdefault(inbox_id, exc)
        return Posted(sum(n for n, _ in results), failures)

    async def _post_channel(self, messages: list[Outgoing]) -> tuple[int, dict[int, Exception]]:
        """Post one channel's messages in order; the number posted and the deliveries that failed."""
        first = messages[0]
        posted = 0
        failures: dict[int, Exception] = {}
        with bound_contextvars(account=first.account.key, channel=first.channel.id):
            for i, o in enumerate(messages):
                with bound_contextvars(**deliveries_context(o.items)):
                    try:
                        if await self._post_one(o):
                            posted += 1
                        continue
                    except PostBusy as exc:
                        log.info("another worker holds this channel's message; retrying shortly", reason=str(exc))
                        stop: Exception = exc
                    except UpstreamError as exc:
                        # Keep order within the channel: what follows waits for the retry too.
                        log_failure(exc, "slack post")
                        stop = exc
                    except NotRecorded as exc:
                        # Posting on would stack more messages whose answer is missing: stop this
                        # channel; its deliveries are retried, and the open intent is settled then.
                        log.exception("posted to Slack but could not record it; this channel waits for the retry")
                        stop = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
                    except Exception as exc:
                        # A bug with this one message, not Slack being down: the rest of the channel
                        # goes on (holding it back would tie its deliveries' fate to this one's).
                        log_failure(exc, "posting")
                        for item in o.items:
                            failures.setdefault(item.id, exc)
                        continue
                for later in messages[i:]:
                    for item in later.items:
                        failures.setdefault(item.id, stop)
                break
        return posted, failures

    async def _post_one(self, o: Outgoing) -> bool:
        """Post one planned message; False if it turned out to be posted already."""
        channel = o.channel.id
        parent = None
        if o.thread_issue:
            parent = await asyncio.to_thread(self.store.threads.parent, channel, o.thread_issue)
        thread_ts = parent.ts if parent is not None else None
        posted = await self.once.post(
            list(o.keys), channel, o.message, thread_ts, thread_issue=o.thread_issue if parent is None else None
        )
        if posted.new and parent is not None and o.status is not None:
            await self._show_status(o, parent)
        return posted.new

    async def _show_status(self, o: Outgoing, parent: ThreadParent) -> None:
        # The reply is posted and recorded: a failure here must neither fail nor repeat it.
        if parent.text is None or parent.blocks is None:
            return  # a thread started before parents were stored: nothing to rebuild it from
        try:
            message = render_thread_parent(parent.text, parent.blocks, o.status or "", o.account.language)
            await self.slack.update_message(o.channel.id, parent.ts, message.text, message.blocks)
        except Exception as exc:
            log.warning(
                "could not show the new status on the thread's parent; the reply is posted",
                issue=o.thread_issue, error=f"{type(exc).__name__}: {exc}",
            )
