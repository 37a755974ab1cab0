"""Who is told about an event: the audience rules for events, routing, and burst coalescing.

Fail closed: a client channel gets an event only when every fact the rule needs is known to be
public (`bot.domain.facts`: the same reader the digests use); unknown or unreadable is withheld,
with the fact named in the reason (`pulse replay-webhook` shows it).

So a client channel never receives: a restricted comment (role/group visibility in any shape,
Service Desk internal by `jsdPublic` or the `sd.public.comment` property), anything about an
issue with a security level (named, or only an id) or a Cloud issue restriction, an internal
label or an internal issue type (`Account.jira.internal_labels` / `internal_issue_types`, case
and spaces folded, types also by id), a change of any field outside `CLIENT_FIELDS` (the
security level, time tracking, custom fields: identified by field id, never by the localized
name), a link to an issue outside the account's projects (or a move from one, with its edit's
other changes), anything of the edit that made an issue public (its old summary, a comment made
then and that comment's `comment_created` twin: the issue's internal past), a worklog restricted
to a role or group, or logged time unless the budget shows money to the client — in created,
edited and deleted follow-ups alike. When the webhook did not tell us enough to decide (trimmed
issue, ids only), the client does not get it; so too a version (milestone) event, unless the
worker found one of the version's issues a client may see, and a Confluence page, blog post or
comment, unless the worker read that neither the content (a comment: its page) nor any ancestor
page has a view restriction (Confluence inherits them).

Routing: an event goes to every account whose scope could hold it (`accounts_for`); an account
whose Jira scope has a `jql` only once Jira confirmed the issue matches it (`scope_verdict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.domain.accounts import Account, AccountsConfig, Audience, Channel
from bot.domain.audience import worklog_amounts_visible
from bot.domain.events import ConfluenceEvent, Event, EventType, IssueFacts, JiraEvent
from bot.domain.facts import Fact, Known, not_public, service_desk_fact
from bot.domain.subscriptions import Subscription, wanted
from bot.domain.support import ORGANIZATION_IDS, support_account

# The only changelog fields (by field id, `jira_events.change_items`) a client channel is ever
# told about. Every other field — the security level, time tracking, custom fields, fields we
# cannot identify, whatever Jira adds next — is internal-only.
CLIENT_FIELDS = frozenset({
    "status", "resolution", "assignee", "priority", "duedate", "fixversions", "summary",
    "description", "labels", "components", "sprint", "issuetype", "issuekey",
})
# Lookups that only give a name to show: they never change what a client may see, so nobody
# is kept waiting for them (a Confluence actor whose user lookup failed is "Someone").
NAME_ONLY_LOOKUPS = frozenset({"user"})


# Comment events whose text a client channel would read.
_COMMENT_TEXT = frozenset({EventType.COMMENT_CREATED, EventType.COMMENT_UPDATED})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a channel of an audience may see an event, and why not."""

    allowed: bool
    reason: str = ""


_OK = Verdict(True)


def _refused(facts: list[Fact], has: str, unknown_prefix: str = "") -> Verdict:
    """The verdict for facts that are not all public: a restriction ("issue has security level
    'Internal'") or what could not be read ("security level present but unreadable: withheld")."""
    found = not_public(facts)
    if not found:
        return _OK
    first = found[0]
    if first.known is Known.RESTRICTED:
        return Verdict(False, f"{has} {first.why}")
    return Verdict(False, f"{unknown_prefix}{first.why}: withheld")


def _issue_verdict(issue: IssueFacts | None, account: Account, what: str = "issue") -> Verdict:
    if issue is None or not issue.complete:
        return Verdict(False, f"{what} not known well enough (labels/security missing): look it up first")
    prefix = "" if what == "issue" else f"{what}: "
    return _refused(issue.access.facts(account), f"{what} has", prefix)


def _project_of(issue: IssueFacts) -> str | None:
    """The issue's project key, from the issue or else from its key ("INDEV-7" → "INDEV")."""
    if issue.project_key:
        return issue.project_key
    return issue.key.rsplit("-", 1)[0] if issue.key and "-" in issue.key else None


