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
from dataclasses import dataclass
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
from bot.domain.facts import (
    IssueType,
    comment_marked_public,
    read_comment_access,
    read_issue_access,
    read_project_type,
    read_worklog_access,
    restricted,
    unknown,
)

# Local names for the shared readers keep this module's many call sites short.
from bot.domain.payload import Payload, organization_readings, person
from bot.domain.payload import items as _list
from bot.domain.payload import mapping as _dict
from bot.domain.payload import text as _str
from bot.domain.work import ISSUE_KEY

Parser = Callable[[Payload, str], list[JiraEvent]]


def _people(payload: Any) -> tuple[Person, ...]:
    """Every user object in the payload, once (for mention names)."""
    found: dict[tuple[str | None, str | None, str | None], Person] = {}

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


def _self_urls(payload: Payload) -> tuple[tuple[str, str], ...]:
    """The `self` URL of each object the payload carries, by field (for the foreign-host check)."""
    found = []
    for name in ("issue", "comment", "worklog", "version", "sprint", "user", "issueLink"):
        url = _dict(payload.get(name)).get("self")
        if isinstance(url, str) and url:
            found.append((f"{name}.self", url))
    return tuple(found)


def _key_project(key: str | None) -> str | None:
    if key and ISSUE_KEY.fullmatch(key):
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
    access = read_issue_access(issue.get("fields"))
    return IssueFacts(
        key=key,
        id=_str(issue.get("id")),
        project_key=_str(_dict(fields.get("project")).get("key")) or _key_project(key),
        summary=_str(fields.get("summary")),
        issue_type=_str(_dict(fields.get("issuetype")).get("name")),
        priority=_str(_dict(fields.get("priority")).get("name")),
        status=_str(status.get("name")),
        status_category=_str(_dict(status.get("statusCategory")).get("key")),
        labels=access.labels or (),
        components=tuple(str(_dict(c).get("name")) for c in _list(fields.get("components"))),
        security_level=_str(_dict(fields.get("security")).get("name")),
        due=_str(fields.get("duedate")),
        # `comment_*` webhooks send a trimmed issue (summary, type, status…) without labels or
        # security. A full field set always has `labels`; Jira omits `security` when the project
        # has no security scheme, so its absence there means "no level" (see `read_security`).
        complete="labels" in fields,
        read=access,
        project_type=read_project_type(fields),
        assignee=person(fields.get("assignee")),
        custom_organizations=organization_readings(issue.get("fields")),
    )


def comment_facts(comment: Any) -> CommentFacts:
    access = read_comment_access(comment)
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
        access=access,
        marked_public=comment_marked_public(comment),
        created=_str(comment.get("created")),
    )


