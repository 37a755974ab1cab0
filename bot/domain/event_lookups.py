"""What a webhook event still needs looked up before it can be routed, and attaching what was found."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from bot.domain.accounts import Account, AccountsConfig, Audience
from bot.domain.events import ConfluenceEvent, Event, EventType, JiraEvent, attach_issue, attach_project
from bot.domain.facts import SERVICE_DESK, Known
from bot.domain.notify_policy import accounts_for
from bot.domain.subscriptions import Subscription, wanted
from bot.domain.work import ISSUE_KEY, Issue

DIGITS = re.compile(r"[0-9]+")

# Lookups the worker cannot make without the port behind them. Events that need one to be
# routed at all are recorded `unsupported` (with the reason), never silently `done`.
LOOKUP_GAPS = {
    "content": "Confluence Data Center body names the content only by id, and the worker has no Confluence client to look it up",
    "board": "sprint event names only its board, and the worker has no Jira client to look up its project",
}
JIRA_LOOKUPS = frozenset({"issue", "linked_issue", "project"})


def to_settle(e: Event, accounts: AccountsConfig | None) -> bool:
    """Whether Jira's own answer about this event's issue may settle a fact a client channel of
    its account cannot decide on (unknown, e.g. a translated issue type name without
    `untranslatedName`): the payload described the issue fully, but not well enough."""
    if accounts is None or not isinstance(e, JiraEvent) or e.issue is None or e.issue.looked_up:
        return False
    if not (e.issue.key and ISSUE_KEY.fullmatch(e.issue.key)) or "issue" in e.needs_lookup():
        return False
    # A comment in a project of unknown type may be a Service Desk internal note: Jira's
    # answer about the issue names the project's type.
    unknown_desk = e.comment is not None and e.issue.project_type is None
    return any(
        any(c.audience is Audience.CLIENT for c in account.channels)
        and (unknown_desk or any(f.known is Known.UNKNOWN for f in e.issue.access.facts(account)))
        for account in accounts_for(e, accounts)
    )


def history_to_check(e: Event, accounts: AccountsConfig) -> str | None:
    """The issue key whose changelog tells whether a new or edited comment was written while the
    issue was internal, for an account with a client channel (one lookup per issue and batch)."""
    if not (isinstance(e, JiraEvent) and e.comment is not None and not e.comment.history_checked):
        return None
    if e.type not in (EventType.COMMENT_CREATED, EventType.COMMENT_UPDATED):
        return None
    key = e.issue_key
    if not (key and ISSUE_KEY.fullmatch(key)):
        return None
    if any(c.audience is Audience.CLIENT for a in accounts_for(e, accounts) for c in a.channels):
        return key
    return None


def comment_to_look_up(e: Event, accounts: AccountsConfig) -> tuple[str, str] | None:
    """(issue key, comment id) of a comment in a Service Desk project that no flag marks public,
    for an account with a client channel: only Jira's answer (`?expand=properties`) can clear it."""
    if not (isinstance(e, JiraEvent) and e.comment is not None and e.issue is not None):
        return None
    comment, issue = e.comment, e.issue
    if comment.looked_up or comment.marked_public or issue.project_type != SERVICE_DESK:
        return None
    if not (issue.key and ISSUE_KEY.fullmatch(issue.key) and comment.id and DIGITS.fullmatch(comment.id)):
        return None
    if any(c.audience is Audience.CLIENT for a in accounts_for(e, accounts) for c in a.channels):
        return issue.key, comment.id
    return None


def scope_lookups(e: Event, accounts: AccountsConfig) -> list[tuple[Account, str]]:
    """(account, issue key) pairs to ask Jira about: does the issue match the account's JQL?
    For every account scoped by JQL that could hold the event's issue (and a link's other issue)."""
    if not isinstance(e, JiraEvent) or e.type.is_version:
        return []
    keys = [e.issue_key]
    if e.type is EventType.ISSUELINK_CREATED and e.linked_issue is not None:
        keys.append(e.linked_issue.key)
    return [(account, key) for account in accounts_for(e, accounts) if account.jira.jql
            for key in keys if key and ISSUE_KEY.fullmatch(key) and (account.key, key) not in e.in_scope]


def issue_lookups(
    events: Iterable[Event], accounts: AccountsConfig | None = None
) -> tuple[set[str], set[str], set[str]]:
    """The issue keys, issue ids and version ids (for their project) these events still lack,
    or (with `accounts`) that Jira's answer may settle (`to_settle`)."""
    keys: set[str] = set()
    ids: set[str] = set()
    version_ids: set[str] = set()
    for e in events:
        if not isinstance(e, JiraEvent):
            continue
        missing = e.needs_lookup()
        if to_settle(e, accounts) and e.issue is not None and e.issue.key:
            keys.add(e.issue.key)
        if "issue" in missing:
            if e.issue and e.issue.key and ISSUE_KEY.fullmatch(e.issue.key):
                keys.add(e.issue.key)
            elif e.issue_id and DIGITS.fullmatch(e.issue_id):
                ids.add(e.issue_id)
        if "linked_issue" in missing and e.link and e.link.destination_issue_id:
            if DIGITS.fullmatch(e.link.destination_issue_id):
                ids.add(e.link.destination_issue_id)
        if "project" in missing and e.version is not None and e.version.id:
            version_ids.add(e.version.id)
    return keys, ids, version_ids


