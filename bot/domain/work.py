"""Jira work as plain values: issues, worklogs, versions (milestones).

The Jira adapter translates API JSON into these; domain and render code never see raw JSON.
All datetimes are timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from bot.domain.facts import PUBLIC, Fact, IssueAccess

# What Jira's issue keys look like (project key, dash, number; ASCII digits only: `\d` would take
# any script's digits). A "key" of another shape is not Jira's: never linked, never trusted, and
# a webhook event carrying one is anomalous (`bot.domain.event_shape`). The one definition.
# Jira itself wants project keys of two characters or more; the accounts file accepts one (as
# `JiraScope.projects` does), so one-letter keys stay readable here too.
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[0-9]+")


@dataclass(frozen=True, slots=True)
class Worklog:
    id: str
    issue_key: str
    started: dt.datetime
    seconds: int
    author: str | None = None
    # `bot.domain.facts.read_worklog_access`: a worklog restricted to a role or group (or in a
    # shape we cannot read) never counts in what a client is shown.
    access: Fact = field(default=PUBLIC, compare=False)


@dataclass(frozen=True, slots=True)
class Issue:
    key: str
    project: str
    summary: str
    issue_type: str
    status: str
    # Jira's status category key: "new" | "indeterminate" | "done".
    status_category: str
    created: dt.datetime
    resolved: dt.datetime | None = None
    due: dt.date | None = None
    assignee: str | None = None
    # When Jira last changed the issue (a comment counts); None when not asked for or not said.
    updated: dt.datetime | None = field(default=None, compare=False)
    assignee_id: str | None = None
    # The assignee's email where Jira shows it (the accounts file's `people:` may map by email).
    assignee_email: str | None = field(default=None, compare=False)
    priority: str | None = None
    labels: tuple[str, ...] = ()
    # Component names: how a shared support project tells its accounts' issues apart.
    components: tuple[str, ...] = ()
    security_level: str | None = None
    fix_version_ids: tuple[str, ...] = ()
    original_estimate_seconds: int | None = None
    time_spent_seconds: int | None = None
    worklogs: tuple[Worklog, ...] = field(default=(), compare=False)
    # The project's type as Jira said it (`fields.project.projectTypeKey`: "service_desk" makes
    # unmarked comments internal notes); None when Jira did not say. Plain values (the sandbox,
    # tests) are software projects unless they say otherwise.
    project_type: str | None = field(default="software", compare=False)
    # What decides a client's view as the Jira JSON said it (`bot.domain.facts.read_issue_access`,
    # tri-state: a level given only by id is a level, an unreadable one is not public). None for
    # issues built from plain values (the sandbox, tests): `access` reads the fields above.
    read: IssueAccess | None = field(default=None, compare=False, repr=False)

    @property
    def access(self) -> IssueAccess:
        if self.read is not None:
            return self.read
        return IssueAccess.of_plain(self.security_level, self.labels, self.issue_type)

    @property
    def done(self) -> bool:
        return self.status_category == "done"


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    project: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: dt.date | None = None
    start_date: dt.date | None = None
    description: str | None = None
