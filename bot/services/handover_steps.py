"""What a handover does over time, per account, each step exactly once:

- `created` — the summary (DM to the cover and to the leaver) and a short post in the internal
  channel; run right after the handover is saved (and by the clock if that was cut off). Jira:
  the digest's fetch, plus one comment call for each of at most MAX_COMMENT_ISSUES (5) issues.
- `start` — on its first day (in the account's timezone): the client channel's one line, if the
  account allows it (`handover_client_line`), with names only; the cancel is re-read right before
  it is posted. While the handover runs, the line is kept true to today (`_refresh_lines`): when
  the contact it would name changes (a chain: the cover's own handover made, cancelled, begun or
  ended), it is rewritten in place, once per new text (a claimed version key).
- `correct` — when it is cancelled after it started: the client line of `start` is rewritten in
  place to say the usual contacts are back (no names), or one correcting line is posted; while
  another process runs `start` (it may be posting the line), it waits for it (backoff).
- `end` — the day after its last day, or at once when it is cancelled after it started: "while you
  were away" to the returner. Jira: the digest's fetch, plus one comment call for each of at most
  MAX_ANSWER_ISSUES (10) issues (the client's answers); the store: the support requests meanwhile.
- `page-cancel` — on a cancel: the handover's Confluence page (written by `created` where the
  account sets `confluence.handover_space`/`handover_parent`) rewritten in place to say so.

The Confluence page is exactly once too: its intent (title, body) is stored before it is created,
and its id after; a stored intent without an id is an uncertain create, looked up by its unique
title before creating again.

Each step is claimed in the store before it runs (a second process, or a restart, finds it taken or
done); a step whose process died is taken over later, one that failed after a capped exponential
backoff (`step_backoff`: 1, 2, 4 … minutes, at most an hour; its attempts are stored with it). Every
message goes through `OncePoster` with a stable key, so a step run again never repeats a post (DMs
through `post_unread`: the bot cannot read them back, so one a crash left uncertain is not resent). The clock (`tick`, every
minute from `pulse serve`) also reports roles that nobody holds today to the internal channel, once
per problem.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.handover_notes import (
    ANSWERS_ASKED,
    COMMENTS_ASKED,
    CommentNote,
    Summary,
    absence_period,
    answer_issues,
    client_answers,
    comment_issues,
    excerpt,
    summary,
    while_away,
    with_comments,
)
from bot.domain.links import SiteLinks
from bot.domain.retry import backoff
from bot.domain.roles import Handover, all_roles, holders, roles_named, today_at
from bot.errors import UpstreamError
from bot.logs import get_logger
from bot.render.blocks import Message
from bot.render.handover import (
    CLIENT_ROLES,
    render_client_line,
    render_client_line_ended,
    render_internal_note,
    render_problem,
    render_summary,
    render_while_away,
)
from bot.render.handover_page import handover_page_body, handover_page_status, handover_page_title
from bot.services.channel_audiences import ChannelAudiences
from bot.services.digests import INTENT_LEASE, DigestService
from bot.services.exactly_once import OncePoster, owner_id
from integrations.confluence import ConfluencePort
from integrations.slack import SlackPort
from integrations.store.handovers import StoredHandover
from integrations.store.store import Store

log = get_logger("pulse.handover")

# A claimed step older than this belongs to a dead process and is taken over.
STALE_STEP = dt.timedelta(minutes=10)
# A failing step (Jira or Slack down) waits this long after its first failure, twice as long after
# each further one, never longer than the cap (`bot.domain.retry.backoff`): not every tick.
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=1)
# Handovers that ended longer ago than this are not looked at any more (a bot down for longer
# does not greet anyone back weeks late).
CATCH_UP = dt.timedelta(days=7)

Names = Callable[[str], Awaitable[str | None]]
# Whether someone is one of the agency *today* (None: Slack cannot tell now). Checked at every step,
# not only when the handover was saved: a leaver or cover who has become a guest, or left for
# another team, since then must get no internal summary and must not be named to the client.
Membership = Callable[[str], Awaitable[bool | None]]


def _line_key(handover_id: str, account_key: str, channel_id: str) -> str:
    """The key of the client line `start` posts (its ts is what later versions rewrite)."""
    return f"handover:{handover_id}:{account_key}:client:{channel_id}"


def _version_prefix(handover_id: str, account_key: str, channel_id: str) -> str:
    return f"handover:{handover_id}:{account_key}:client-line:{channel_id}:"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version_key(handover_id: str, account_key: str, channel_id: str, number: int, text: str) -> str:
    """One text the client line was given: its number (0: posted by `start`) and the text's digest."""
    return f"{_version_prefix(handover_id, account_key, channel_id)}{number:04d}:{_digest(text)}"


