"""`InMemoryJira`: the Jira port over plain values, the fast fake for service tests."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.domain.work import Issue, Version
from integrations.jira import _board_id, board_location_project
from integrations.jira_payloads import parse_issue, parse_version
from integrations.upstream_errors import UpstreamError


class InMemoryJira:
    """JiraPort over plain values, for service tests and the inbox worker's lookups.

    `fetch_issues` understands the JQL the bot writes: `project = / in`, `key in (…)`, `id = N`,
    `fixVersion = N` and `worklogDate >= "D"` (read in UTC, as Jira reads it in its user's
    timezone), joined by AND; other clauses (a component, a label) match everything unless
    `matches` names the keys a clause matches. Every call is recorded in `calls`.

    Failures: `error` fails every call; `errors` fails one operation (`"changelog"`), one call
    (`"board_project:81"`, `"fetch_versions:GOLD"`) or every `key in (…)` naming a key
    (`"key:TES-2"`); a key in `invisible` fails a `key in (…)` naming it with HTTP 400, as Jira does.
    """

    def __init__(
        self,
        issues: Iterable[Issue] | Mapping[str, Issue] = (),
        versions: Iterable[Version] = (),
        *,
        boards: Mapping[int, str | None] | None = None,
        error: Exception | None = None,
        by_id: Mapping[str, Issue] | None = None,
        errors: Mapping[str, Exception] | None = None,
        invisible: Iterable[str] = (),
        matches: Mapping[str, Iterable[str]] | None = None,
    ):
        self.issues = list(issues.values() if isinstance(issues, Mapping) else issues)
        self.versions = list(versions)
        # Numeric issue id -> issue, for `id = N` (an `Issue` carries no id).
        self.by_id: dict[str, Issue] = dict(by_id or {})
        # Board id -> project key (None: a board in no project); unknown ids answer None too.
        self.boards: dict[int, str | None] = dict(boards or {})
        # Set to make every call fail (e.g. UpstreamUnavailable) and test the "delayed" path.
        self.error = error
        self.errors: dict[str, Exception] = dict(errors or {})
        self.invisible = set(invisible)
        # A clause the fake cannot evaluate -> the keys it matches (e.g. an account's scope JQL).
        self.matches = {clause: set(keys) for clause, keys in (matches or {}).items()}
        self.calls: list[tuple[str, str]] = []
        # (issue key, comment id) -> comment JSON, for Service Desk comment lookups.
        self.comments: dict[tuple[str, str], dict[str, Any]] = {}
        # Issue key -> its comments (as `issue_comments` returns them), oldest first.
        self.issue_comment_lists: dict[str, list[dict[str, Any]]] = {}
        # Issue key -> changelog histories, for the comment history check.
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.sprint_field: str | None = None
        # The site's Service Desk Organizations field id (None: no such field).
        self.organizations_field: str | None = None
        # Issue key -> custom field values as Jira's issue GET answers them (e.g. Organizations).
        self.field_values: dict[str, dict[str, Any]] = {}
        # Issues created through `create_issue`: key -> REST fields as sent.
        self.created: dict[str, dict[str, Any]] = {}
        # Create the issue, then fail as if the answer was lost on the way back (a crash/timeout).
        self.lose_create_answers = 0
        # Comments added through `add_comment`: (issue key, body).
        self.added_comments: list[tuple[str, str]] = []

    @classmethod
    def from_seed(cls, seed: Any) -> InMemoryJira:
        """Domain values of an `AtlassianSeed` (all worklogs attached), e.g. the sandbox."""
        issues = [parse_issue(raw, seed.worklogs.get(raw["key"], [])) for raw in seed.issues]
        versions = [parse_version(v, project) for project, vs in seed.versions.items() for v in vs]
        boards = {int(b["id"]): board_location_project(b) for b in getattr(seed, "boards", ())}
        return cls(issues, versions, boards=boards)

    def put(self, issue: Issue) -> None:
        """Replace the issue with the same key (as Jira answers after an edit), or add it."""
        self.issues = [issue if i.key == issue.key else i for i in self.issues]
        if issue not in self.issues:
            self.issues.append(issue)

    def made(self, op: str) -> list[str]:
        """The arguments of the calls made to `op`, in order (e.g. every JQL asked)."""
        return [arg for name, arg in self.calls if name == op]

    @property
    def jql(self) -> list[str]:
        return self.made("fetch_issues")

    def _check(self, op: str, arg: str) -> None:
        self.calls.append((op, arg))
        error = self.errors.get(f"{op}:{arg}") or self.errors.get(op) or self.error
        if error is not None:
            raise error

    def fetch_issues(self, jql: str) -> list[Issue]:
        self._check("fetch_issues", jql)
        keys = _jql_keys(jql)
        if keys is not None:
            if bad := [k for k in keys if k in self.invisible]:
                raise UpstreamError("jira", f"HTTP 400: An issue with key '{bad[0]}' does not exist for field 'key'.",
                                    retryable=False, status=400)
            if error := next((self.errors[f"key:{k}"] for k in keys if f"key:{k}" in self.errors), None):
                raise error
        if m := re.search(r"\bid = (\d+)", jql):
            found = [self.by_id[m.group(1)]] if m.group(1) in self.by_id else []
        elif keys is not None:
            by_key = {i.key: i for i in self.issues}
            found = [by_key[k] for k in keys if k in by_key]
        else:
            found = list(self.issues)
        projects = _jql_projects(jql)
        if projects is not None:
            found = [i for i in found if i.project in projects]
        if m := re.search(r"\bfixVersion = (\d+)", jql):
            found = [i for i in found if m.group(1) in i.fix_version_ids]
        if m := re.search(r'\bworklogDate >= "(\d{4}-\d\d-\d\d)"', jql):
            first = dt.date.fromisoformat(m.group(1))
            found = [i for i in found if any(w.started.astimezone(dt.UTC).date() >= first for w in i.worklogs)]
        for clause, matched in self.matches.items():
            if jql.startswith(f"{clause} AND "):
                found = [i for i in found if i.key in matched]
        return found

    def fetch_versions(self, project_key: str) -> list[Version]:
        self._check("fetch_versions", project_key)
        return [v for v in self.versions if v.project == project_key]

    def fetch_versions_for(self, project_keys: Sequence[str]) -> list[Version]:
        return [v for key in project_keys for v in self.fetch_versions(key)]

    def sprint_field_id(self) -> str | None:
        self._check("sprint_field_id", "")
        return self.sprint_field

    def organizations_field_id(self) -> str | None:
        self._check("organizations_field_id", "")
        return self.organizations_field

    def issue_field_values(self, issue_key: str, field_ids: Sequence[str]) -> dict[str, Any] | None:
        self._check("issue_field_values", issue_key)
        if issue_key not in self.field_values and all(i.key != issue_key for i in self.issues):
            return None
        # An issue this fake created answers with its fields as they stand now (a test may edit
        # them: moved to another component), custom fields as Jira shows them afterwards.
        created = {f: v for f, v in self.created.get(issue_key, {}).items() if not f.startswith("customfield_")}
        values = {**created, **self.field_values.get(issue_key, {})}
        return {f: values[f] for f in field_ids if f in values}

    def changelog(self, issue_key: str) -> list[dict[str, Any]]:
        self._check("changelog", issue_key)
        return list(self.histories.get(issue_key, []))

    def add_issue_comment(self, issue_key: str, comment: dict[str, Any]) -> None:
        """A comment of an issue, as Jira lists it (also found by `comment`)."""
        self.issue_comment_lists.setdefault(issue_key, []).append(comment)
        self.comments[(issue_key, str(comment["id"]))] = comment

    def issue_comments(self, issue_key: str, last: int) -> list[dict[str, Any]]:
        self._check("issue_comments", issue_key)
        return list(self.issue_comment_lists.get(issue_key, []))[-last:]

    def comment(self, issue_key: str, comment_id: str) -> dict[str, Any] | None:
        self._check("comment", f"{issue_key}/{comment_id}")
        return self.comments.get((issue_key, comment_id))

    def create_issue(self, fields: Mapping[str, Any]) -> str:
        self._check("create_issue", str(fields.get("summary", "")))
        project = fields["project"]["key"]
        number = 1 + sum(1 for key in self.created if key.startswith(f"{project}-"))
        key = f"{project}-{number}"
        self.created[key] = dict(fields)
        # Custom fields as Jira answers them afterwards (an Organizations value: ids become objects).
        self.field_values[key] = {f: ([{"id": o, "name": f"Organization {o}"} for o in v] if isinstance(v, list) else v)
                                  for f, v in fields.items() if f.startswith("customfield_")}
        # Searchable like any issue (lookups of the issue's webhooks find it, with its labels).
        self.issues.append(Issue(
            key=key, project=project, summary=str(fields.get("summary", "")),
            issue_type=str((fields.get("issuetype") or {}).get("name", "Task")), status="To Do",
            status_category="new", created=dt.datetime.now(dt.timezone.utc),
            priority=(fields.get("priority") or {}).get("name"), labels=tuple(fields.get("labels") or ()),
            components=tuple(c["name"] for c in fields.get("components") or ()),
        ))
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            raise UpstreamError("jira", "read timed out after the issue was created", retryable=True)
        return key

    def find_issue_by_label(self, project_key: str, label: str, also: Sequence[str] = ()) -> str | None:
        self._check("find_issue_by_label", f"{project_key}/{label}")
        return next((key for key, fields in self.created.items()
                     if fields["project"]["key"] == project_key
                     and all(x in fields.get("labels", []) for x in (label, *also))), None)

    def add_comment(self, issue_key: str, body: str) -> str:
        self._check("add_comment", issue_key)
        self.added_comments.append((issue_key, body))
        return str(len(self.added_comments))

    def board_project(self, board_id: int) -> str | None:
        board_id = _board_id(board_id)
        self._check("board_project", str(board_id))
        return self.boards.get(board_id)


def _jql_keys(jql: str) -> list[str] | None:
    match = re.search(r"\bkey in \(([^)]*)\)", jql)
    return [k.strip() for k in match.group(1).split(",")] if match else None


_PROJECT_CLAUSE = re.compile(r"\bproject\s*(?:=\s*\"?([A-Z][A-Z0-9_]*)\"?|in\s*\(([^)]*)\))", re.IGNORECASE)


def _jql_projects(jql: str) -> set[str] | None:
    match = _PROJECT_CLAUSE.search(jql or "")
    if not match:
        return None
    if match.group(1):
        return {match.group(1).upper()}
    return {p.strip().strip("\"'").upper() for p in match.group(2).split(",") if p.strip()}
