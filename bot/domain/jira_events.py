"""Jira webhook bodies → internal events.

One table (`JIRA_WEBHOOKS`) maps each `webhookEvent` to a parser, or declares it ignored or
unsupported; a second (`CHANGELOG_FIELDS`) does the same for changelog items of
`jira:issue_updated`. Both tables are the single source of what we support (tests check them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bot.domain.events import (
    CommentFacts,
    EventType,
    IssueFacts,
    JiraEvent,
    LinkFacts,
    NormalizedDelivery,
    Outcome,
    Person,
    PriorFacts,
    Source,
    SprintFacts,
    VersionFacts,
    WorklogFacts,
)

Payload = Mapping[str, Any]
Parser = Callable[[Payload, str], list[JiraEvent]]

IGNORED = "ignored"
UNSUPPORTED = "unsupported"


# --- small readers -------------------------------------------------------------------------


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def person(user: Any) -> Person | None:
    """A Person from a Jira/Confluence user object (Cloud: accountId; Server: name/key)."""
    user = _dict(user)
    if not user:
        return None
    return Person(
        account_id=_str(user.get("accountId")),
        username=_str(user.get("name") or user.get("username")),
        key=_str(user.get("key") or user.get("userKey")),
        display_name=_str(user.get("displayName") or user.get("publicName")),
        email=_str(user.get("emailAddress") or user.get("email")),
    )


def _people(payload: Any) -> tuple[Person, ...]:
    """Every user object in the payload, once (for mention names)."""
    found: dict[tuple, Person] = {}

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if "displayName" in node and ("accountId" in node or "name" in node or "key" in node):
                p = person(node)
                if p is not None:
                    found.setdefault((p.account_id, p.username, p.key), p)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload)
    return tuple(found.values())


def _site_url(*selfs: Any) -> str | None:
    # Server may live under a context path (https://host/jira/rest/…): keep everything before /rest/.
    for url in selfs:
        if isinstance(url, str) and "/rest/" in url:
            return url.split("/rest/", 1)[0]
    return None


def _key_project(key: str | None) -> str | None:
    if key and re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", key):
        return key.rsplit("-", 1)[0]
    return None


def issue_facts(issue: Any) -> IssueFacts | None:
    """IssueFacts from a webhook's `issue` object."""
    issue = _dict(issue)
    if not issue:
        return None
    fields = _dict(issue.get("fields"))
    status = _dict(fields.get("status"))
    key = _str(issue.get("key"))
    return IssueFacts(
        key=key,
        id=_str(issue.get("id")),
        project_key=_str(_dict(fields.get("project")).get("key")) or _key_project(key),
        summary=_str(fields.get("summary")),
        issue_type=_str(_dict(fields.get("issuetype")).get("name")),
        priority=_str(_dict(fields.get("priority")).get("name")),
        status=_str(status.get("name")),
        status_category=_str(_dict(status.get("statusCategory")).get("key")),
        labels=tuple(str(x) for x in fields.get("labels") or ()),
        components=tuple(str(_dict(c).get("name")) for c in fields.get("components") or ()),
        security_level=_str(_dict(fields.get("security")).get("name")),
        due=_str(fields.get("duedate")),
        # `comment_*` webhooks send a trimmed issue (summary, type, status…) without labels or
        # security. A full field set always has `labels`; Jira omits `security` when the project
        # has no security scheme, so its absence there means "no level".
        complete="labels" in fields,
    )


def comment_facts(comment: Any) -> CommentFacts:
    comment = _dict(comment)
    visibility = _dict(comment.get("visibility"))
    vis_text = None
    if visibility:
        vis_text = f"{visibility.get('type', 'restricted')}:{visibility.get('value') or visibility.get('identifier') or ''}"
    jsd_public = comment.get("jsdPublic")
    return CommentFacts(
        id=_str(comment.get("id")),
        body=comment.get("body") or "",
        author=person(comment.get("author")),
        visibility=vis_text,
        jsd_public=jsd_public if isinstance(jsd_public, bool) else None,
        updated=_str(comment.get("updated")),
    )


def _base(payload: Payload, webhook_event: str, type_: EventType, **fields: Any) -> JiraEvent:
    issue = issue_facts(payload.get("issue"))
    ts = payload.get("timestamp")
    fields.setdefault("actor", person(payload.get("user")))
    return JiraEvent(
        type=type_,
        webhook_event=webhook_event,
        # jira-to-matrix captures carry a formatted string here; only epoch millis are useful.
        timestamp_ms=ts if isinstance(ts, int) else None,
        site_url=_site_url(
            _dict(payload.get("issue")).get("self"),
            _dict(payload.get("comment")).get("self"),
            _dict(payload.get("worklog")).get("self"),
            _dict(payload.get("version")).get("self"),
            _dict(payload.get("sprint")).get("self"),
            _dict(payload.get("user")).get("self"),
        ),
        project_key=issue.project_key if issue else None,
        issue_id=issue.id if issue else None,
        issue=issue,
        people=_people(payload),
        **fields,
    )


