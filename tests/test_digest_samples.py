"""Sample accounts, issues and versions for digest tests, modelled on jira-ruby's fixtures.

jira-ruby's mock responses (a local Jira Server, SAMPLEPROJECT, Pacific/Auckland offsets) give the
shapes and values; ``issues_from_jira_ruby`` turns its real search result into domain values with
just the fields the digest reads (the real adapter lives elsewhere), so some tests run on real data.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from bot.domain.accounts import Account, Budget, Channel, JiraScope, Roles
from bot.domain.work import Issue, Version, Worklog
from tests.fixtures import real_payload

UTC = dt.UTC
PROJECT = "SAMPLEPROJECT"
# Sunday 22 November 2026, 11:00 in Berlin: November has 21 working days, 15 of them before today.
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
JIRA_RUBY = "jira-ruby/spec/mock_responses"


def make_account(**overrides: Any) -> Account:
    """An agency account in Berlin with an 80 h monthly budget at 95 EUR/h."""
    budget = overrides.pop("budget", Budget(hours=Decimal("80"), rate=Decimal("95")))
    values: dict[str, Any] = {
        "key": "acme",
        "name": "ACME Shop",
        "language": "en",
        "timezone": "Europe/Berlin",
        "channels": [
            Channel(id="C0CLIENT1", audience="client"),
            Channel(id="C0INTERN1", audience="internal"),
        ],
        "jira": JiraScope(projects=[PROJECT], client_users=["557058:client-anna"]),
        "budget": budget,
        "roles": Roles(budget="U0BUDGET"),
    }
    values.update(overrides)
    return Account(**values)


def make_issue(number: int, **fields: Any) -> Issue:
    """An open SAMPLEPROJECT task like jira-ruby's, created a month before NOW."""
    values: dict[str, Any] = {
        "key": f"{PROJECT}-{number}",
        "project": PROJECT,
        "summary": "blarg from in example.rb",
        "issue_type": "Task",
        "status": "Open",
        "status_category": "new",
        "created": dt.datetime(2026, 10, 20, 9, 0, tzinfo=UTC),
    }
    values.update(fields)
    return Issue(**values)


def done(**fields: Any) -> dict[str, Any]:
    """Fields of a resolved issue."""
    return {"status": "Closed", "status_category": "done", **fields}


def log(key: str, started: dt.datetime, hours: float, log_id: str = "10000") -> Worklog:
    """A worklog of ``hours`` on issue ``key``."""
    return Worklog(
        id=log_id, issue_key=key, started=started, seconds=int(hours * 3600), author="admin"
    )


def make_version(
    version_id: str, name: str, release_date: dt.date | None, **fields: Any
) -> Version:
    """A SAMPLEPROJECT version like jira-ruby's version/10000.json."""
    return Version(id=version_id, project=PROJECT, name=name, release_date=release_date, **fields)


# --- real jira-ruby data --------------------------------------------------------------------

_DURATION = re.compile(r"(\d+)([wdhm])")
# Jira's default time tracking: 1 d = 8 h, 1 w = 5 d. Old Jira Server omits timeSpentSeconds.
_UNIT_SECONDS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}


def jira_duration_seconds(text: str) -> int:
    """'18w 2d' → seconds, with Jira's default 8-hour day and 5-day week."""
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(text))


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z") if text else None


def issues_from_jira_ruby() -> list[Issue]:
    """jira-ruby's search result (issue.json) as domain issues."""
    found = real_payload(f"{JIRA_RUBY}/issue.json")["issues"]
    issues = []
    for raw in found:
        fields = raw["fields"]
        created = _when(fields["created"])
        assert created is not None
        issues.append(
            Issue(
                key=raw["key"],
                project=fields["project"]["key"],
                summary=fields["summary"],
                issue_type=fields["issuetype"]["name"],
                status=fields["status"]["name"],
                # This old Server response has no statusCategory; "Open" is in the "new" category.
                status_category="new" if fields["status"]["name"] == "Open" else "indeterminate",
                created=created,
                resolved=_when(fields["resolutiondate"]),
                due=dt.date.fromisoformat(fields["duedate"]) if fields["duedate"] else None,
                assignee=(fields["assignee"] or {}).get("displayName"),
                labels=tuple(fields["labels"]),
                fix_version_ids=tuple(v["id"] for v in fields["fixVersions"]),
                original_estimate_seconds=fields["timeoriginalestimate"],
            )
        )
    return issues


def worklogs_from_jira_ruby(issue_key: str = "SAMPLEPROJECT-1") -> tuple[Worklog, ...]:
    """jira-ruby's worklog list of issue 10002 as domain worklogs."""
    raw = real_payload(f"{JIRA_RUBY}/issue/10002/worklog.json")["worklogs"]
    return tuple(
        Worklog(
            id=w["id"],
            issue_key=issue_key,
            started=_when(w["started"]),  # type: ignore[arg-type]
            seconds=jira_duration_seconds(w["timeSpent"]),
            author=w["author"]["name"],
        )
        for w in raw
    )


def version_from_jira_ruby() -> Version:
    """jira-ruby's version/10000.json as a domain version."""
    raw = real_payload(f"{JIRA_RUBY}/version/10000.json")
    return Version(
        id=raw["id"],
        project=PROJECT,
        name=raw["name"],
        released=raw["released"],
        archived=raw["archived"],
        release_date=dt.date.fromisoformat(raw["releaseDate"]),
        description=raw["description"],
    )


def test_jira_ruby_fixtures_translate() -> None:
    issues = issues_from_jira_ruby()
    assert len(issues) == 11
    first = issues[-1]
    assert (first.key, first.due, first.assignee) == (
        "SAMPLEPROJECT-1",
        dt.date(2011, 12, 14),
        "admin",
    )
    assert [w.seconds / 3600 for w in worklogs_from_jira_ruby()] == [736, 32, 24]
    assert version_from_jira_ruby().release_date == dt.date(2012, 1, 12)
