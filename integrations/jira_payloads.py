"""Pure translation of Jira REST JSON (Cloud v3 and Server/DC v2) into `bot.domain.work` values."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.facts import read_issue_access, read_project_type, read_worklog_access
from bot.domain.payload import without_nul
from bot.domain.work import Issue, Version, Worklog

# Real Jira embeds at most this many worklogs in a search result's `worklog` field.
EMBEDDED_WORKLOG_LIMIT = 20

# The fields `fetch_issues` asks for: everything `parse_issue` reads, nothing else.
# Always name fields explicitly: the Cloud default is ids only, `*all` is slow and heavy.
ISSUE_FIELDS: tuple[str, ...] = (
    "summary",
    "project",
    "issuetype",
    "status",
    "priority",
    "assignee",
    "labels",
    "components",
    "duedate",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    "security",
    "issuerestriction",
    "fixVersions",
    "timeoriginalestimate",
    "timespent",
    "worklog",
)

_NEW_STATUS_NAMES = frozenset({"open", "to do", "todo", "backlog", "new", "reopened", "selected for development"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm])", re.IGNORECASE)


def parse_jira_datetime(value: str | None) -> dt.datetime | None:
    """Jira's '2011-12-15T15:35:06.000+1300' (aware), or None."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        # Jira always sends an offset; if one is missing, UTC is the least surprising guess.
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def parse_jira_date(value: Any) -> dt.date | None:
    """A 'YYYY-MM-DD' date (or epoch milliseconds, as some version examples show), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).date()
    return dt.date.fromisoformat(str(value)[:10])


def parse_jira_duration(text: str, *, hours_per_day: int = 8, days_per_week: int = 5) -> int:
    """Seconds in a Jira duration like '18w 2d' or '3h 20m' (Jira's default 8 h days, 5 d weeks)."""
    unit = {
        "m": 60,
        "h": 3600,
        "d": 3600 * hours_per_day,
        "w": 3600 * hours_per_day * days_per_week,
    }
    parts = _DURATION_PART.findall(text or "")
    if not parts:
        raise ValueError(f"not a Jira duration: {text!r}")
    return round(sum(float(n) * unit[u.lower()] for n, u in parts))


def _user_name(user: Mapping[str, Any] | None) -> str | None:
    if not user:
        return None
    return user.get("displayName") or user.get("name") or user.get("emailAddress") or user.get("accountId")


def _user_id(user: Mapping[str, Any] | None) -> str | None:
    if not user:
        return None
    # Cloud: accountId (emails are often hidden); Server/DC: the username ("name").
    return user.get("accountId") or user.get("emailAddress") or user.get("name") or user.get("key")


def parse_worklog(raw: Mapping[str, Any], issue_key: str) -> Worklog:
    """One worklog JSON object of the given issue."""
    seconds = raw.get("timeSpentSeconds")
    if seconds is None:
        # Old Server responses carry only the pretty string ("18w 2d").
        seconds = parse_jira_duration(raw.get("timeSpent", ""))
    started = parse_jira_datetime(raw.get("started"))
    if started is None:
        raise ValueError(f"worklog {raw.get('id')} of {issue_key} has no 'started'")
    return Worklog(
        id=str(raw["id"]),
        issue_key=issue_key,
        started=started,
        seconds=int(seconds),
        author=_user_name(raw.get("author")),
        access=read_worklog_access(raw),
    )


def parse_worklogs(raws: Iterable[Mapping[str, Any]], issue_key: str) -> tuple[Worklog, ...]:
    """Worklogs of one issue, oldest first (Jira's order), duplicates by id dropped."""
    seen: set[str] = set()
    result = []
    for raw in raws:
        log = parse_worklog(raw, issue_key)
        if log.id not in seen:
            seen.add(log.id)
            result.append(log)
    return tuple(result)


def _status_category(fields: Mapping[str, Any]) -> str:
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    if category:
        return str(category)
    # Old Server versions and trimmed payloads have no statusCategory: infer it.
    if fields.get("resolution") or fields.get("resolutiondate"):
        return "done"
    if str(status.get("name", "")).lower() in _NEW_STATUS_NAMES:
        return "new"
    return "indeterminate"


def _seconds(fields: Mapping[str, Any], flat: str, tracking_key: str) -> int | None:
    value = fields.get(flat)
    if value is None:
        value = (fields.get("timetracking") or {}).get(tracking_key)
    return int(value) if value is not None else None


def embedded_worklog_page(raw_issue: Mapping[str, Any]) -> tuple[int, int]:
    """(total, embedded) worklog counts of a search result issue; (0, 0) without the field."""
    page = (raw_issue.get("fields") or {}).get("worklog") or {}
    embedded = len(page.get("worklogs") or [])
    return int(page.get("total", embedded) or 0), embedded


def parse_issue(raw: Mapping[str, Any], worklogs: Iterable[Mapping[str, Any]] | None = None) -> Issue:
    """One issue JSON (search result item or GET issue); `worklogs` replaces the embedded ones."""
    # NUL replaced as in webhooks: a lookup's key and summary reach thread keys and stored messages.
    key = without_nul(str(raw["key"]))
    fields = raw.get("fields") or {}
    project = (fields.get("project") or {}).get("key") or key.rsplit("-", 1)[0]
    created = parse_jira_datetime(fields.get("created"))
    if created is None:
        raise ValueError(f"issue {key} has no 'created' field (was it requested?)")
    if worklogs is None:
        worklogs = (fields.get("worklog") or {}).get("worklogs") or []
    assignee = fields.get("assignee")
    # The same reader as the webhooks': a level given only by id is a level, unreadable is unknown.
    access = read_issue_access(fields)
    security = fields.get("security")
    security_name = str(security.get("name") or "") if isinstance(security, Mapping) else ""
    return Issue(
        key=key,
        project=str(project),
        summary=without_nul(str(fields.get("summary") or "")),
        issue_type=(access.issue_type.name if access.issue_type else None) or "",
        status=str((fields.get("status") or {}).get("name") or ""),
        status_category=_status_category(fields),
        created=created,
        resolved=parse_jira_datetime(fields.get("resolutiondate")),
        updated=parse_jira_datetime(fields.get("updated")),
        due=parse_jira_date(fields.get("duedate")),
        assignee=_user_name(assignee),
        assignee_id=_user_id(assignee),
        assignee_email=(assignee or {}).get("emailAddress") or None,
        priority=(fields.get("priority") or {}).get("name"),
        labels=access.labels or (),
        components=tuple(str(c["name"]) for c in fields.get("components") or ()
                         if isinstance(c, Mapping) and isinstance(c.get("name"), str)),
        security_level=security_name or None,  # for display; `access` decides
        fix_version_ids=tuple(str(v["id"]) for v in fields.get("fixVersions") or ()),
        original_estimate_seconds=_seconds(fields, "timeoriginalestimate", "originalEstimateSeconds"),
        time_spent_seconds=_seconds(fields, "timespent", "timeSpentSeconds"),
        worklogs=parse_worklogs(worklogs, key),
        project_type=read_project_type(fields),
        read=access,
    )


def parse_version(raw: Mapping[str, Any], project: str) -> Version:
    """One version (milestone) JSON of a project."""
    return Version(
        id=str(raw["id"]),
        project=project,
        name=str(raw.get("name") or ""),
        released=bool(raw.get("released", False)),
        archived=bool(raw.get("archived", False)),
        release_date=parse_jira_date(raw.get("releaseDate")),
        start_date=parse_jira_date(raw.get("startDate")),
        description=raw.get("description") or None,
    )