# --- changelog items -----------------------------------------------------------------------

# Lower → higher urgency, across Jira's default schemes (Cloud and the older Server one).
_PRIORITY_RANK = {
    "lowest": 1, "trivial": 1,
    "low": 2, "minor": 2,
    "medium": 3, "major": 3,
    "high": 4, "critical": 4,
    "highest": 5, "blocker": 5,
}

# changelog field (lower case) → internal type, None = ignored on purpose.
CHANGELOG_FIELDS: dict[str, EventType | None] = {
    "status": EventType.STATUS_CHANGED,
    "resolution": EventType.ISSUE_RESOLVED,  # or REOPENED; merged with the status item
    "assignee": EventType.ASSIGNEE_CHANGED,
    "priority": EventType.PRIORITY_CHANGED,  # refined to RAISED / LOWERED
    "duedate": EventType.DUE_DATE_CHANGED,  # refined to SET / REMOVED
    "fix version": EventType.FIX_VERSION_CHANGED,
    "fixversions": EventType.FIX_VERSION_CHANGED,
    "summary": EventType.SUMMARY_CHANGED,
    "description": EventType.DESCRIPTION_CHANGED,
    "labels": EventType.LABELS_CHANGED,
    "component": EventType.COMPONENTS_CHANGED,
    "components": EventType.COMPONENTS_CHANGED,
    "sprint": EventType.SPRINT_CHANGED,
    "issuetype": EventType.ISSUE_TYPE_CHANGED,
    "key": EventType.ISSUE_MOVED,
    # Deliberately dropped: board ordering, workflow scheme swaps during a move, and time
    # tracking (the worklog_* events carry it, with the audience rules for amounts).
    "rank": None,
    "workflow": None,
    "project": None,
    "worklogid": None,
    "timespent": None,
    "timeestimate": None,
}


def _priority_type(old: str | None, new: str | None) -> EventType:
    a, b = _PRIORITY_RANK.get((old or "").lower()), _PRIORITY_RANK.get((new or "").lower())
    if a is None or b is None or a == b:
        return EventType.PRIORITY_CHANGED
    return EventType.PRIORITY_RAISED if b > a else EventType.PRIORITY_LOWERED


def _item_text(item: Mapping[str, Any], side: str) -> str | None:
    text = _str(item.get(f"{side}String"))
    # duedate: fromString is "2020-08-04 00:00:00.0", `from` is "2020-08-04"; keep the date.
    if (item.get("field") or "").lower() == "duedate":
        return _str(item.get(side)) or (text[:10] if text else None)
    return text


# Changelog names of the issue security level (Cloud and Server spell it "security").
SECURITY_FIELDS = frozenset({"security", "security level"})


def _items(payload: Payload) -> list[Mapping[str, Any]]:
    return [_dict(i) for i in _dict(payload.get("changelog")).get("items") or ()]


def prior_facts(payload: Payload) -> PriorFacts | None:
    """What the issue was before this edit, for the fields that decide a client's view; None
    when the changelog changes none of them."""
    found: dict[str, Any] = {}
    for item in _items(payload):
        name = str(item.get("field") or "").lower()
        old = _item_text(item, "from")
        if name in SECURITY_FIELDS:
            found["security_level"] = old
        elif name == "labels":
            found["labels"] = tuple((old or "").split())  # Jira lists labels space-separated
        elif name == "issuetype":
            found["issue_type"] = old
        elif name == "key":
            # The old key names the old project ("project" gives only its display name).
            found["project_key"] = _key_project(old)
    return PriorFacts(**found) if found else None


def _changelog_events(payload: Payload, webhook_event: str) -> tuple[list[JiraEvent], int]:
    """Events from the changelog, and how many items were dropped on purpose."""
    items = _items(payload)
    by_field = {(i.get("field") or "").lower(): i for i in items}
    events: list[JiraEvent] = []
    dropped = 0
    moved = "key" in by_field
    for item in items:
        field = str(item.get("field") or "")
        name = field.lower()
        old, new = _item_text(item, "from"), _item_text(item, "to")
        extra: dict[str, Any] = {}
        type_ = CHANGELOG_FIELDS.get(name, EventType.FIELD_CHANGED)
        if type_ is None:
            dropped += 1
            continue
        if name == "status":
            if "resolution" in by_field or moved:
                dropped += 1  # told by the resolution item / the move
                continue
            issue = issue_facts(payload.get("issue"))
            if issue and issue.status == new and issue.status_category == "done":
                type_ = EventType.ISSUE_RESOLVED
        elif name == "resolution":
            type_ = EventType.ISSUE_RESOLVED if new else EventType.ISSUE_REOPENED
            extra["resolution"] = new
            status = by_field.get("status")
            if status is not None:
                # One event for "To Do → Done (Fixed)": report the status, keep the resolution.
                field, old, new = "status", _item_text(status, "from"), _item_text(status, "to")
        elif name == "priority":
            type_ = _priority_type(old, new)
        elif name == "duedate":
            type_ = (
                EventType.DUE_DATE_SET if old is None and new
                else EventType.DUE_DATE_REMOVED if new is None
                else EventType.DUE_DATE_CHANGED
            )
        events.append(_base(payload, webhook_event, type_, field=field, from_value=old, to_value=new,
                            before=prior_facts(payload), **extra))
    return events, dropped


