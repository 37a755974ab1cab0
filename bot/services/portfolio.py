"""The portfolio: each account's health snapshot, kept fresh in the background, and bad news told at once.

Snapshots are refreshed (1) by digest runs, from the digest's own Jira fetch (no extra call);
(2) in the background, for accounts a webhook marked stale, without a snapshot, or older than
`max_age`, but never more often than every `min_interval` per account; (3) on request
(`refresh`). The App Home and `/pulse accounts` read only the store (`healths`), never Jira.

When a refresh finds the account worse than its last snapshot (`portfolio.worsenings`), its
internal channels hear it at once, the responsible role named, and the people holding that role
today (cover applied, agency members only) get it by direct message: each through `OncePoster`
with a key from the change itself (and the channel or the person), posted before the new snapshot
is saved, so a crash in between repeats nothing and loses nothing. Improvements wait for the digest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.domain.access import Role
from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.commands import PORTFOLIO_COMMANDS, Invocation
from bot.domain.digest import build_digest, default_since
from bot.domain.events import Event, JiraEvent
from bot.domain.links import SiteLinks
from bot.domain.notify_policy import accounts_for
from bot.domain.portfolio import AccountHealth, Concern, Scope, Worsening, assess, select, worsenings
from bot.domain.roles import Handover, holders, roles_held, today_at
from bot.domain.words import sentence
from bot.errors import UpstreamError, UserError
from bot.logs import get_logger
from bot.render.blocks import escape_mrkdwn
from bot.render.i18n import translate
from bot.render.portfolio import (
    HomeState,
    render_external_home,
    render_home,
    render_overview_messages,
    render_worsening,
)
from bot.services.channel_audiences import ChannelAudiences
from bot.services.commands import Asker, CommandService, Reply, answer_stays_internal
from bot.services.digests import DigestService, JiraData
from bot.services.exactly_once import OncePoster, PostBusy, owner_id
from integrations.store.store import Store

log = get_logger("pulse.portfolio")

# Background refreshes: at most every MIN_INTERVAL per account, and each account at least every
# MAX_AGE (a stale one as soon as MIN_INTERVAL allows).
MIN_INTERVAL = dt.timedelta(minutes=5)
MAX_AGE = dt.timedelta(minutes=60)
CLAIM_LEASE = dt.timedelta(minutes=2)
PASS_EVERY_S = 60.0
FIRST_PASS_AFTER_S = 120.0

# Who hears of which bad news (named in the internal channel and by direct message), with cover applied.
RESPONSIBLE: dict[Concern, str] = {
    Concern.BUDGET_EXHAUSTED: "budget",
    Concern.BUDGET_RUNS_OUT: "budget",
    Concern.BUDGET_THRESHOLD: "budget",
    Concern.MILESTONE_OVERDUE: "backlog",
    Concern.MILESTONE_AT_RISK: "backlog",
    Concern.OVERDUE: "backlog",
    Concern.WAITING_FOR_CLIENT: "backlog",
    Concern.QUIET: "backlog",
    Concern.SUPPORT_BREACHES: "support",
}


def changed_accounts(events: Iterable[Event], accounts: AccountsConfig) -> list[str]:
    """The accounts whose health Jira events may have changed (every Jira event can: issues,
    worklogs, versions); for an account narrowed by JQL this may over-mark, which only costs a refresh."""
    keys = {a.key for e in events if isinstance(e, JiraEvent) for a in accounts_for(e, accounts)}
    return sorted(keys)


# Whether someone is one of the agency today (None: Slack cannot tell now): checked before every
# direct message, so a role holder who became a guest or left for another team hears nothing internal.
Membership = Callable[[str], Awaitable[bool | None]]


class PortfolioService:
    def __init__(
        self,
        *,
        accounts: AccountsConfig,
        digests: DigestService,
        store: Store,
        clock: Callable[[], dt.datetime],
        notices: OncePoster | None = None,
        audiences: ChannelAudiences | None = None,
        handovers: Callable[[], Iterable[Handover]] = lambda: (),
        is_member: Membership | None = None,
        min_interval: dt.timedelta = MIN_INTERVAL,
        max_age: dt.timedelta = MAX_AGE,
    ):
        self.accounts = accounts
        self._digests = digests
        self._store = store
        self.clock = clock
        self._notices = notices
        self._audiences = audiences
        # HOOK for handovers: the active ones (role cover); none until the store keeps them.
        self._handovers = handovers
        # Without a way to check membership, nobody is DM'd (fail closed): the channel still hears it.
        self._is_member = is_member
        self._min_interval = min_interval
        self._max_age = max_age
        self._owner = owner_id()
        # When this process last refreshed each account (MIN_INTERVAL holds for failures too).
        self._last_try: dict[str, dt.datetime] = {}

    def handovers(self) -> list[Handover]:
        """The handovers that apply (role cover), as the service was given them."""
        return list(self._handovers())

    # --- reading (no Jira) -------------------------------------------------------------------

    def healths(self) -> tuple[list[AccountHealth], list[str]]:
        """The snapshots of the configured accounts, and the keys of those without a readable one
        yet. A snapshot this version cannot read (written by a newer version during a rolling
        deploy, or damaged) counts as pending, is logged and marked stale, so the next background
        pass replaces it: one bad row never takes the overview down."""
        rows = {s.account_key: s for s in self._store.portfolio.all()}
        found, pending, unreadable = [], [], []
        for account in self.accounts.accounts:
            row = rows.get(account.key)
            if row is None or row.payload is None:
                pending.append(account.key)
                continue
            health = _read(account.key, row.payload, stale=row.stale_since is not None)
            if health is None:
                pending.append(account.key)
                if row.stale_since is None:
                    unreadable.append(account.key)
                continue
            # The name and key flag as the accounts file says now (the snapshot may predate an edit).
            found.append(_current(health, account))
        if unreadable:
            self._store.portfolio.mark_stale(unreadable, self.clock())
        return found, pending

    def subscription_counts(self) -> dict[str, int]:
        """Stored subscriptions per channel (a channel without any hears its audience's defaults)."""
        counts: dict[str, int] = {}
        for row in self._store.subscriptions.list():
            counts[row["channel_id"]] = counts.get(row["channel_id"], 0) + 1
        return counts

    def mine(self, user_id: str, healths: Iterable[AccountHealth]) -> set[str]:
        """Keys of the accounts where `user_id` holds a role today (cover included) or has open issues."""
        now = self.clock()
        handovers = list(self._handovers())
        keys = {h.account_key for h in healths if user_id in h.assignees}
        for account in self.accounts.accounts:
            if roles_held(account, user_id, today_at(account, now), handovers):
                keys.add(account.key)
        return keys

    def assigned_to(self, user_id: str) -> set[str]:
        """Keys of the accounts whose stored snapshot shows `user_id` with open issues (no Jira call)."""
        healths, _pending = self.healths()
        return {h.account_key for h in healths if user_id in h.assignees}

    # --- refreshing --------------------------------------------------------------------------

    async def mark_stale(self, events: Iterable[Event]) -> None:
        """A batch of webhook events was handled: the accounts they touched are stale."""
        keys = changed_accounts(events, self.accounts)
        if keys:
            await asyncio.to_thread(self._store.portfolio.mark_stale, keys, self.clock())

    async def from_digest(self, account: Account, data: JiraData, at: dt.datetime) -> None:
        """A digest run fetched the account's issues: refresh its snapshot from them (no Jira call).
        Never fails the digest."""
        try:
            await self.refresh(account, data, at)
        except Exception:
            log.exception("portfolio refresh after a digest failed", account=account.key)

    async def refresh(self, account: Account, data: JiraData | None = None, now: dt.datetime | None = None) -> AccountHealth:
        """Compute the account's health (from `data`, else fetched as a digest would), tell what got
        worse, then save it. Raises UpstreamError when Jira fails (the old snapshot stays)."""
        now = now or self.clock()
        if data is None:
            data = await self._digests.fetch(account, now, default_since(now, None))
        digest = build_digest(account, Audience.INTERNAL, data.issues, data.versions, now)
        support_open, breaches = await asyncio.to_thread(self._store.portfolio.support_counts, account.key)
        row = await asyncio.to_thread(self._store.portfolio.get, account.key)
        # An unreadable snapshot is no "before" (nothing told as news) and is overwritten below.
        before = _read(account.key, row.payload) if row is not None and row.payload else None
        # Client activity an earlier snapshot saw stays known: a digest's fetch holds done issues
        # only since its last run, and must not make the account look quiet (review 3 #11).
        health = assess(account, digest, data.issues, support_open=support_open, support_breaches=breaches,
                        known_activity=before.last_activity() if before is not None else None)
        if row is not None and row.computed_at is not None and row.computed_at > now:
            return health  # a newer snapshot is already there (a late digest's data is older)
        # Told before saving: a crash in between computes the same change again, with the same key.
        await self._tell(account, worsenings(before, health), now, health)
        await asyncio.to_thread(self._store.portfolio.save, account.key, health.to_json(), now, self._owner)
        return health

    def due(self, now: dt.datetime) -> list[Account]:
        """Accounts whose snapshot is missing, stale or old, and not tried within `min_interval`."""
        rows = {s.account_key: s for s in self._store.portfolio.all()}
        out = []
        for account in self.accounts.accounts:
            last = self._last_try.get(account.key)
            if last is not None and now - last < self._min_interval:
                continue
            row = rows.get(account.key)
            if row is None or row.computed_at is None:
                out.append(account)
            elif now - row.computed_at < self._min_interval:
                continue
            elif row.stale_since is not None or now - row.computed_at >= self._max_age:
                out.append(account)
        return out

    async def refresh_due(self) -> int:
        """One background pass: refresh every due account this process can claim; how many were refreshed."""
        now = self.clock()
        due = await asyncio.to_thread(self.due, now)

        async def one(account: Account) -> bool:
            self._last_try[account.key] = now
            claimed = await asyncio.to_thread(self._store.portfolio.claim, account.key, self._owner, now, CLAIM_LEASE)
            if not claimed:
                return False
            try:
                await self.refresh(account, now=now)
                return True
            except (UpstreamError, PostBusy) as exc:
                log.warning("portfolio refresh failed; tried again later", account=account.key, error=str(exc))
            except Exception:
                log.exception("portfolio refresh failed", account=account.key)
            await asyncio.to_thread(self._store.portfolio.release, account.key, self._owner)
            return False

        # The digest service bounds concurrent Jira fetches; all accounts go at once.
        return sum(await asyncio.gather(*(one(a) for a in due)))

    async def run_forever(self, stop: asyncio.Event, every_s: float = PASS_EVERY_S,
                          first_after_s: float = FIRST_PASS_AFTER_S) -> None:
        """A pass every `every_s`; the first after `first_after_s` (start-up is busy enough: the
        inbox worker catches up, the start-up checks run)."""
        try:
            await asyncio.wait_for(stop.wait(), first_after_s)
            return
        except TimeoutError:
            pass
        while not stop.is_set():
            try:
                await self.refresh_due()
            except Exception:
                log.exception("portfolio pass failed")
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                pass

    # --- bad news ----------------------------------------------------------------------------

    async def _tell(self, account: Account, news: list[Worsening], now: dt.datetime, health: AccountHealth) -> None:
        if not news or self._notices is None:
            return
        today = today_at(account, now)
        handovers = list(self._handovers())
        responsible = {}
        for item in news:
            role = RESPONSIBLE[item.reason.concern]
            responsible[item.key] = (role, holders(account, role, today, handovers).user_ids if account.roles.of(role) else ())
        for channel in account.channels:
            audience = await self._audiences.audience(account, channel) if self._audiences else channel.audience
            if audience is not Audience.INTERNAL:
                continue  # health is internal: never to a client (or shared) channel
            for item in news:
                message = render_worsening(account, item, responsible[item.key][1], health.verdict)
                # Shielded: a shutdown must not cut a post between Slack's answer and its record.
                await asyncio.shield(self._notices.post([f"health:{account.key}:{item.key}:{channel.id}"], channel.id, message))
        for item in news:
            role, people = responsible[item.key]
            for person in people:
                await self._tell_person(account, item, role, person, health)
        log.info("portfolio bad news told", account=account.key, news=[w.key for w in news])

    async def _tell_person(self, account: Account, item: Worsening, role: str, person: str, health: AccountHealth) -> None:
        """The responsible role's holder hears the change by DM, once (keyed by the change and the
        person). Only people (a user group has no DM), only agency members: Slack not able to tell
        raises, so the refresh is retried (the snapshot is not saved) rather than guessed."""
        if self._notices is None or self._is_member is None or not person.startswith(("U", "W")):
            return
        member = await self._is_member(person)
        if member is None:
            raise UpstreamError("slack", f"cannot tell whether {person} is an agency member", retryable=True)
        if not member:
            log.warning("role holder is no longer an agency member; no bad-news DM", account=account.key, user=person)
            return
        channel = await self._notices.slack.open_dm(person)
        message = render_worsening(account, item, (), health.verdict, role=role)
        # DMs are not read back: a crash between Slack's answer and its record sends nothing again.
        await asyncio.shield(self._notices.post_unread([f"health:{account.key}:{item.key}:dm:{person}"], channel, message))


def _read(account_key: str, payload: dict[str, Any], stale: bool = False) -> AccountHealth | None:
    """A stored snapshot, or None (logged) when this version cannot read it."""
    try:
        return AccountHealth.from_json(payload, stale=stale)
    except Exception:
        log.exception("portfolio snapshot unreadable: shown as pending until a refresh replaces it", account=account_key)
        return None


def _current(health: AccountHealth, account: Account) -> AccountHealth:
    if health.account_name == account.name and health.key_account == account.key_account:
        return health
    return dataclasses.replace(health, account_name=account.name, key_account=account.key_account)


# --- /pulse accounts ------------------------------------------------------------------------------


def scope_words(language: str) -> dict[str, Scope]:
    """The scope words a person may type: their language's and English."""
    return {translate(lang, f"portfolio.scope.{scope.value}").lower(): scope
            for lang in ("en", language) for scope in Scope}


def internal_place(asker: Asker, channel: Channel | None) -> bool:
    """Is an answer where `asker` asked only the agency's? The handover commands' rule
    (`answer_stays_internal`): a linked channel at its effective audience, a direct message, or a
    slash command's ephemeral answer; never a mention's answer in a channel no account links (it is
    posted for all there, the workspace's guests included, whatever Slack says about sharing)."""
    return answer_stays_internal(asker, channel)


def register_portfolio_commands(
    commands: CommandService, portfolio: PortfolioService, audiences: ChannelAudiences | None = None
) -> None:
    """Add `/pulse accounts [mine|key|at-risk|all]` (members, internal places only): read from the
    snapshots, never from Jira."""

    async def accounts(inv: Invocation, asker: Asker, _account: Account | None, channel: Channel | None) -> Reply:
        if not internal_place(asker, channel):
            raise UserError(sentence("portfolio.where"))
        words = scope_words(asker.language)
        scope = Scope.MINE
        if inv.args:
            word = " ".join(inv.args).lower()
            if word not in words:
                choices = ", ".join(f"`{translate(asker.language, f'portfolio.scope.{s.value}')}`" for s in Scope)
                raise UserError(sentence("portfolio.bad_scope", word=escape_mrkdwn(word), choices=choices))
            scope = words[word]
        healths, pending = await asyncio.to_thread(portfolio.healths)
        mine = await asyncio.to_thread(portfolio.mine, asker.user_id, healths) if scope is Scope.MINE else set()
        first, *rest = render_overview_messages(select(healths, scope, mine=mine), scope, asker.language,
                                                pending=len(pending))
        # A long portfolio continues in further messages (Slack's limits), like a digest.
        return Reply(first.text, first.blocks, more=tuple(Reply(m.text, m.blocks) for m in rest))

    (spec,) = PORTFOLIO_COMMANDS
    commands.add(spec, accounts)


# --- the App Home ---------------------------------------------------------------------------------


class PortfolioHome:
    """What the Home tab shows a person, and its "post the digest now" button."""

    def __init__(self, portfolio: PortfolioService, digests: DigestService | None, links: SiteLinks,
                 audiences: ChannelAudiences | None = None):
        self.portfolio = portfolio
        self._digests = digests
        self._links = links
        self._audiences = audiences

    async def view(self, user_id: str, role: Role, language: str, state: HomeState, notice: str | None = None) -> dict[str, Any]:
        """The Home view for this person: the portfolio for agency members (from snapshots only),
        a short explanation for externals and guests."""
        if role < Role.MEMBER:
            return render_external_home(language)
        healths, pending = await asyncio.to_thread(self.portfolio.healths)
        mine = await asyncio.to_thread(self.portfolio.mine, user_id, healths) if state.scope is Scope.MINE else set()
        subscriptions = await asyncio.to_thread(self.portfolio.subscription_counts)
        view = render_home(select(healths, state.scope, mine=mine), self.portfolio.accounts, state, language,
                           pending=len(pending), links=self._links, subscriptions=subscriptions)
        if notice:
            view["blocks"].insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": notice}]})
        return view

    async def post_digest(self, role: Role, account_key: str, stamp: str, language: str) -> str:
        """Post the account's digest to its internal channels now (the clicker's role re-checked:
        a view can be replayed); the sentence to show them."""
        if role < Role.MEMBER:
            return translate(language, "home.not_allowed")
        account = self.portfolio.accounts.by_key(account_key)
        if account is None or self._digests is None:
            return translate(language, "home.not_allowed")
        name = escape_mrkdwn(account.name)
        channels = [c for c in account.channels
                    if (await self._audiences.audience(account, c) if self._audiences else c.audience) is Audience.INTERNAL]
        if not channels:
            return translate(language, "home.digest_no_channel", account=name)
        now = self.portfolio.clock()
        try:
            _digest, rendered, data = await self._digests.compose(account, Audience.INTERNAL, now)
            for channel in channels:
                # Keyed by the click: the same click delivered twice posts once.
                await self._digests.post_manual(channel.id, rendered, f"home:{stamp}")
        except (UpstreamError, PostBusy) as exc:
            log.warning("digest from the Home failed", account=account.key, error=str(exc))
            return translate(language, "home.failed", account=name)
        await self.portfolio.from_digest(account, data, now)
        return translate(language, "home.digest_posted", account=name, channels=" ".join(f"<#{c.id}>" for c in channels))