def _jira_verdict(event: JiraEvent, account: Account) -> Verdict:
    if event.type.is_worklog:
        if not worklog_amounts_visible(Audience.CLIENT, account):
            return Verdict(False, "logged time is internal for this account")
        if event.worklog is not None and not event.worklog.access.public:
            # Even where the account shows money: this worklog is a role's or group's only.
            return _refused([event.worklog.access], "worklog is")
    elif event.field is not None or event.field_id is not None:
        if event.field_id not in CLIENT_FIELDS:
            return Verdict(False, f"field {event.field or event.field_id!r} is internal-only "
                                  "(not one of the fields a client is told about)")
    if event.comment is not None and not event.comment.access.public:
        return _refused([event.comment.access], "restricted comment:")
    if event.comment is not None and event.comment.restricted:
        return Verdict(False, f"restricted comment ({event.comment.visibility or 'Service Desk internal'})")
    if event.comment is not None:
        desk = service_desk_fact(event.issue.project_type if event.issue else None, event.comment.marked_public)
        if not desk.public:
            return Verdict(False, f"{desk.why}: withheld until looked up")
    if event.type.is_version and (event.version is None or not (
            account.key in event.version.client_issue_in if account.jira.jql else event.version.has_client_issue)):
        # A version of internal work only would name that work (e.g. "Secret-Hotfix released").
        return Verdict(False, "version has no issue known to be visible to the client: look its issues up first")
    concerns_issue = event.issue is not None or event.issue_id is not None
    if concerns_issue:
        verdict = _issue_verdict(event.issue, account)
        if not verdict.allowed:
            return verdict
    past = _past_verdict(event, account)
    if not past.allowed:
        return past
    if event.comment is not None and event.type in _COMMENT_TEXT:
        # The comment's text is only as public as the issue was when it was written: its
        # history decides, not which webhook about it the worker happened to see first.
        if not event.comment.history_checked:
            return Verdict(False, "comment not yet checked against the issue's history: look it up first")
        history = event.comment.history
        if history is not None and history.project_key is not None and history.project_key not in account.jira.projects:
            return Verdict(False, "issue was in a project outside this account when this comment was written")
        if history is not None:
            verdict = _refused(history.facts(account), "issue had", "issue history: ")
            if not verdict.allowed:
                return Verdict(False, verdict.reason + " when this comment was written")
    if event.type is EventType.ISSUELINK_CREATED:
        linked = event.linked_issue
        if linked is not None and _project_of(linked) not in account.jira.projects:
            # Another account's key (and its existence) is that account's business, not ours.
            return Verdict(False, "linked issue is not in this account's projects")
        return _issue_verdict(linked, account, "linked issue")
    return _OK


def _past_verdict(event: JiraEvent, account: Account) -> Verdict:
    """Refuse an event of the edit that moved the issue in, or made it public (its prior facts):
    removing a level, an internal label or an internal type says the issue was internal."""
    before = event.before
    if before is None:
        return _OK
    if event.type is EventType.ISSUE_MOVED or before.project_key is not None:
        # The old key, and every old value of the move's edit, are the old project's: when
        # that is another account's (or no one's), none of it is this client's business.
        if before.project_key is None or before.project_key not in account.jira.projects:
            return Verdict(False, "issue was moved from a project outside this account")
    # This edit made the issue public: its other changes (the old summary, a comment written
    # meanwhile) are the internal past. The client hears of the issue from the next edit on.
    verdict = _refused(before.facts(account), "issue had", "before this edit: ")
    if not verdict.allowed and verdict.reason.startswith("issue had"):
        return Verdict(False, verdict.reason + " until this edit")
    return verdict


def _confluence_verdict(event: ConfluenceEvent) -> Verdict:
    if not event.client_visible_confirmed:
        # e.g. "Internal: pricing strategy" in the client's own space, or any page under a
        # restricted parent: the webhook never says, so only a restriction lookup can clear it.
        return Verdict(False, "Confluence content not known to be free of view restrictions "
                              "(itself and its ancestors): look its restrictions up first")
    return _OK


