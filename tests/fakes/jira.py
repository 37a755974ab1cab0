"""`InMemoryJira`: the Jira port over plain values, the fast fake for service tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.domain.work import Issue, Version
from integrations.jira import _board_id, board_location_project
from integrations.jira_payloads import parse_issue, parse_version
from integrations.upstream_errors import UpstreamError


class InMemoryJira:
    """JiraPort over plain values, for service tests; understands `project = / in` JQL only."""

    def __init__(
        self,
        issues: Iterable[Issue] = (),
        versions: Iterable[Version] = (),
        *,
        boards: Mapping[int, str | None] | None = None,
        error: UpstreamError | None = None,
    ):
        self.issues = list(issues)
        self.versions = list(versions)
        # Board id -> project key (None: a board in no project); unknown ids answer None too.
        self.boards: dict[int, str | None] = dict(boards or {})
        # Set to make every call fail (e.g. UpstreamUnavailable) and test the "delayed" path.
        self.error = error
        self.calls: list[tuple[str, str]] = []
        # (issue key, comment id) -> comment JSON, for Service Desk comment lookups.
        self.comments: dict[tuple[str, str], dict[str, Any]] = {}
        # Issue key -> changelog histories, for the comment history check.
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.sprint_field: str | None = None

    @classmethod
    def from_seed(cls, seed: Any) -> InMemoryJira:
        """Domain values of an `AtlassianSeed` (all worklogs attached), e.g. the sandbox."""
        issues = [parse_issue(raw, seed.worklogs.get(raw["key"], [])) for raw in seed.issues]
        versions = [parse_version(v, project) for project, vs in seed.versions.items() for v in vs]
        boards = {int(b["id"]): board_location_project(b) for b in getattr(seed, "boards", ())}
        return cls(issues, versions, boards=boards)

    def _check(self, op: str, arg: str) -> None:
        self.calls.append((op, arg))
        if self.error is not None:
            raise self.error

    def fetch_issues(self, jql: str) -> list[Issue]:
        self._check("fetch_issues", jql)
        projects = _jql_projects(jql)
        return [i for i in self.issues if projects is None or i.project in projects]

    def fetch_versions(self, project_key: str) -> list[Version]:
        self._check("fetch_versions", project_key)
        return [v for v in self.versions if v.project == project_key]

    def fetch_versions_for(self, project_keys: Sequence[str]) -> list[Version]:
        return [v for key in project_keys for v in self.fetch_versions(key)]

    def sprint_field_id(self) -> str | None:
        self._check("sprint_field_id", "")
        return self.sprint_field

    def changelog(self, issue_key: str) -> list[dict[str, Any]]:
        self._check("changelog", issue_key)
        return list(self.histories.get(issue_key, []))

    def comment(self, issue_key: str, comment_id: str) -> dict[str, Any] | None:
        self._check("comment", f"{issue_key}/{comment_id}")
        return self.comments.get((issue_key, comment_id))

    def board_project(self, board_id: int) -> str | None:
        board_id = _board_id(board_id)
        self._check("board_project", str(board_id))
        return self.boards.get(board_id)


_PROJECT_CLAUSE = re.compile(r"\bproject\s*(?:=\s*\"?([A-Z][A-Z0-9_]*)\"?|in\s*\(([^)]*)\))", re.IGNORECASE)


def _jql_projects(jql: str) -> set[str] | None:
    match = _PROJECT_CLAUSE.search(jql or "")
    if not match:
        return None
    if match.group(1):
        return {match.group(1).upper()}
    return {p.strip().strip("\"'").upper() for p in match.group(2).split(",") if p.strip()}