def attach_found(
    e: JiraEvent, by_key: Mapping[str, Issue], by_id: Mapping[str, Issue], versions: Mapping[str, str],
    *, settle: bool = False,
) -> JiraEvent:
    """The event with the issues (by key or id) and the version's project that were found
    (`settle`: its issue was looked up to settle a fact, see `to_settle`)."""
    missing = e.needs_lookup()
    if "issue" in missing or settle:
        issue = (by_key.get(e.issue.key) if e.issue and e.issue.key else None) or (
            by_id.get(e.issue_id) if e.issue_id else None
        )
        if issue is not None:
            e = attach_issue(e, issue)
    linked = e.link.destination_issue_id if e.link else None
    if "linked_issue" in missing and linked is not None and linked in by_id:
        e = attach_issue(e, by_id[linked], linked=True)
    version = e.version.id if e.version is not None else None
    if "project" in e.needs_lookup() and version is not None and version in versions:
        e = attach_project(e, versions[version])
    return e


def lookup_failure(
    e: JiraEvent,
    failed_keys: Mapping[str, Exception],
    failed_ids: Mapping[str, Exception],
    version_error: Exception | None,
    *, settle: bool = False,
) -> Exception | None:
    """The failed lookup that left this event without what it needs, if one did."""
    missing = e.needs_lookup()
    if "issue" in missing or (settle and not (e.issue and e.issue.looked_up)):
        key = e.issue.key if e.issue else None
        if key is not None and key in failed_keys:
            return failed_keys[key]
        if e.issue_id is not None and e.issue_id in failed_ids:
            return failed_ids[e.issue_id]
    linked = e.link.destination_issue_id if e.link else None
    if "linked_issue" in missing and linked is not None and linked in failed_ids:
        return failed_ids[linked]
    if "project" in missing and e.version is not None:
        # A version names no project key: any project whose versions we could not read may own it.
        return version_error
    return None


def board_to_look_up(e: Event) -> str | None:
    """The board id of a sprint event still missing its project, if it names one."""
    if isinstance(e, JiraEvent) and e.sprint is not None and "board" in e.needs_lookup():
        board_id = e.sprint.board_id
        if board_id and DIGITS.fullmatch(board_id):
            return board_id
    return None


def actor_to_look_up(e: Event) -> str | None:
    """The user id (Cloud account id, Data Center user key) of a Confluence event's unnamed actor."""
    if isinstance(e, ConfluenceEvent) and "user" in e.needs_lookup() and e.actor is not None:
        return e.actor.account_id or e.actor.key
    return None


def content_to_look_up(e: Event) -> str | None:
    """The content id of a Confluence event still missing its space or title, if it names one."""
    if isinstance(e, ConfluenceEvent) and "content" in e.needs_lookup():
        if e.content_id and DIGITS.fullmatch(e.content_id):
            return e.content_id
    return None


def versions_to_check(
    e: Event, accounts: AccountsConfig, subscriptions: Mapping[str, Sequence[Subscription]]
) -> list[tuple[str, Account]]:
    """(version id, account) pairs whose issues to look up: for an account one of whose client
    channels would be told of the version once it is known to have an issue the client may see,
    and for every account scoped by JQL (a version is project-wide; whether it is this account's
    at all is known only from an issue matching its JQL)."""
    if not (isinstance(e, JiraEvent) and e.type.is_version and e.version is not None):
        return []
    if not e.version.id or not DIGITS.fullmatch(e.version.id):
        return []
    out = []
    for account in accounts_for(e, accounts):
        if account.jira.jql:
            if account.key not in e.version.in_scope_of and _interested(e, account, subscriptions, client_only=False):
                out.append((e.version.id, account))
        elif not e.version.has_client_issue and _interested(e, account, subscriptions, client_only=True):
            out.append((e.version.id, account))
    return out


def content_for_client(
    e: Event, accounts: AccountsConfig, subscriptions: Mapping[str, Sequence[Subscription]]
) -> str | None:
    """The content id of a Confluence event some client channel would be told about once the
    content and its ancestors are known to have no view restriction."""
    if not isinstance(e, ConfluenceEvent) or e.client_visible_confirmed:
        return None
    if not e.content_id or not DIGITS.fullmatch(e.content_id) or "content" in e.needs_lookup():
        return None
    return e.content_id if _account_with_client_interest(e, accounts, subscriptions) else None


def _interested(
    e: Event, account: Account, subscriptions: Mapping[str, Sequence[Subscription]], *, client_only: bool
) -> bool:
    """Does one of the account's (client) channels want the event (else no evidence is needed)?"""
    return any((c.audience is Audience.CLIENT or not client_only) and wanted(e, c.audience, subscriptions.get(c.id))
               for c in account.channels)


def _account_with_client_interest(
    e: Event, accounts: AccountsConfig, subscriptions: Mapping[str, Sequence[Subscription]]
) -> Account | None:
    """The event's account if one of its client channels wants the event (else no evidence is needed)."""
    return next((a for a in accounts_for(e, accounts) if _interested(e, a, subscriptions, client_only=True)), None)


def lookup_gap(
    event: Event,
    unroutable: Mapping[tuple[str, str], str] | None = None,
    *,
    has_jira: bool,
    has_confluence: bool,
) -> str | None:
    """Why this event cannot be routed with the ports and lookups we have, or None."""
    if event.routing_key is not None:
        return None
    unroutable = unroutable or {}
    for kind in event.needs_lookup():
        if kind == "content" and isinstance(event, ConfluenceEvent):
            if not has_confluence:
                return LOOKUP_GAPS["content"]
            content_id = content_to_look_up(event)
            if content_id is None:
                return "Confluence body names no content id"
            return unroutable.get(("content", content_id))
        if kind == "board" and isinstance(event, JiraEvent):
            if not has_jira:
                return LOOKUP_GAPS["board"]
            board_id = board_to_look_up(event)
            if board_id is None:
                return "sprint event names no board"
            return unroutable.get(("board", board_id))
        if kind in JIRA_LOOKUPS and not has_jira:
            return f"no Jira client to look up the {kind}"
    return None