def event_verdict(event: Event, audience: Audience, account: Account) -> Verdict:
    """May a channel of this audience (of this account) see this event? With the reason if not."""
    if audience is Audience.INTERNAL:
        return _OK
    missing = [m for m in event.needs_lookup() if m not in NAME_ONLY_LOOKUPS]
    if missing:
        unreadable = event.issue.unreadable() if isinstance(event, JiraEvent) and event.issue else []
        if unreadable:
            # The payload's shape, not the issue, is in doubt: Jira's own answer may settle it.
            return Verdict(False, f"{unreadable[0].why}: withheld until the issue is looked up")
        return Verdict(False, "needs lookup first: " + ", ".join(missing))
    if isinstance(event, JiraEvent):
        return _jira_verdict(event, account)
    return _confluence_verdict(event)


def event_visible(event: Event, audience: Audience, account: Account) -> bool:
    """Shorthand for `event_verdict(...).allowed`."""
    return event_verdict(event, audience, account).allowed


def accounts_for(event: Event, accounts: AccountsConfig) -> list[Account]:
    """The accounts an event may belong to: by Confluence space key, or every account whose
    Jira scope could hold the project's issue (`AccountsConfig.for_project`); of these, one
    scoped by JQL gets the event only as `scope_verdict` allows."""
    key = event.routing_key
    if key is None:
        return []
    if isinstance(event, ConfluenceEvent):
        account = accounts.by_space(key)
        return [account] if account is not None else []
    return accounts.for_project(key)


def scope_verdict(event: Event, account: Account, accounts: Iterable[Account]) -> Verdict:
    """Is this event known to be in the account's scope? Always, unless the account narrows its
    projects by JQL (`jira.jql`): then only when Jira confirmed the issue (and a link's other
    issue) matches that JQL, or a version has an issue that does. No channel of the account —
    internal ones neither — gets another client's issue by guess; sprints, which name no issue,
    never reach an account scoped by JQL. `accounts`: every configured account (a shared support
    project's issue is the account's only when no other account claims it too)."""
    if isinstance(event, JiraEvent):
        split = support_split_verdict(event, account, accounts)
        if split is not None:
            return split
    if not isinstance(event, JiraEvent) or not account.jira.jql:
        return _OK
    if event.type.is_version:
        if event.version is not None and account.key in event.version.in_scope_of:
            return _OK
        return Verdict(False, "version has no issue known to match the account's jql: look its issues up first")
    keys = [event.issue_key]
    if event.type is EventType.ISSUELINK_CREATED:
        keys.append(event.linked_issue.key if event.linked_issue else None)
    if all(k is not None and (account.key, k) in event.in_scope for k in keys):
        return _OK
    return Verdict(False, "issue not known to match the account's jql (jira.jql): look it up first")


def support_split_verdict(event: JiraEvent, account: Account, accounts: Iterable[Account]) -> Verdict | None:
    """For an event of the account's support project when that project is shared (`support.match`):
    is the issue known to be this account's and no other's? Decided by `support_account` (the one
    rule: an issue two accounts' matches claim — ACME's component and Globex's, a slip in Jira's
    multi-select, or two accounts' organizations — is nobody's) over the component and labels read
    from a complete issue (the payload's or Jira's answer) and, when an account of the project is
    recognised by a Service Desk organization, the issue's organization ids as the worker read them
    from the site's Organizations field (`IssueFacts.organizations`; not known → withheld, since
    the issue may be that client's). A version or sprint names no issue: withheld. None: not such
    an event (other rules decide)."""
    support = account.support
    if support is None or support.match is None or event.project_key != support.project:
        return None
    sharing = [a for a in accounts if a.support is not None and a.support.project == support.project
               and a.key != account.key]
    claimants = [account, *sharing]
    by_organization = any(a.support is not None and a.support.match is not None and a.support.match.organization
                          for a in claimants)
    issues = [event.issue] + ([event.linked_issue] if event.type is EventType.ISSUELINK_CREATED else [])
    for issue in issues:
        if issue is None or not issue.complete:
            return Verdict(False, "issue of a shared support project not known yet: look it up first")
        if by_organization and issue.organizations is None:
            return Verdict(False, "Service Desk organization of an issue of a shared support project not known "
                                  "(the Organizations field missing or unreadable, also in Jira's answer): withheld")
        fields = {"project": {"key": support.project}, "labels": list(issue.labels),
                  "components": [{"name": c} for c in issue.components], ORGANIZATION_IDS: issue.organizations}
        owner = support_account(claimants, fields)
        if owner is None or owner.key != account.key:
            return Verdict(False, "issue of a shared support project is not this account's alone (support.match)")
    return _OK