# --- parsers per webhook event -------------------------------------------------------------

_COMMENT_IN_ISSUE_EVENT = {
    "issue_commented": EventType.COMMENT_CREATED,
    "issue_comment_edited": EventType.COMMENT_UPDATED,
    "issue_comment_deleted": EventType.COMMENT_DELETED,
}


def _issue_created(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    return [_base(payload, webhook_event, EventType.ISSUE_CREATED)]


def _issue_deleted(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    return [_base(payload, webhook_event, EventType.ISSUE_DELETED)]


def _issue_updated(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    events, _ = _changelog_events(payload, webhook_event)
    if isinstance(payload.get("comment"), Mapping):
        # Old Jira Server omits issue_event_type_name; a bare comment there is a new comment.
        type_ = _COMMENT_IN_ISSUE_EVENT.get(
            str(payload.get("issue_event_type_name") or ""), EventType.COMMENT_CREATED
        )
        comment = comment_facts(payload["comment"])
        # A comment made in the edit that made the issue public was written while it was internal.
        events.append(_base(payload, webhook_event, type_, comment=comment, before=prior_facts(payload)))
    return events


def _comment(type_: EventType) -> Parser:
    def parse(payload: Payload, webhook_event: str) -> list[JiraEvent]:
        comment = comment_facts(payload.get("comment"))
        event = _base(payload, webhook_event, type_, comment=comment, actor=comment.author)
        if event.issue is None:
            # Old Server `comment_created` has no issue at all, only the comment's self URL.
            m = re.search(r"/issue/(\d+)/comment/", str(_dict(payload.get("comment")).get("self")))
            if m:
                event = _replace(event, issue_id=m.group(1))
        return [event]

    return parse


def _worklog(type_: EventType) -> Parser:
    def parse(payload: Payload, webhook_event: str) -> list[JiraEvent]:
        wl = _dict(payload.get("worklog"))
        seconds = wl.get("timeSpentSeconds")
        facts = WorklogFacts(
            id=_str(wl.get("id")),
            issue_id=_str(wl.get("issueId")),
            seconds=seconds if isinstance(seconds, int) else None,
            time_spent=_str(wl.get("timeSpent")),
            author=person(wl.get("author")),
        )
        event = _base(payload, webhook_event, type_, worklog=facts, actor=person(wl.get("updateAuthor")) or facts.author)
        return [_replace(event, issue_id=facts.issue_id)]

    return parse


def _issue_worklog_updated(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    # `jira:worklog_updated` carries the full issue and the issue's total time spent before and
    # after, not the worklog itself.
    items = {(_dict(i).get("field") or "").lower(): _dict(i) for i in _dict(payload.get("changelog")).get("items") or ()}
    spent = items.get("timespent", {})
    before, after = _str(spent.get("from")), _str(spent.get("to"))
    facts = WorklogFacts(
        id=_str(items.get("worklogid", {}).get("to")),
        issue_id=_str(_dict(payload.get("issue")).get("id")),
        seconds=int(after) if after and after.isdigit() else None,
        previous_seconds=int(before) if before and before.isdigit() else None,
    )
    return [_base(payload, webhook_event, EventType.WORKLOG_UPDATED, worklog=facts, field="timespent", from_value=before, to_value=after)]


def _jira_date(value: Any) -> str | None:
    """`releaseDate` ("2020-09-09") or `userReleaseDate` ("09/Sep/20", Jira's default display
    format) as an ISO date; None otherwise (shown raw it would read like a typo, so it is left out)."""
    for fmt in ("%d/%b/%y", "%d/%b/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(str(value), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _version(type_: EventType) -> Parser:
    def parse(payload: Payload, webhook_event: str) -> list[JiraEvent]:
        v = _dict(payload.get("version"))
        facts = VersionFacts(
            id=_str(v.get("id")),
            name=str(v.get("name") or ""),
            project_id=_str(v.get("projectId")),
            released=bool(v.get("released")),
            archived=bool(v.get("archived")),
            release_date=_jira_date(v.get("releaseDate")) or _jira_date(v.get("userReleaseDate")),
            description=_str(v.get("description")),
        )
        return [_base(payload, webhook_event, type_, version=facts, project_id=facts.project_id)]

    return parse


def _sprint(type_: EventType) -> Parser:
    def parse(payload: Payload, webhook_event: str) -> list[JiraEvent]:
        s = _dict(payload.get("sprint"))
        facts = SprintFacts(
            id=_str(s.get("id")),
            name=str(s.get("name") or ""),
            state=_str(s.get("state")),
            board_id=_str(s.get("originBoardId")),
            start=_str(s.get("startDate")),
            end=_str(s.get("endDate")),
            goal=_str(s.get("goal")),
        )
        return [_base(payload, webhook_event, type_, sprint=facts)]

    return parse


def _issuelink_created(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    link = _dict(payload.get("issueLink"))
    kind = _dict(link.get("issueLinkType"))
    facts = LinkFacts(
        id=_str(link.get("id")),
        source_issue_id=_str(link.get("sourceIssueId")),
        destination_issue_id=_str(link.get("destinationIssueId")),
        outward=_str(kind.get("outwardName")),
        name=_str(kind.get("name")),
    )
    event = _base(payload, webhook_event, EventType.ISSUELINK_CREATED, link=facts)
    return [_replace(event, issue_id=facts.source_issue_id)]


def _replace(event: JiraEvent, **changes: Any) -> JiraEvent:
    return dataclasses.replace(event, **changes)


# webhookEvent → parser, or IGNORED / UNSUPPORTED. Anything else with a webhookEvent is
# unsupported too (Jira grows events; we want to hear about them, not reject them).
JIRA_WEBHOOKS: dict[str, Parser | str] = {
    "jira:issue_created": _issue_created,
    "jira:issue_deleted": _issue_deleted,
    "jira:issue_updated": _issue_updated,
    "comment_created": _comment(EventType.COMMENT_CREATED),
    "comment_updated": _comment(EventType.COMMENT_UPDATED),
    "comment_deleted": _comment(EventType.COMMENT_DELETED),
    "worklog_created": _worklog(EventType.WORKLOG_CREATED),
    "worklog_updated": _worklog(EventType.WORKLOG_UPDATED),
    "worklog_deleted": _worklog(EventType.WORKLOG_DELETED),
    "jira:worklog_updated": _issue_worklog_updated,
    "jira:version_created": _version(EventType.VERSION_CREATED),
    "jira:version_released": _version(EventType.VERSION_RELEASED),
    "jira:version_unreleased": _version(EventType.VERSION_UNRELEASED),
    "jira:version_updated": _version(EventType.VERSION_UPDATED),
    "jira:version_deleted": UNSUPPORTED,
    "jira:version_moved": IGNORED,
    "jira:version_merged": UNSUPPORTED,
    "sprint_started": _sprint(EventType.SPRINT_STARTED),
    "sprint_closed": _sprint(EventType.SPRINT_CLOSED),
    "sprint_created": IGNORED,
    "sprint_updated": IGNORED,
    "sprint_deleted": IGNORED,
    "issuelink_created": _issuelink_created,
    "issuelink_deleted": UNSUPPORTED,
    "attachment_created": IGNORED,
    "attachment_deleted": IGNORED,
    "board_created": IGNORED,
    "board_updated": IGNORED,
    "board_deleted": IGNORED,
    "board_configuration_changed": IGNORED,
    "project_created": IGNORED,
    "project_updated": IGNORED,
    "project_deleted": IGNORED,
    "user_created": IGNORED,
    "user_updated": IGNORED,
    "user_deleted": IGNORED,
}


def normalize_jira(payload: Payload) -> NormalizedDelivery:
    """A Jira webhook body (it has a `webhookEvent`) as a NormalizedDelivery."""
    webhook_event = str(payload["webhookEvent"])
    entry = JIRA_WEBHOOKS.get(webhook_event, UNSUPPORTED)
    if entry == IGNORED:
        return NormalizedDelivery(Source.JIRA, Outcome.IGNORED, webhook_event, (), f"{webhook_event} is not notified")
    if entry == UNSUPPORTED:
        return NormalizedDelivery(Source.JIRA, Outcome.UNSUPPORTED, webhook_event, (), f"no formatter for {webhook_event}")
    events = entry(payload, webhook_event)  # type: ignore[operator]
    if not events:
        return NormalizedDelivery(
            Source.JIRA, Outcome.IGNORED, webhook_event, (), "only changes that are not notified (e.g. rank)"
        )
    return NormalizedDelivery(Source.JIRA, Outcome.HANDLED, webhook_event, tuple(events))


def supported_webhook_events() -> Iterator[str]:
    """Jira webhook events that produce notifications."""
    return (name for name, entry in JIRA_WEBHOOKS.items() if callable(entry))
