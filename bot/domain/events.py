"""Jira and Confluence webhook payloads as internal events: the types (`bot.domain.webhooks.normalize`
builds them from a body; `jira_events` and `confluence_events` parse each product's bodies).

A delivery (one webhook body) becomes a `NormalizedDelivery`: where it came from, an `Outcome`
(handled / ignored / unsupported / anomalous) and zero or more events. Each Jira changelog item
becomes its own internal event type (as Mattermost's Jira plugin does), so subscriptions and the
audience policy filter on what changed, not on Jira's coarse `jira:issue_updated`.

Pure: no logging here. The caller logs `ignored` / `unsupported` / `anomalous` outcomes on their
own loggers (`pulse.webhooks.ignored` …, see `Outcome.logger_name`).

Webhook bodies often name things only by id (worklog → issue id, version → project id, sprint →
board id, Confluence Data Center → page id). Such events carry the id and `needs_lookup()` says
what is missing; the worker fetches it through its ports (issues, versions, a board's project,
Confluence content) and fills it in with `attach_issue` / `attach_project` /
`confluence_events.enrich`. Until then they route nowhere and client channels never see them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.accounts import Account
from bot.domain.facts import (
    PUBLIC,
    SERVICE_DESK,
    Fact,
    IssueAccess,
    IssueType,
    Known,
    comment_marked_public,
    labels_fact,
    not_public,
    read_comment_access,
    type_fact,
    unknown,
)
from bot.domain.work import Issue


class Source(enum.StrEnum):
    """Which product (and flavour) sent the payload."""

    JIRA = "jira"
    CONFLUENCE_CLOUD = "confluence_cloud"
    CONFLUENCE_DC = "confluence_dc"
    UNKNOWN = "unknown"


class Outcome(enum.StrEnum):
    """What became of a delivery; the three "not handled" kinds are distinct on purpose."""

    HANDLED = "handled"
    # Known and deliberately dropped (rank-only change, board admin…): 2xx, silent.
    IGNORED = "ignored"
    # Known event, no formatter yet: 2xx, logged so we notice demand.
    UNSUPPORTED = "unsupported"
    # Not a Jira/Confluence payload at all: 4xx, kept for inspection.
    ANOMALOUS = "anomalous"

    @property
    def logger_name(self) -> str:
        """The logger the caller should use for this outcome, e.g. `pulse.webhooks.ignored`."""
        return f"pulse.webhooks.{self.value}"


class EventType(enum.StrEnum):
    """Internal event types; subscriptions and rendering key on these."""

    # Jira issues
    ISSUE_CREATED = "issue_created"
    ISSUE_DELETED = "issue_deleted"
    STATUS_CHANGED = "status_changed"
    ISSUE_RESOLVED = "issue_resolved"
    ISSUE_REOPENED = "issue_reopened"
    ASSIGNEE_CHANGED = "assignee_changed"
    PRIORITY_RAISED = "priority_raised"
    PRIORITY_LOWERED = "priority_lowered"
    PRIORITY_CHANGED = "priority_changed"
    DUE_DATE_SET = "due_date_set"
    DUE_DATE_CHANGED = "due_date_changed"
    DUE_DATE_REMOVED = "due_date_removed"
    FIX_VERSION_CHANGED = "fix_version_changed"
    SUMMARY_CHANGED = "summary_changed"
    DESCRIPTION_CHANGED = "description_changed"
    LABELS_CHANGED = "labels_changed"
    COMPONENTS_CHANGED = "components_changed"
    SPRINT_CHANGED = "sprint_changed"
    ISSUE_TYPE_CHANGED = "issue_type_changed"
    ISSUE_MOVED = "issue_moved"
    FIELD_CHANGED = "field_changed"
    # Jira comments, worklogs, links
    COMMENT_CREATED = "comment_created"
    COMMENT_UPDATED = "comment_updated"
    COMMENT_DELETED = "comment_deleted"
    WORKLOG_CREATED = "worklog_created"
    WORKLOG_UPDATED = "worklog_updated"
    WORKLOG_DELETED = "worklog_deleted"
    ISSUELINK_CREATED = "issuelink_created"
    # Jira versions (milestones) and sprints
    VERSION_CREATED = "version_created"
    VERSION_RELEASED = "version_released"
    VERSION_UNRELEASED = "version_unreleased"
    VERSION_UPDATED = "version_updated"
    SPRINT_STARTED = "sprint_started"
    SPRINT_CLOSED = "sprint_closed"
    # Confluence
    PAGE_CREATED = "page_created"
    PAGE_UPDATED = "page_updated"
    PAGE_TRASHED = "page_trashed"
    PAGE_RESTORED = "page_restored"
    PAGE_REMOVED = "page_removed"
    PAGE_MOVED = "page_moved"
    BLOG_CREATED = "blog_created"
    BLOG_UPDATED = "blog_updated"
    BLOG_TRASHED = "blog_trashed"
    BLOG_RESTORED = "blog_restored"
    BLOG_REMOVED = "blog_removed"
    PAGE_COMMENT_CREATED = "page_comment_created"
    PAGE_COMMENT_UPDATED = "page_comment_updated"
    PAGE_COMMENT_REMOVED = "page_comment_removed"

    @property
    def is_confluence(self) -> bool:
        return self.value.startswith(("page_", "blog_"))

    @property
    def is_worklog(self) -> bool:
        return self.value.startswith("worklog_")

    @property
    def is_comment(self) -> bool:
        return self.value.startswith("comment_")

    @property
    def is_version(self) -> bool:
        """A version (milestone) event: created, released, unreleased or updated."""
        return self.value.startswith("version_")


@dataclass(frozen=True, slots=True)
class Person:
    """A Jira/Confluence user as the payload names them (any field may be missing)."""

    account_id: str | None = None
    username: str | None = None
    key: str | None = None
    display_name: str | None = None
    email: str | None = None
    # Jira Cloud's `accountType`: "atlassian" (a licensed user), "customer" (a Service Desk portal
    # customer), "app"; None where the payload does not say (Server/Data Center).
    account_type: str | None = None


@dataclass(frozen=True, slots=True)
class IssueFacts:
    """What a payload tells about an issue; `complete` only when labels and security are known."""

    key: str | None
    id: str | None = None
    project_key: str | None = None
    summary: str | None = None
    issue_type: str | None = None
    priority: str | None = None
    status: str | None = None
    status_category: str | None = None
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    security_level: str | None = None  # the level's name, for display; `access` decides
    due: str | None = None
    # False for the trimmed issue in `comment_*` webhooks (no labels/security): the client
    # audience cannot be decided from it, so the worker must attach the full issue first.
    complete: bool = False
    # The facts the audience policy decides on as the payload said them
    # (`bot.domain.facts.read_issue_access`); None when built from plain values (tests).
    read: IssueAccess | None = None
    # Filled in from a Jira lookup (`attach_issue`): what Jira answered is as settled as it gets.
    looked_up: bool = False
    # `fields.project.projectTypeKey` (lower case); None when not said (`facts.service_desk_fact`).
    project_type: str | None = None
    # Who the issue is assigned to, where the payload (or Jira's answer) says: whose cover hears of it.
    assignee: Person | None = dataclasses.field(default=None, compare=False)
    # Every custom field of the payload read as a Service Desk Organizations value
    # (`payload.organization_readings`: field id -> ids, or None when unreadable).
    custom_organizations: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    # The issue's Service Desk organization ids, once the worker knows them (from the site's
    # Organizations field in the payload, or Jira's answer); None: not known.
    organizations: tuple[str, ...] | None = None

    def unreadable(self) -> list[Fact]:
        """Facts the payload sent in a shape we cannot read, which a lookup of the issue may settle
        (empty once looked up: then they are judged as they are, i.e. withheld)."""
        if self.looked_up or not self.complete:
            return []
        access = self.access
        facts = [access.security, access.restriction]
        if access.labels is None:
            facts.append(unknown("labels unreadable"))
        return [f for f in facts if f.known is Known.UNKNOWN]

    @property
    def access(self) -> IssueAccess:
        if self.read is not None:
            return self.read
        plain = IssueAccess.of_plain(self.security_level, self.labels, self.issue_type)
        return plain if self.complete else dataclasses.replace(plain, labels=None)


@dataclass(frozen=True, slots=True)
class CommentFacts:
    """A Jira comment; `restricted` unless its visibility and Service Desk flags are known public."""

    id: str | None
    body: str | Mapping[str, Any] = ""  # wiki-markup string (v2 webhooks) or an ADF document
    author: Person | None = None
    visibility: str | None = None  # e.g. "role:Administrators"
    jsd_public: bool | None = None
    # When the comment was last edited, as Jira wrote it: the same in `comment_updated` and in
    # the copy inside `jira:issue_updated`, different for every edit.
    updated: str | None = None
    # `bot.domain.facts.read_comment_access`: visibility, jsdPublic, sd.public.comment.
    access: Fact = PUBLIC
    # Service Desk's positive mark (`facts.comment_marked_public`): in a Service Desk project a
    # comment without it is an internal note until Jira's answer (`looked_up`) says otherwise.
    marked_public: bool = False
    looked_up: bool = False
    created: str | None = None  # when the comment was written, as Jira wrote it
    # The issue's past as its changelog tells from the comment's `created` on (`attach_history`):
    # what the issue was before each edit made at or after it. A comment written while the issue
    # was internal is that past, whichever webhook about it arrives first.
    history_checked: bool = False
    history: PriorFacts | None = None

    @property
    def restricted(self) -> bool:
        return not self.access.public or self.visibility is not None or self.jsd_public is False


@dataclass(frozen=True, slots=True)
class WorklogFacts:
    id: str | None
    issue_id: str | None = None
    seconds: int | None = None
    previous_seconds: int | None = None
    time_spent: str | None = None
    author: Person | None = None
    # `bot.domain.facts.read_worklog_access`: a worklog restricted to a role or group.
    access: Fact = PUBLIC


@dataclass(frozen=True, slots=True)
class VersionFacts:
    id: str | None
    name: str
    project_id: str | None = None
    released: bool = False
    archived: bool = False
    release_date: str | None = None
    description: str | None = None
    # Set by the worker once it has seen one of the version's issues that a client may see:
    # the webhook names no issue, so without that evidence the name may be internal.
    has_client_issue: bool = False
    # Accounts scoped by JQL (`jira.jql`) for which the worker found one of the version's issues
    # matching that JQL (`in_scope_of`), and one a client may see (`client_issue_in`): versions
    # are project-wide, so another client's version is no news of this one's.
    in_scope_of: frozenset[str] = frozenset()
    client_issue_in: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SprintFacts:
    id: str | None
    name: str
    state: str | None = None
    board_id: str | None = None
    start: str | None = None
    end: str | None = None
    goal: str | None = None


@dataclass(frozen=True, slots=True)
class LinkFacts:
    id: str | None
    source_issue_id: str | None
    destination_issue_id: str | None
    outward: str | None = None  # "blocks"
    name: str | None = None  # "Blocks"


@dataclass(frozen=True, slots=True)
class PriorFacts:
    """What the issue was before the edit that sent an event, as that edit's changelog tells
    (by field id and by the old value's id as well as its name)."""

    security: Fact | None = None  # the old level, when the edit changed it
    labels: tuple[str, ...] | None = ()  # the old labels (() when unchanged; None unreadable)
    issue_types: tuple[IssueType | None, ...] = ()  # the old type(s), when the edit changed it
    project_key: str | None = None  # of the old key, when the edit moved the issue
    # Changelog items of system fields we could not identify (no id, unknown name): one of them
    # may have been the security level, so the edit's past is not known to be public.
    unidentified: tuple[str, ...] = ()

    def facts(self, account: Account) -> list[Fact]:
        """What this past tells a client channel of the account (public when nothing restricts)."""
        facts = [self.security or PUBLIC, labels_fact(self.labels, account)]
        facts.extend(type_fact(old, account) for old in self.issue_types)
        facts.extend(unknown(f"changelog field {name!r} not identified") for name in self.unidentified)
        return facts


@dataclass(frozen=True, slots=True)
class JiraEvent:
    """One internal Jira event (an issue change, comment, worklog, version, sprint or link)."""

    type: EventType
    webhook_event: str
    timestamp_ms: int | None = None
    actor: Person | None = None
    # The payload's `self` URLs by field ("issue.self", …): never used for links (those come
    # from the configured site, `bot.domain.links`), only to report a foreign host.
    self_urls: tuple[tuple[str, str], ...] = ()
    project_key: str | None = None
    project_id: str | None = None
    issue_id: str | None = None
    issue: IssueFacts | None = None
    linked_issue: IssueFacts | None = None
    field: str | None = None  # changelog field name as Jira spells it (localized on some sites)
    # The changelog field's id, lower case ("status", "security", "fixversions", "custom:…"):
    # what the policy and the renderer decide on (`jira_events.change_items`).
    field_id: str | None = None
    from_value: str | None = None
    to_value: str | None = None
    # How a resolved issue was resolved (Done, Fixed, Won't Do, Duplicate…): "done" only when it is.
    resolution: str | None = None
    comment: CommentFacts | None = None
    worklog: WorklogFacts | None = None
    version: VersionFacts | None = None
    sprint: SprintFacts | None = None
    link: LinkFacts | None = None
    # Set on every event of an edit that changed the security level, labels, type or project
    # (comments in that delivery too): if the issue was internal, or another project's, until
    # then, the edit's other changes (e.g. the old summary) are that past, not news for a client.
    before: PriorFacts | None = None
    # Everyone the payload names, to turn comment mentions into names without a lookup.
    people: tuple[Person, ...] = ()
    # (account key, issue key) pairs Jira confirmed: the issue matches that account's `jira.jql`
    # (set by the worker; an account scoped by JQL gets an event only with this evidence).
    in_scope: frozenset[tuple[str, str]] = frozenset()

    @property
    def routing_key(self) -> str | None:
        """The Jira project key this event belongs to (None until looked up)."""
        return self.project_key

    @property
    def issue_key(self) -> str | None:
        return self.issue.key if self.issue else None

    @property
    def dedupe_key(self) -> str:
        """Same change, same key: Jira sends a comment both as `comment_*` and inside
        `jira:issue_updated`, so the worker drops the second copy by this key."""
        if self.comment is not None:
            if self.type is EventType.COMMENT_CREATED:
                return f"jira:{self.type}:comment:{self.comment.id}"
            # A comment is edited (and deleted) again and again: each edit is its own news.
            return f"jira:{self.type}:comment:{self.comment.id}:{self.comment.updated or self.timestamp_ms}"
        if self.worklog is not None:
            return f"jira:{self.type}:worklog:{self.worklog.id}:{self.timestamp_ms}"
        subject = self.issue_key or self.issue_id or (self.version and self.version.id) or (
            self.sprint and self.sprint.id) or (self.link and self.link.id)
        return f"jira:{self.type}:{subject}:{self.field}:{self.to_value}:{self.timestamp_ms}"

    def needs_lookup(self) -> tuple[str, ...]:
        """What the worker must fetch before this event can be routed and judged."""
        missing = []
        if self.project_key is None:
            if self.issue_id is not None:
                missing.append("issue")
            elif self.project_id is not None:
                missing.append("project")
            elif self.sprint is not None:
                missing.append("board")
            else:
                missing.append("project")
        elif self.issue is not None and (not self.issue.complete or self.issue.unreadable()):
            missing.append("issue")
        if self.type is EventType.ISSUELINK_CREATED and self.linked_issue is None:
            missing.append("linked_issue")
        return tuple(dict.fromkeys(missing))


@dataclass(frozen=True, slots=True)
class ConfluenceEvent:
    """One internal Confluence event about a page, blog post or comment."""

    type: EventType
    source: Source
    webhook_event: str
    content_id: str | None
    timestamp_ms: int | None = None
    actor: Person | None = None
    space_key: str | None = None
    title: str | None = None
    # The payload's `self` URLs by field: only to report a foreign host (`bot.domain.links`).
    self_urls: tuple[tuple[str, str], ...] = ()
    version: int | None = None
    parent_title: str | None = None  # page a comment is on
    page_id: str | None = None  # id of the page (or blog post) a comment is on, for its link
    old_parent_id: str | None = None  # page_moved
    comment_body: str | None = None
    # Set by the worker once it has read that neither the content (for a comment: its page) nor
    # any ancestor page has a view restriction; webhooks never say, and Confluence inherits view
    # restrictions from ancestors, so without that evidence a client channel is not told.
    client_visible_confirmed: bool = False

    @property
    def routing_key(self) -> str | None:
        """The Confluence space key this event belongs to (None until looked up)."""
        return self.space_key

    @property
    def dedupe_key(self) -> str:
        return f"confluence:{self.type}:{self.content_id}:{self.version}:{self.timestamp_ms}"

    def needs_lookup(self) -> tuple[str, ...]:
        """Data Center bodies carry only ids: fetch the content (and user) to fill them in."""
        missing = []
        if self.space_key is None or self.title is None:
            missing.append("content")
        if self.actor is not None and self.actor.display_name is None:
            missing.append("user")
        return tuple(missing)


Event = JiraEvent | ConfluenceEvent


@dataclass(frozen=True, slots=True)
class NormalizedDelivery:
    """One webhook body, understood: source, outcome, events and why (for the log)."""

    source: Source
    outcome: Outcome
    webhook_event: str | None
    events: tuple[Event, ...] = ()
    reason: str = ""
    # Why an `anomalous` delivery could not be read, for the operator's traceback.
    error: Exception | None = dataclasses.field(default=None, compare=False, repr=False)


def attach_issue(event: JiraEvent, issue: Issue, *, linked: bool = False) -> JiraEvent:
    """Fill in the issue an event only named by id (worklog, link, trimmed comment issue)."""
    facts = IssueFacts(
        key=issue.key,
        project_key=issue.project,
        summary=issue.summary,
        issue_type=issue.issue_type,
        priority=issue.priority,
        status=issue.status,
        status_category=issue.status_category,
        labels=tuple(issue.labels),
        components=tuple(issue.components),
        security_level=issue.security_level,
        due=issue.due.isoformat() if issue.due else None,
        complete=True,
        read=issue.access,
        looked_up=True,
        project_type=issue.project_type,
        assignee=(Person(account_id=issue.assignee_id, display_name=issue.assignee, email=issue.assignee_email)
                  if issue.assignee_id or issue.assignee_email else None),
    )
    if linked:
        return dataclasses.replace(event, linked_issue=facts)
    previous_id = event.issue.id if event.issue else event.issue_id
    # A Service Desk project said so in the payload stays one (never the laxer of two answers).
    said = event.issue.project_type if event.issue else None
    facts = dataclasses.replace(facts, id=previous_id, project_type=said if said == SERVICE_DESK else facts.project_type)
    return dataclasses.replace(event, issue=facts, project_key=issue.project)


def attach_project(event: JiraEvent, project_key: str) -> JiraEvent:
    """Fill in the project key of a version (by project id) or sprint (by board) event."""
    return dataclasses.replace(event, project_key=project_key)


def attach_comment(event: JiraEvent, raw: Any) -> JiraEvent:
    """The comment as Jira answered a lookup (`…/comment/{id}?expand=properties`): its flags
    and properties decide; a restriction either copy shows wins."""
    if event.comment is None:
        return event
    found = not_public([event.comment.access, read_comment_access(raw)])
    comment = dataclasses.replace(event.comment, access=found[0] if found else PUBLIC,
                                  marked_public=comment_marked_public(raw), looked_up=True)
    return dataclasses.replace(event, comment=comment)


def sprint_field_candidate(event: Event) -> bool:
    """A change of a custom field Jira Software may have created as the site's sprint field
    (its id varies per site): only the site's field list can tell (`resolve_sprint_field`)."""
    return (isinstance(event, JiraEvent) and event.type is EventType.FIELD_CHANGED
            and (event.field_id or "").startswith("custom:customfield_")
            and (event.field or "").strip().casefold() == "sprint")


def resolve_sprint_field(event: JiraEvent, sprint_field_id: str | None) -> JiraEvent:
    """A change of the site's sprint field (by id, from Jira's field list) is a sprint change;
    any other custom field stays one (internal-only)."""
    if sprint_field_id and event.field_id == f"custom:{sprint_field_id.casefold()}":
        return dataclasses.replace(event, type=EventType.SPRINT_CHANGED, field_id="sprint")
    return event


def attach_history(event: JiraEvent, past: PriorFacts | None) -> JiraEvent:
    """Record what the issue was before the edits made since the comment was written (None: no
    such edit touched what decides a client's view)."""
    if event.comment is None:
        return event
    return dataclasses.replace(event, comment=dataclasses.replace(event.comment, history_checked=True, history=past))


def attach_client_issue(event: JiraEvent) -> JiraEvent:
    """Mark a version event's version as having at least one issue a client may see."""
    if event.version is None:
        return event
    return dataclasses.replace(event, version=dataclasses.replace(event.version, has_client_issue=True))


def attach_scope(event: JiraEvent, confirmed: frozenset[tuple[str, str]]) -> JiraEvent:
    """Record which (account, issue key) pairs Jira confirmed to match the account's JQL."""
    return dataclasses.replace(event, in_scope=event.in_scope | confirmed)


def attach_version_scope(event: JiraEvent, account_key: str, *, client_issue: bool) -> JiraEvent:
    """Record that the version has an issue matching this account's JQL (one a client may see, if so)."""
    if event.version is None:
        return event
    version = dataclasses.replace(
        event.version, in_scope_of=event.version.in_scope_of | {account_key},
        client_issue_in=event.version.client_issue_in | ({account_key} if client_issue else set()),
    )
    return dataclasses.replace(event, version=version)


def attach_client_visible(event: ConfluenceEvent) -> ConfluenceEvent:
    """Mark a Confluence event's content (and its ancestors) as known to have no view restriction."""
    return dataclasses.replace(event, client_visible_confirmed=True)