def _base(payload: Payload, webhook_event: str, type_: EventType, **fields: Any) -> JiraEvent:
    issue = issue_facts(payload.get("issue"))
    if issue is not None and payload.get("isFromIssueLimitTransformation", False) is not False:
        # Jira Cloud trims the issue of a webhook sent past its payload limits: fields (the
        # security level among them) may be missing, so the issue must be looked up.
        issue = dataclasses.replace(issue, complete=False)
    ts = payload.get("timestamp")
    fields.setdefault("actor", person(payload.get("user")))
    return JiraEvent(
        type=type_,
        webhook_event=webhook_event,
        # jira-to-matrix captures carry a formatted string here; only epoch millis are useful.
        timestamp_ms=ts if isinstance(ts, int) else None,
        self_urls=_self_urls(payload),
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

# System fields by the name Server/Data Center (and old Cloud) items give when they carry no
# `fieldId`, lower case → field id. Cloud names fields in the site's language ("Статус") but
# always adds the id, which is what we decide on.
_FIELD_IDS_BY_NAME = {
    "status": "status", "resolution": "resolution", "assignee": "assignee", "reporter": "reporter",
    "priority": "priority", "duedate": "duedate", "due date": "duedate",
    "fix version": "fixversions", "fix versions": "fixversions", "fixversions": "fixversions",
    "version": "versions", "affects version": "versions", "versions": "versions",
    "summary": "summary", "description": "description", "environment": "environment",
    "labels": "labels", "component": "components", "components": "components",
    "issuetype": "issuetype", "issue type": "issuetype", "key": "issuekey", "project": "project",
    "workflow": "workflow", "security": "security", "security level": "security", "level": "security",
    "issuerestriction": "issuerestriction", "issue restriction": "issuerestriction",
    "worklogid": "worklogid", "timespent": "timespent", "timeestimate": "timeestimate",
    "timeoriginalestimate": "timeoriginalestimate", "worklogtimespent": "worklogtimespent",
    "attachment": "attachment", "link": "issuelinks", "parent": "parent", "comment": "comment",
    "resolutiondate": "resolutiondate", "votes": "votes", "watches": "watches",
}
# Custom fields Jira Software adds under these names (their ids differ per site).
_SOFTWARE_FIELDS = {"sprint": "sprint", "rank": "rank"}
# Every system field id we know. An item with another id is a field Jira added since (or one we
# never met): it may decide what a client sees, so its edit's past is not known to be public.
KNOWN_FIELD_IDS = frozenset({*_FIELD_IDS_BY_NAME.values(), *_SOFTWARE_FIELDS.values(), "worklog", "timetracking",
                             "statuscategorychangedate", "aggregatetimespent", "aggregatetimeestimate",
                             "aggregatetimeoriginalestimate", "aggregateprogress", "progress", "subtasks"})


@dataclass(frozen=True, slots=True)
class ChangeItem:
    """One changelog item, identified by its field id (lower case) rather than its display name."""

    field_id: str  # "status", "security", "custom:epic link", "unidentified:foo"
    name: str  # as Jira spells it, for display
    old_id: str | None
    old_text: str | None
    new_id: str | None
    new_text: str | None

    @property
    def identified(self) -> bool:
        return self.field_id in KNOWN_FIELD_IDS or self.field_id.startswith("custom:")

    @property
    def changed_from_something(self) -> bool:
        """Did the field hold a value before (by id or by name)?"""
        return self.old_id is not None or self.old_text is not None


def _field_id(item: Mapping[str, Any]) -> str:
    name = str(item.get("field") or "").strip()
    folded = name.casefold()
    field_id = _str(item.get("fieldId"))
    if field_id and field_id.strip():
        field_id = field_id.strip().casefold()
        if field_id.startswith("customfield_"):
            # By its id, never its display name (any custom field may be called "Sprint"): the
            # worker turns the site's own sprint field into "sprint" (`resolve_sprint_field`).
            # Rank only to drop board reordering (a misnamed field dropped costs no client anything).
            return "rank" if folded == "rank" else f"custom:{field_id}"
        return field_id  # identified only if it is one we know (KNOWN_FIELD_IDS)
    if folded in _SOFTWARE_FIELDS:
        return _SOFTWARE_FIELDS[folded]
    if str(item.get("fieldtype") or "").casefold() == "custom":
        # A custom field, even one called "labels": never Jira's own labels or security level.
        return f"custom:{folded}"
    if folded in _FIELD_IDS_BY_NAME:
        return _FIELD_IDS_BY_NAME[folded]
    return f"unidentified:{folded}"


def change_items(payload: Payload) -> list[ChangeItem]:
    """The changelog items of an issue edit, each with its field id and old/new ids and names."""
    out = []
    items = _dict(payload.get("changelog")).get("items")
    if items is not None and not isinstance(items, list):
        # Iterating an object or a text would invent items from its keys or letters, and
        # reading it as empty would drop the edit silently: the payload is anomalous.
        raise TypeError(f"changelog items is {type(items).__name__}, not a list")
    for item in items or ():
        # What names the field decides who may hear of the change: read it as Jira sends it or not at all.
        if not isinstance(item, Mapping):
            raise TypeError(f"a changelog item is {type(item).__name__}, not an object")
        for key in ("field", "fieldId", "fieldtype"):
            if not isinstance(item.get(key), str | None):
                raise TypeError(f"changelog {key} is {type(item.get(key)).__name__}, not text")
        out.append(ChangeItem(
            field_id=_field_id(item),
            name=str(item.get("field") or item.get("fieldId") or ""),
            old_id=_str(item.get("from")), old_text=_str(item.get("fromString")),
            new_id=_str(item.get("to")), new_text=_str(item.get("toString")),
        ))
    return out


# changelog field id → internal type, None = ignored on purpose. Any other field is a
# FIELD_CHANGED, which no client channel is ever told (`notify_policy.CLIENT_FIELDS`).
CHANGELOG_FIELDS: dict[str, EventType | None] = {
    "status": EventType.STATUS_CHANGED,
    "resolution": EventType.ISSUE_RESOLVED,  # or REOPENED; merged with the status item
    "assignee": EventType.ASSIGNEE_CHANGED,
    "priority": EventType.PRIORITY_CHANGED,  # refined to RAISED / LOWERED
    "duedate": EventType.DUE_DATE_CHANGED,  # refined to SET / REMOVED
    "fixversions": EventType.FIX_VERSION_CHANGED,
    "summary": EventType.SUMMARY_CHANGED,
    "description": EventType.DESCRIPTION_CHANGED,
    "labels": EventType.LABELS_CHANGED,
    "components": EventType.COMPONENTS_CHANGED,
    "sprint": EventType.SPRINT_CHANGED,
    "issuetype": EventType.ISSUE_TYPE_CHANGED,
    "issuekey": EventType.ISSUE_MOVED,
    # Deliberately dropped: board ordering, workflow scheme swaps during a move, and time
    # tracking (the worklog_* events carry it, with the audience rules for amounts).
    "rank": None,
    "workflow": None,
    "project": None,
    "worklogid": None,
    "timespent": None,
    "timeestimate": None,
    "worklogtimespent": None,
}


def _priority_type(old: str | None, new: str | None) -> EventType:
    a, b = _PRIORITY_RANK.get((old or "").lower()), _PRIORITY_RANK.get((new or "").lower())
    if a is None or b is None or a == b:
        return EventType.PRIORITY_CHANGED
    return EventType.PRIORITY_RAISED if b > a else EventType.PRIORITY_LOWERED


def _item_text(item: ChangeItem, side: str) -> str | None:
    text = item.old_text if side == "from" else item.new_text
    # duedate: fromString is "2020-08-04 00:00:00.0", `from` is "2020-08-04"; keep the date.
    if item.field_id == "duedate":
        return (item.old_id if side == "from" else item.new_id) or (text[:10] if text else None)
    return text


def _old_labels(item: ChangeItem) -> tuple[str, ...] | None:
    # Jira lists labels space-separated in fromString (`from` is null); an id there instead of
    # names is a shape we cannot read.
    if item.old_text is not None:
        return tuple(item.old_text.split())
    return () if item.old_id is None else None


def prior_facts(payload: Payload) -> PriorFacts | None:
    """What the issue was before this edit, for the fields that decide a client's view; None
    when the changelog changes none of them."""
    found: dict[str, Any] = {}
    unidentified, old_types = [], []
    # Jira sends one item per field; should one come twice, whatever restricts wins.
    for item in change_items(payload):
        if item.field_id == "security":
            # The old level by its id or its name: a removed level may come with fromString null.
            if item.changed_from_something:
                found["security"] = restricted(f"security level {item.old_text or 'id ' + str(item.old_id)!r}")
            else:
                found.setdefault("security", None)
        elif item.field_id == "issuerestriction":
            if item.changed_from_something:
                found["security"] = found.get("security") or unknown("issue restriction changed by this edit")
        elif item.field_id == "labels":
            old, before = _old_labels(item), found.get("labels", ())
            found["labels"] = None if old is None or before is None else (*before, *old)
        elif item.field_id == "issuetype":
            old_types.append(IssueType(name=item.old_text, id=item.old_id) if item.changed_from_something else None)
        elif item.field_id == "issuekey":
            # The old key names the old project ("project" gives only its display name).
            found["project_key"] = _key_project(item.old_text or item.old_id)
        elif not item.identified:
            unidentified.append(item.name)
    if old_types:
        found["issue_types"] = tuple(old_types)
    if unidentified:
        found["unidentified"] = tuple(unidentified)
    return PriorFacts(**found) if found else None


def _moment(value: Any) -> dt.datetime | None:
    """Jira's '2020-07-27T14:46:27.154-0700' as an aware datetime; None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def past_since(histories: Any, created: str | None) -> PriorFacts | None:
    """What the issue was before each edit of its changelog (`histories`, as REST returns them)
    made at or after `created` (a comment's): None when none of those edits touched what decides
    a client's view. Fail closed: an unreadable history, or a time that cannot be compared, counts
    as such an edit whose past is unknown."""
    since = _moment(created)
    if since is None or not isinstance(histories, list):
        return PriorFacts(unidentified=("issue history (comment time or changelog unreadable)",))
    items: list[Any] = []
    for history in histories:
        when = _moment(history.get("created")) if isinstance(history, Mapping) else None
        if when is None or not isinstance(history.get("items"), list):
            return PriorFacts(unidentified=("issue history (an edit unreadable)",))
        if when >= since:
            items.extend(history["items"])
    try:
        return prior_facts({"changelog": {"items": items}})
    except TypeError:
        return PriorFacts(unidentified=("issue history (a changelog item unreadable)",))


def _changelog_events(payload: Payload, webhook_event: str) -> tuple[list[JiraEvent], int]:
    """Events from the changelog, and how many items were dropped on purpose."""
    items = change_items(payload)
    by_field = {i.field_id: i for i in items}
    events: list[JiraEvent] = []
    dropped = 0
    moved = "issuekey" in by_field
    before = prior_facts(payload)
    for item in items:
        field, field_id = item.name, item.field_id
        old, new = _item_text(item, "from"), _item_text(item, "to")
        extra: dict[str, Any] = {}
        type_ = CHANGELOG_FIELDS.get(field_id, EventType.FIELD_CHANGED)
        if type_ is None:
            dropped += 1
            continue
        if field_id == "status":
            if "resolution" in by_field or moved:
                dropped += 1  # told by the resolution item / the move
                continue
            issue = issue_facts(payload.get("issue"))
            if issue and issue.status == new and issue.status_category == "done":
                type_ = EventType.ISSUE_RESOLVED
        elif field_id == "resolution":
            type_ = EventType.ISSUE_RESOLVED if new else EventType.ISSUE_REOPENED
            extra["resolution"] = new
            status = by_field.get("status")
            if status is not None:
                # One event for "To Do → Done (Fixed)": report the status, keep the resolution.
                field, field_id = status.name, "status"
                old, new = _item_text(status, "from"), _item_text(status, "to")
        elif field_id == "priority":
            type_ = _priority_type(old, new)
        elif field_id == "duedate":
            type_ = (
                EventType.DUE_DATE_SET if old is None and new
                else EventType.DUE_DATE_REMOVED if new is None
                else EventType.DUE_DATE_CHANGED
            )
        events.append(_base(payload, webhook_event, type_, field=field, field_id=field_id, from_value=old,
                            to_value=new, before=before, **extra))
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
            access=read_worklog_access(payload.get("worklog")),
        )
        event = _base(payload, webhook_event, type_, worklog=facts, actor=person(wl.get("updateAuthor")) or facts.author)
        return [_replace(event, issue_id=facts.issue_id)]

    return parse


def _issue_worklog_updated(payload: Payload, webhook_event: str) -> list[JiraEvent]:
    # `jira:worklog_updated` carries the full issue and the issue's total time spent before and
    # after, not the worklog itself (nor its visibility).
    items = {i.field_id: i for i in change_items(payload)}
    spent, logged = items.get("timespent"), items.get("worklogid")
    before, after = (spent.old_id, spent.new_id) if spent else (None, None)
    facts = WorklogFacts(
        id=logged.new_id if logged else None,
        issue_id=_str(_dict(payload.get("issue")).get("id")),
        seconds=int(after) if after and after.isdigit() else None,
        previous_seconds=int(before) if before and before.isdigit() else None,
        # This body does not carry the worklog, so nothing says it is not a role's or group's.
        access=unknown("worklog visibility not in the payload (jira:worklog_updated)"),
    )
    return [_base(payload, webhook_event, EventType.WORKLOG_UPDATED, worklog=facts, field="timespent",
                  field_id="timespent", from_value=before, to_value=after)]


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


# webhookEvent → parser, or the outcome IGNORED / UNSUPPORTED. Anything else with a webhookEvent is
# unsupported too (Jira grows events; we want to hear about them, not reject them).
JIRA_WEBHOOKS: dict[str, Parser | Outcome] = {
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
    "jira:version_deleted": Outcome.UNSUPPORTED,
    "jira:version_moved": Outcome.IGNORED,
    "jira:version_merged": Outcome.UNSUPPORTED,
    "sprint_started": _sprint(EventType.SPRINT_STARTED),
    "sprint_closed": _sprint(EventType.SPRINT_CLOSED),
    "sprint_created": Outcome.IGNORED,
    "sprint_updated": Outcome.IGNORED,
    "sprint_deleted": Outcome.IGNORED,
    "issuelink_created": _issuelink_created,
    "issuelink_deleted": Outcome.UNSUPPORTED,
    "attachment_created": Outcome.IGNORED,
    "attachment_deleted": Outcome.IGNORED,
    "board_created": Outcome.IGNORED,
    "board_updated": Outcome.IGNORED,
    "board_deleted": Outcome.IGNORED,
    "board_configuration_changed": Outcome.IGNORED,
    "project_created": Outcome.IGNORED,
    "project_updated": Outcome.IGNORED,
    "project_deleted": Outcome.IGNORED,
    "user_created": Outcome.IGNORED,
    "user_updated": Outcome.IGNORED,
    "user_deleted": Outcome.IGNORED,
}


def normalize_jira(payload: Payload) -> NormalizedDelivery:
    """A Jira webhook body (it has a `webhookEvent`) as a NormalizedDelivery."""
    webhook_event = str(payload["webhookEvent"])
    entry = JIRA_WEBHOOKS.get(webhook_event, Outcome.UNSUPPORTED)
    if isinstance(entry, Outcome):  # the table names only IGNORED and UNSUPPORTED
        reason = f"{webhook_event} is not notified" if entry is Outcome.IGNORED else f"no formatter for {webhook_event}"
        return NormalizedDelivery(Source.JIRA, entry, webhook_event, (), reason)
    events = entry(payload, webhook_event)
    if not events:
        return NormalizedDelivery(
            Source.JIRA, Outcome.IGNORED, webhook_event, (), "only changes that are not notified (e.g. rank)"
        )
    return NormalizedDelivery(Source.JIRA, Outcome.HANDLED, webhook_event, tuple(events))


def supported_webhook_events() -> Iterator[str]:
    """Jira webhook events that produce notifications."""
    return (name for name, entry in JIRA_WEBHOOKS.items() if callable(entry))