def step_backoff(attempts: int) -> dt.timedelta:
    """How long a step that failed `attempts` times in a row waits: 1, 2, 4 … min, at most an hour."""
    return backoff(attempts, RETRY_BASE, RETRY_CAP)


class HandoverSteps:
    def __init__(
        self, store: Store, accounts: AccountsConfig, digests: DigestService, slack: SlackPort,
        clock: Callable[[], dt.datetime], names: Names, links: SiteLinks | None = None,
        audiences: ChannelAudiences | None = None, owner: str | None = None,
        is_member: Membership | None = None, confluence: ConfluencePort | None = None,
    ):
        self.is_member = is_member
        self.confluence = confluence
        self.store = store
        self.accounts = accounts
        self.digests = digests
        self.slack = slack
        self.clock = clock
        self.names = names
        self.links = links or SiteLinks()
        self.audiences = audiences
        self.owner = owner or owner_id()
        self.once = OncePoster(store, slack, clock, self.owner, INTENT_LEASE)
        self._running: set[asyncio.Task] = set()

    async def start(self, stored: StoredHandover) -> None:
        """Run a handover's due steps in the background (right after it is saved or cancelled: the
        person's answer does not wait for Jira). Cut off or failed, the clock runs them again."""
        async def guarded() -> None:
            try:
                await self.run(stored)
                await self.refresh_related(stored)
            except Exception:
                log.exception("handover steps failed; the clock retries", handover=stored.id)

        task = asyncio.create_task(guarded(), name=f"handover-{stored.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def refresh_related(self, changed: StoredHandover) -> None:
        """Right after a handover is saved or cancelled: the client lines of the other running
        handovers of its accounts (a chain through it names someone else now) are brought up to
        date at once, not only on the next tick."""
        now = self.clock()
        listed = await asyncio.to_thread(self.store.handovers.listed, (now - CATCH_UP).date(), False)
        for stored in listed:
            if stored.id == changed.id:
                continue
            for key in sorted(stored.handover.account_keys & changed.handover.account_keys):
                account = self.accounts.by_key(key)
                if account is None or not stored.handover.start <= today_at(account, now) <= stored.handover.end:
                    continue
                try:
                    await self._refresh_lines(stored, account)
                except Exception as exc:  # the clock tries again on its next tick
                    log.warning("client line not brought up to date; retried on the next tick", handover=stored.id,
                                account=key, error=f"{type(exc).__name__}: {exc}")

    async def settle(self) -> None:
        """Wait for the steps `start` began (the demo and tests)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    # --- the clock ----------------------------------------------------------------------------

    async def tick(self) -> list[tuple[str, str, str]]:
        """Run every step that is due; (handover id, account key, step) of each one run now."""
        now = self.clock()
        listed = await asyncio.to_thread(
            self.store.handovers.listed, (now - CATCH_UP).date(), True)
        ran = []
        for stored in listed:
            ran.extend(await self.run(stored, now))
        await self._report_problems(now)
        return ran

    async def run(self, stored: StoredHandover, now: dt.datetime | None = None) -> list[tuple[str, str, str]]:
        """The steps of one handover that are due now (also called right after saving or cancelling it)."""
        now = now or self.clock()
        h = stored.handover
        ran = []
        for key in sorted(h.account_keys):
            account = self.accounts.by_key(key)
            if account is None:
                continue  # removed from the accounts file since
            today = today_at(account, now)
            started = today >= h.start
            if not stored.cancelled and today <= h.end:
                if await self._step(stored, account, "created", self._created):
                    ran.append((h.id, key, "created"))
                if started and await self._step(stored, account, "start", self._start):
                    ran.append((h.id, key, "start"))
                if started:
                    try:
                        await self._refresh_lines(stored, account)
                    except Exception as exc:  # the next tick tries again (the version key is not done)
                        log.warning("client line not brought up to date; retried on the next tick", handover=h.id,
                                    account=key, error=f"{type(exc).__name__}: {exc}")
            cancelled_after_start = (stored.cancelled_at is not None
                                     and today_at(account, stored.cancelled_at) >= h.start)
            if cancelled_after_start and await self._step(stored, account, "correct", self._correct):
                ran.append((h.id, key, "correct"))
            over = (not stored.cancelled and today > h.end) or cancelled_after_start
            if over and await self._step(stored, account, "end", self._end):
                ran.append((h.id, key, "end"))
            if stored.cancelled and self._writes_pages(account) and await self._step(
                    stored, account, "page-cancel", self._page_cancelled):
                ran.append((h.id, key, "page-cancel"))
        return ran

    async def _step(
        self, stored: StoredHandover, account: Account, step: str,
        work: Callable[[StoredHandover, Account], Awaitable[None]],
    ) -> bool:
        now = self.clock()
        claimed = await asyncio.to_thread(
            self.store.handovers.claim_step, stored.id, account.key, step, self.owner, now, now - STALE_STEP)
        if not claimed:
            return False
        try:
            await work(stored, account)
        except Exception as exc:
            log.warning("handover step failed; retried on a later tick", handover=stored.id, account=account.key,
                        step=step, error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            await asyncio.to_thread(self.store.handovers.finish_step, stored.id, account.key, step, self.owner,
                                    self.clock(), f"{type(exc).__name__}: {exc}"[:500], step_backoff)
            return False
        await asyncio.to_thread(self.store.handovers.finish_step, stored.id, account.key, step, self.owner, self.clock())
        log.info("handover step done", handover=stored.id, account=account.key, step=step)
        return True

    # --- posting ------------------------------------------------------------------------------

    async def _still_one_of_us(self, user_id: str) -> bool:
        """False for someone who is no longer an agency member (withheld: fail closed); raises when
        Slack cannot tell now, so the step is tried again on a later tick instead of guessing."""
        if self.is_member is None:
            return True
        member = await self.is_member(user_id)
        if member is None:
            raise UpstreamError("slack", f"cannot tell whether {user_id} is an agency member", retryable=True)
        if not member:
            log.warning("no longer an agency member; handover message withheld", user=user_id)
        return member

    async def _dm(self, key: str, user_id: str, message: Message) -> None:
        if not await self._still_one_of_us(user_id):
            return
        channel = await self.slack.open_dm(user_id)
        # A DM cannot be read back (no im:history): one a crash left uncertain is not sent again.
        await self.once.post_unread([key], channel, message)

    async def _channels(self, account: Account, audience: Audience) -> list[Channel]:
        """The account's channels whose content is for `audience` now (a shared internal channel is a client's)."""
        found = []
        for channel in account.channels:
            effective = await self.audiences.audience(account, channel) if self.audiences else channel.audience
            if effective is audience and channel.audience is audience:
                found.append(channel)
        return found

    # --- the steps ----------------------------------------------------------------------------

    async def _created(self, stored: StoredHandover, account: Account) -> None:
        h, now = stored.handover, self.clock()
        data = await self.digests.fetch(account, now, now - dt.timedelta(days=1))
        handovers = await asyncio.to_thread(self.store.handovers.active, now.date() - dt.timedelta(days=1))
        notes = summary(account, h, data.issues, data.versions, now, handovers)
        notes = with_comments(notes, await self._comments(comment_issues(notes), COMMENTS_ASKED), data.issues)
        page_url = await self._write_page(stored, account, notes)
        message = render_summary(notes, self.links, page_url)
        for user in dict.fromkeys((h.to_user, h.from_user)):
            await self._dm(f"handover:{h.id}:{account.key}:summary:{user}", user, message)
        for channel in await self._channels(account, Audience.INTERNAL):
            await self.once.post([f"handover:{h.id}:{account.key}:internal:{channel.id}"], channel.id,
                                 render_internal_note(notes, page_url))

    # --- the Confluence page ------------------------------------------------------------------

    def _writes_pages(self, account: Account) -> bool:
        return self.confluence is not None and account.confluence is not None and account.confluence.handover_pages

    async def _people(self, h: Handover) -> dict[str, str]:
        found = {}
        for user in (h.from_user, h.to_user):
            found[user] = await self.names(user) or user
        return found

    async def _write_page(self, stored: StoredHandover, account: Account, notes: Summary) -> str | None:
        """The handover's page under the account's `handover_parent` in the agency's own space,
        created once; its link (from the configured site), or None where the account has none or
        Confluence refused it for good (logged: the summary goes out without the link)."""
        scope, confluence, h = account.confluence, self.confluence, stored.handover
        if confluence is None or scope is None or scope.handover_space is None or scope.handover_parent is None:
            return None
        space, parent = scope.handover_space, scope.handover_parent
        title = handover_page_title(account, h)
        body = handover_page_body(notes, self.links)
        page = handover_page_status(account, h, await self._people(h)) + body
        try:
            recorded = await asyncio.to_thread(self.store.handovers.page, h.id, account.key)
            if recorded is not None and recorded.page_id is not None:
                return self.links.content(recorded.page_id)
            if recorded is None:
                await asyncio.to_thread(self.store.handovers.page_intent, h.id, account.key, title, body, self.clock())
                found = None
            else:
                # An earlier create may have happened (crash, lost answer): find it before creating.
                found = await asyncio.to_thread(confluence.find_page_under, space, parent, title)
            if found is None:
                found = await asyncio.to_thread(confluence.create_page, space, parent, title, page)
            await asyncio.to_thread(self.store.handovers.page_written, h.id, account.key, found.id, found.version,
                                    "active", self.clock(), body)
            log.info("handover page written", handover=h.id, account=account.key, page=found.id)
            return self.links.content(found.id)
        except UpstreamError as exc:
            if exc.retryable:
                raise  # the step is retried; the summary waits for the page's link
            log.warning("handover page not written; the summary goes without its link", handover=h.id,
                        account=account.key, error=str(exc))
            return None

    async def _page_cancelled(self, stored: StoredHandover, account: Account) -> None:
        """Rewrite the page in place (version + 1, same id) to say the handover was cancelled."""
        scope, confluence, h = account.confluence, self.confluence, stored.handover
        if confluence is None or scope is None or scope.handover_space is None or scope.handover_parent is None:
            return
        if stored.cancelled_at is None:
            return
        claimed = await asyncio.to_thread(self.store.handovers.step_claimed_at, h.id, account.key, "created")
        if claimed is not None and claimed >= self.clock() - STALE_STEP:
            # The summary (and its page) may be on its way in another task or process: later.
            raise UpstreamError("confluence", "handover page may still be being written; retried", retryable=True)
        recorded = await asyncio.to_thread(self.store.handovers.page, h.id, account.key)
        if recorded is None or recorded.state == "cancelled":
            return  # never meant to be written (cancelled before the summary ran), or said so already
        page_id = recorded.page_id
        if page_id is None:
            found = await asyncio.to_thread(confluence.find_page_under, scope.handover_space, scope.handover_parent,
                                            recorded.title)
            if found is None:
                return  # the uncertain create never happened, and will not now
            page_id = found.id
        page = handover_page_status(account, h, await self._people(h),
                                    today_at(account, stored.cancelled_at)) + recorded.body
        written = await asyncio.to_thread(confluence.update_page, page_id, recorded.title, page)
        await asyncio.to_thread(self.store.handovers.page_written, h.id, account.key, written.id, written.version,
                                "cancelled", self.clock())

    async def _line_today(self, stored: StoredHandover, account: Account) -> Message | None:
        """The client line of this handover as it is true today, or None when none is to be said.
        The contact is whoever holds the roles today: the cover, or the cover's own cover when
        they are away too (a chain), until the chain's end; the same answer `who` gives."""
        h = stored.handover
        roles = [r for r in roles_named(account, h.from_user) if r in CLIENT_ROLES]
        if not account.handover_client_line or not roles:
            return None
        today = today_at(account, self.clock())
        handovers = await asyncio.to_thread(self.store.handovers.active, today - dt.timedelta(days=1))
        contact = next(((holder.user_id, cover.until)
                        for role in roles for holder in holders(account, role, today, handovers).holders
                        for cover in holder.covering if cover.handover_id == h.id), None)
        if contact is None:
            log.warning("the roles resolve to nobody today; no client line", handover=h.id, account=account.key)
            return None
        to_user, until = contact
        if not await self._still_one_of_us(to_user):
            return None  # never name someone to the client as its contact who is no longer one of the agency
        name = await self.names(to_user)
        if not name:
            # Fail closed: without a name the line would need an id or a mention; say nothing.
            log.warning("no name for the cover; no client line", handover=h.id, account=account.key)
            return None
        return render_client_line(account, roles, name, until)

    async def _cancelled_now(self, stored: StoredHandover) -> bool:
        """Read again from the store right before a client line is written: a cancel made by
        another process while this one looked things up wins (no line for a cancelled handover)."""
        fresh = await asyncio.to_thread(self.store.handovers.get, stored.id)
        return fresh is None or fresh.cancelled

    async def _start(self, stored: StoredHandover, account: Account) -> None:
        message = await self._line_today(stored, account)
        if message is None:
            return
        channels = await self._channels(account, Audience.CLIENT)
        if await self._cancelled_now(stored):
            log.info("cancelled meanwhile; no client line", handover=stored.id, account=account.key)
            return
        for channel in channels:
            posted = await self.once.post([_line_key(stored.id, account.key, channel.id)], channel.id, message)
            # What the line says now: version 0 (`_refresh_lines` rewrites it when today's state differs).
            await asyncio.to_thread(self.store.posts.record, _version_key(stored.id, account.key, channel.id, 0,
                                                                          message.text), channel.id, posted.ts,
                                    None, self.clock())

    async def _refresh_lines(self, stored: StoredHandover, account: Account) -> None:
        """The client line is a function of today's state: a running handover's posted line is
        rewritten in place when what it would say today differs from what it says (the cover's
        own handover made, cancelled, begun or ended: the chain's holder changed). Each new text
        is one version key, claimed before Slack is called (`OncePoster.update`): once per change,
        also across processes; channels by the audience policy, as at the start."""
        lines = []
        for channel in await self._channels(account, Audience.CLIENT):
            line = await asyncio.to_thread(self.store.posts.get, _line_key(stored.id, account.key, channel.id))
            if line is not None and line.ts is not None and line.state == "done":
                lines.append((channel, line.ts))
        if not lines:
            return
        message = await self._line_today(stored, account)
        if message is None:
            return  # nothing true to say with a name: the line is left as it is (logged)
        for channel, ts in lines:
            prefix = _version_prefix(stored.id, account.key, channel.id)
            versions = [(int(n), digest, post) for post in await asyncio.to_thread(self.store.posts.starting_with, prefix)
                        for n, _, digest in [post.key.removeprefix(prefix).partition(":")] if n.isdigit()]
            wanted = _digest(message.text)
            latest = max(versions, key=lambda v: (v[0], v[2].state == "done"), default=None)
            if latest is not None and latest[1] == wanted:
                if latest[2].state == "done":
                    continue  # says this already
                number = latest[0]  # an update of this text cut off: done again (idempotent)
            else:
                number = latest[0] + 1 if latest is not None else 1
            if await self._cancelled_now(stored):
                return  # `correct` owns the line of a cancelled handover
            if await self.once.update([_version_key(stored.id, account.key, channel.id, number, message.text)],
                                      channel.id, ts, message):
                log.info("client line rewritten to today's contact", handover=stored.id, account=account.key,
                         channel=channel.id, version=number)

    async def _correct(self, stored: StoredHandover, account: Account) -> None:
        """Cancelled after it started: the client line posted at the start ("until Jan 6, X is your
        contact") is no longer true. It is rewritten in place (chat.update of the stored ts) to say
        the usual contacts are back — no names, nothing about who was away; where Slack will not
        update it (deleted, too old), one correcting line is posted instead (keyed: once). The
        step is claimed like the others, and updating twice writes the same words."""
        h = stored.handover
        roles = [r for r in roles_named(account, h.from_user) if r in CLIENT_ROLES]
        if not roles:
            return  # no line was posted (it names roles the client hears of)
        assert stored.cancelled_at is not None
        claimed_at = await asyncio.to_thread(self.store.handovers.step_claimed_at, h.id, account.key, "start")
        if claimed_at is not None and claimed_at >= self.clock() - STALE_STEP:
            # Another process is running the start right now (it may be posting the line): not
            # "never posted" yet. Tried again after the backoff, when the start is done or dead.
            raise UpstreamError("handover", "the start step is running; correcting after it", retryable=True)
        day = today_at(account, stored.cancelled_at)
        message = render_client_line_ended(account, roles, day)
        for channel in await self._channels(account, Audience.CLIENT):
            line = await asyncio.to_thread(self.store.posts.get, _line_key(h.id, account.key, channel.id))
            if line is None:
                continue  # never posted here
            correction = [f"handover:{h.id}:{account.key}:client-ended:{channel.id}"]
            if line.ts is None:
                # The start's post was cut off by a crash (an intent without its answer) and the
                # start step no longer runs: whether or not the line is there, the correction is true.
                await self.once.post(correction, channel.id, message)
                continue
            try:
                await self.slack.update_message(channel.id, line.ts, message.text, message.blocks)
            except UpstreamError as exc:
                if exc.retryable or exc.uncertain:
                    raise  # Slack down: the step is tried again after its backoff
                log.warning("client line not updatable; posting a correction", handover=h.id, channel=channel.id,
                            error=str(exc))
                await self.once.post(correction, channel.id, message)

    async def _end(self, stored: StoredHandover, account: Account) -> None:
        h, now = stored.handover, self.clock()
        until = min(h.end, today_at(account, stored.cancelled_at)) if stored.cancelled_at else h.end
        since = dt.datetime.combine(h.start, dt.time(), account.tz)
        data = await self.digests.fetch(account, now, since)
        away = while_away(account, h, until, data.issues, data.versions, now)
        raw = await self._comments(answer_issues(account, h, until, data.issues), ANSWERS_ASKED)
        start, end = absence_period(account, h.start, until)
        requests = await asyncio.to_thread(self.store.support.in_period, account.key, start, end)
        # The client's own requests and messages from Slack: only those Slack said came from outside.
        from_slack = [CommentNote(r.issue_key, r.requester_name or "?", r.created_at, excerpt(r.text, 1) or "", "slack")
                      for r in requests if r.requester_external]
        away = client_answers(away, raw, data.issues, from_slack)
        message = render_while_away(away, self.links)
        await self._dm(f"handover:{h.id}:{account.key}:away:{h.from_user}", h.from_user, message)

    async def _comments(self, keys: list[str], last: int) -> dict[str, list[dict[str, Any]]]:
        """The newest comments of each issue: one Jira call per issue (the callers bound the issues)."""
        jira = self.digests.jira
        return {key: await asyncio.to_thread(jira.issue_comments, key, last) for key in keys}

    async def _report_problems(self, now: dt.datetime) -> None:
        """A role that nobody holds today (a cycle of covers, or everyone away, that arose after the
        handovers were saved) is told to the account's internal channel once per problem: keyed by
        the account, role, kind, people and the handovers that cause it (a new combination later is
        a new problem), not once a day. A cycle's "nobody" is the cycle itself: told once, as it."""
        handovers = await asyncio.to_thread(self.store.handovers.active, now.date() - dt.timedelta(days=1))
        for account in self.accounts.accounts:
            if not any(account.key in h.account_keys for h in handovers):
                continue
            today = today_at(account, now)
            for role in all_roles(account, today, handovers).values():
                cycle = any(p.kind == "cycle" for p in role.problems)
                for problem in role.problems:
                    if problem.kind == "nobody" and cycle:
                        continue
                    people = sorted(problem.people)
                    causes = sorted({h.id for h in handovers
                                     if h.from_user in problem.people and h.applies(account.key, today)}, key=int)
                    key = (f"roles-problem:{account.key}:{role.role}:{problem.kind}:{','.join(people)}:"
                           f"{','.join(causes)}")
                    message = render_problem(account, role.role, problem.kind, people, today)
                    for channel in await self._channels(account, Audience.INTERNAL):
                        try:
                            await self.once.post([_short(f"{key}:{channel.id}")], channel.id, message)
                        except Exception as exc:
                            log.warning("role problem not reported", account=account.key, error=str(exc))


def _short(key: str, limit: int = 200) -> str:
    """A post key within the column (many people or handovers): its head and a digest of the rest."""
    if len(key) <= limit:
        return key
    return key[: limit - 66] + ":" + hashlib.sha256(key.encode()).hexdigest()