def account_for(event: Event, accounts: AccountsConfig) -> Account | None:
    """The first account an event may belong to (`accounts_for`), for what needs just one."""
    return next(iter(accounts_for(event, accounts)), None)


class Delivery(NamedTuple):
    """One event for one channel (unpacks as `account, channel, event`)."""

    account: Account
    channel: Channel
    event: Event


def route(
    events: Iterable[Event],
    accounts: AccountsConfig,
    subscriptions: Mapping[str, Sequence[Subscription]] | None = None,
) -> list[Delivery]:
    """Which channels get which events: the owning account's channels only, filtered by the
    audience policy and the channel's subscriptions (its audience's defaults if none stored).
    The same change seen twice (comment_* and jira:issue_updated) reaches a channel once."""
    subscriptions = subscriptions or {}
    seen: set[tuple[str, str]] = set()
    out: list[Delivery] = []
    for event in events:
        for account, channel in _channels(event, accounts):
            if not event_visible(event, channel.audience, account):
                continue
            if not wanted(event, channel.audience, subscriptions.get(channel.id)):
                continue
            key = (channel.id, event.dedupe_key)
            if key in seen:
                continue
            seen.add(key)
            out.append(Delivery(account, channel, event))
    return out


def _channels(event: Event, accounts: AccountsConfig) -> Iterator[tuple[Account, Channel]]:
    """Every channel of every account the event is known to belong to."""
    for account in accounts_for(event, accounts):
        if scope_verdict(event, account, accounts.accounts).allowed:
            for channel in account.channels:
                yield account, channel


def withheld_for_past(events: Iterable[Event], accounts: AccountsConfig) -> list[Delivery]:
    """The client channels refused a new comment by its edit's prior facts (moved in, or made
    public by that edit): its `comment_created` twin carries no changelog, so the caller must
    remember these as handled or the twin would reach the client after all."""
    out: list[Delivery] = []
    for event in events:
        if not (isinstance(event, JiraEvent) and event.type is EventType.COMMENT_CREATED
                and event.comment is not None and event.before is not None):
            continue
        for account in accounts_for(event, accounts):
            if _past_verdict(event, account).allowed:
                continue
            # Regardless of subscriptions, scope and other refusals: the twin is judged afresh
            # later (another lookup, perhaps another subscription), and only this record can stop it.
            out.extend(Delivery(account, channel, event) for channel in account.channels
                       if channel.audience is Audience.CLIENT)
    return out


@dataclass(frozen=True, slots=True)
class Burst:
    """Many events for one channel in one window, told as one summary message."""

    account: Account
    channel: Channel
    events: tuple[Event, ...]

    @property
    def issue_keys(self) -> tuple[str, ...]:
        """Every issue key changed, in first-seen order."""
        keys = (e.issue_key for e in self.events if isinstance(e, JiraEvent) and e.issue_key)
        return tuple(dict.fromkeys(keys))

    @property
    def page_titles(self) -> tuple[str, ...]:
        titles = (e.title for e in self.events if isinstance(e, ConfluenceEvent) and e.title)
        return tuple(dict.fromkeys(titles))

    @property
    def counts(self) -> dict[EventType, int]:
        """How many events of each type, most frequent first (ties by type name)."""
        counts: dict[EventType, int] = {}
        for e in self.events:
            counts[e.type] = counts.get(e.type, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].value)))


BURST_THRESHOLD = 10


def coalesce(deliveries: Sequence[Delivery], threshold: int = BURST_THRESHOLD) -> list[Delivery | Burst]:
    """Turn a window of deliveries into messages: a channel with `threshold` or more events gets
    one Burst (e.g. a bulk edit of 200 issues), others keep their single deliveries. Order: by
    each channel's first delivery."""
    by_channel: dict[str, list[Delivery]] = {}
    for d in deliveries:
        by_channel.setdefault(d.channel.id, []).append(d)
    out: list[Delivery | Burst] = []
    for group in by_channel.values():
        if len(group) >= threshold:
            first = group[0]
            out.append(Burst(first.account, first.channel, tuple(d.event for d in group)))
        else:
            out.extend(group)
    return out
