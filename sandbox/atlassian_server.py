"""A fake Jira + Confluence REST server on loopback, for tests, benchmarks and `pulse demo`.

Real HTTP (stdlib `ThreadingHTTPServer` in a background thread) so the real
atlassian-python-api client runs against it unchanged:

    with FakeAtlassian(seed) as fake:            # seed: AtlassianSeed (see the builders below)
        jira = AtlassianJira(fake.url, user="me@example.com", api_token="x", cloud=True)
        fake.latency = 0.05                       # added to every call
        fake.script(Failure(503), Failure(429, retry_after="1"), Failure.timeout(2.0))
        ...
        fake.call_count("GET", prefix="/rest/api/3/search/jql")

Shapes follow the Jira Cloud platform and Confluence Cloud v2 OpenAPI specs and real captured
responses (jira-ruby `issue.json`, putit-core Cloud search cassette): statusCategory, duedate
'YYYY-MM-DD', fixVersions, timeoriginalestimate / timespent, an embedded `worklog` page of at
most 20 entries like real Jira, security, '2026-10-31T12:00:00.000+0000' timestamps.

Served (flavor="cloud"): GET/POST /rest/api/{2,3}/search/jql (nextPageToken, isLast), POST
/rest/api/3/search/approximate-count;
/rest/api/{2,3}/search answers 410 Gone like real Cloud. flavor="server": GET/POST
/rest/api/2/search (startAt/maxResults/total). Both: GET /project/{key} and its versions (404 for
a project the seed does not have; a search naming one is a 400, as in Jira), issue worklogs (paged),
/rest/api/3/worklog/updated, POST /rest/api/3/worklog/list (<= 1000 ids), myself, serverInfo,
GET /rest/agile/1.0/board/{id} (seeded boards; 404 otherwise);
Confluence /wiki/api/v2/spaces, /wiki/api/v2/pages (GET, POST), /wiki/api/v2/pages/{id}
(GET, PUT with version check -> 409), and the v1 GET /wiki/rest/api/content/{id} (also at
/rest/api/content/{id}, as Confluence Data Center serves it without the /wiki context):
seeded v1 objects as stored, v2 pages rendered in the v1 shape; `expand` and `status` honoured
(`ancestors`, a comment's `container`, `restrictions.read.restrictions.user/group` from the
seed's `read_restrictions` and `parents`); GET .../content/{id}/restriction/byOperation/{read|update}; Data Center's GET /rest/api/space/{key}.

JQL: only `project = A`, `project in (A, B)`, `key in (...)`, `labels = x`, `labels != x`,
`statusCategory = / != Done`, ANDed; `ORDER BY` is dropped; other clauses are ignored and
recorded in `ignored_jql`. Unbalanced parentheses or quotes are a 400.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from sandbox.loopback import LoopbackServer

SITE = "https://sandbox.atlassian.net"
EMBEDDED_WORKLOGS = 20  # real Jira embeds at most 20 worklogs in a search result
CLOUD_MAX_RESULTS = 100  # enhanced search page cap when fields other than id/key are asked
SERVER_MAX_RESULTS = 1000  # jira.search.views.default.max
WORKLOG_UPDATED_PAGE = 1000
WORKLOG_LIST_MAX = 1000

_STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
_PRIORITY_IDS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}


# --------------------------------------------------------------------------- payload builders


def jira_timestamp(value: dt.datetime) -> str:
    """Jira's timestamp format: '2026-10-31T12:00:00.000+0000'."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def user_json(account_id: str, display_name: str, email: str | None = None) -> dict[str, Any]:
    """A Cloud user object as embedded in issues and worklogs."""
    user: dict[str, Any] = {
        "self": f"{SITE}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "displayName": display_name,
        "active": True,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    }
    if email:
        user["emailAddress"] = email
    return user


def version_json(
    version_id: str,
    name: str,
    project_id: int,
    *,
    release_date: dt.date | None = None,
    start_date: dt.date | None = None,
    released: bool = False,
    archived: bool = False,
    description: str = "",
) -> dict[str, Any]:
    """A project version as `GET /project/{key}/versions` returns it."""
    raw: dict[str, Any] = {
        "self": f"{SITE}/rest/api/3/version/{version_id}",
        "id": version_id,
        "description": description,
        "name": name,
        "archived": archived,
        "released": released,
        "projectId": project_id,
        "releaseDateSet": release_date is not None,
        "startDateSet": start_date is not None,
    }
    if release_date:
        raw["releaseDate"] = release_date.isoformat()
        raw["userReleaseDate"] = release_date.strftime("%d/%b/%y")
    if start_date:
        raw["startDate"] = start_date.isoformat()
    return raw


def fix_version_ref(version: Mapping[str, Any]) -> dict[str, Any]:
    """The short version object embedded in an issue's fixVersions."""
    ref = {k: version[k] for k in ("self", "id", "description", "name", "archived", "released") if k in version}
    if "releaseDate" in version:
        ref["releaseDate"] = version["releaseDate"]
    return ref


def issue_json(
    issue_id: str,
    key: str,
    summary: str,
    *,
    project_id: str,
    project_name: str,
    created: dt.datetime,
    issue_type: str = "Task",
    status: str = "To Do",
    status_category: Literal["new", "indeterminate", "done"] = "new",
    resolved: dt.datetime | None = None,
    due: dt.date | None = None,
    assignee: Mapping[str, Any] | None = None,
    reporter: Mapping[str, Any] | None = None,
    priority: str = "Medium",
    labels: Sequence[str] = (),
    security: str | None = None,
    fix_versions: Sequence[Mapping[str, Any]] = (),
    original_estimate_seconds: int | None = None,
    updated: dt.datetime | None = None,
) -> dict[str, Any]:
    """An issue as a search result item (all fields; `worklog` and `timespent` filled by the fake)."""
    project_key = key.rsplit("-", 1)[0]
    category = dict(_STATUS_CATEGORIES[status_category])
    category["self"] = f"{SITE}/rest/api/3/statuscategory/{category['id']}"
    fields: dict[str, Any] = {
        "summary": summary,
        "project": {
            "self": f"{SITE}/rest/api/3/project/{project_id}",
            "id": project_id,
            "key": project_key,
            "name": project_name,
            "projectTypeKey": "software",
            "simplified": False,
        },
        "issuetype": {
            "self": f"{SITE}/rest/api/3/issuetype/10001",
            "id": "10001",
            "name": issue_type,
            # Jira Cloud names the type before translation too (as issue_createmeta.json shows).
            "untranslatedName": issue_type,
            "subtask": issue_type == "Sub-task",
        },
        "status": {
            "self": f"{SITE}/rest/api/3/status/1",
            "name": status,
            "id": "1",
            "statusCategory": category,
        },
        "priority": {
            "self": f"{SITE}/rest/api/3/priority/{_PRIORITY_IDS.get(priority, '3')}",
            "name": priority,
            "id": _PRIORITY_IDS.get(priority, "3"),
        },
        "assignee": dict(assignee) if assignee else None,
        "reporter": dict(reporter) if reporter else None,
        "labels": list(labels),
        "duedate": due.isoformat() if due else None,
        "created": jira_timestamp(created),
        "updated": jira_timestamp(updated or resolved or created),
        "resolutiondate": jira_timestamp(resolved) if resolved else None,
        "resolution": {"name": "Done", "id": "10000"} if resolved else None,
        "security": (
            {"self": f"{SITE}/rest/api/3/securitylevel/10100", "id": "10100", "name": security, "description": ""}
            if security
            else None
        ),
        "fixVersions": [fix_version_ref(v) for v in fix_versions],
        "timeoriginalestimate": original_estimate_seconds,
        "timeestimate": original_estimate_seconds,
        "aggregatetimeoriginalestimate": original_estimate_seconds,
        "description": None,
        "components": [],
        "versions": [],
        "issuelinks": [],
        "subtasks": [],
    }
    return {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": issue_id,
        "self": f"{SITE}/rest/api/3/issue/{issue_id}",
        "key": key,
        "fields": fields,
    }


def worklog_json(
    worklog_id: str,
    issue_id: str,
    started: dt.datetime,
    seconds: int,
    author: Mapping[str, Any],
    *,
    updated: dt.datetime | None = None,
) -> dict[str, Any]:
    """A worklog as `GET /issue/{key}/worklog` and `POST /worklog/list` return it."""
    hours, minutes = divmod(seconds // 60, 60)
    pretty = " ".join(p for p in (f"{hours}h" if hours else "", f"{minutes}m" if minutes else "") if p) or "0m"
    stamp = jira_timestamp(updated or started)
    return {
        "self": f"{SITE}/rest/api/3/issue/{issue_id}/worklog/{worklog_id}",
        "author": dict(author),
        "updateAuthor": dict(author),
        "created": stamp,
        "updated": stamp,
        "started": jira_timestamp(started),
        "timeSpent": pretty,
        "timeSpentSeconds": seconds,
        "id": worklog_id,
        "issueId": issue_id,
    }


@dataclass
class AtlassianSeed:
    """Everything the fake serves. Issues without `fields.worklog`; worklogs kept per issue key."""

    issues: list[dict[str, Any]] = field(default_factory=list)
    worklogs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    spaces: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    # Agile boards as `GET /rest/agile/1.0/board/{id}` returns them (see `board_json`).
    boards: list[dict[str, Any]] = field(default_factory=list)
    # Confluence v1 content objects (`GET /rest/api/content/{id}`), served as stored: e.g. the
    # real Data Center responses in zulip's fixtures (blog posts, comments, moved pages).
    contents: list[dict[str, Any]] = field(default_factory=list)
    # View restrictions by content id: {"user": [account ids], "group": [group names]}; served in
    # `expand=restrictions.read.restrictions.*` and at `.../restriction/byOperation/read`.
    read_restrictions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Parent page of a stored v1 content id (v2 pages use their `parentId`): `expand=ancestors`
    # walks this chain, so restrictions of a parent can be found from a child.
    parents: dict[str, str] = field(default_factory=dict)
    # Confluence users as `GET /rest/api/user` returns them: found by `userKey`/`username` (Data
    # Center, `?key=`/`?username=`) or `accountId` (Cloud, `?accountId=`).
    users: list[dict[str, Any]] = field(default_factory=list)


def board_json(
    board_id: int, name: str, project: Mapping[str, Any] | None, *, board_type: str = "scrum"
) -> dict[str, Any]:
    """An agile board as `GET /rest/agile/1.0/board/{id}` returns it (shape of go-jira's
    `all_boards.json`); `project` ({"id", "key", "name"}) or None for a board in no project."""
    board: dict[str, Any] = {
        "id": board_id,
        "self": f"{SITE}/rest/agile/1.0/board/{board_id}",
        "name": name,
        "type": board_type,
    }
    if project is not None:
        board["location"] = {
            "projectId": int(project["id"]),
            "displayName": f"{project['name']} ({project['key']})",
            "projectName": project["name"],
            "projectKey": project["key"],
            "projectTypeKey": "software",
            "name": f"{project['name']} ({project['key']})",
        }
    return board


def space_json(space_id: str, key: str, name: str, homepage_id: str | None = None) -> dict[str, Any]:
    """A Confluence v2 space (SpaceBulk)."""
    return {
        "id": space_id,
        "key": key,
        "name": name,
        "type": "global",
        "status": "current",
        "authorId": "557058:agency-admin",
        "createdAt": "2025-01-06T09:00:00.000Z",
        "homepageId": homepage_id,
        "_links": {"webui": f"/spaces/{key}"},
    }


# --------------------------------------------------------------------------- failure injection


@dataclass(frozen=True)
class Failure:
    """One scripted failure: answer `status` (after `delay`), or hang and drop the connection."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    # Only requests whose path contains `match` (and of `method`) are affected; others pass.
    match: str | None = None
    method: str | None = None

    @classmethod
    def timeout(cls, seconds: float, match: str | None = None, method: str | None = None) -> Failure:
        """Hang for `seconds`, then close the connection without an answer."""
        return cls(delay=seconds, drop=True, match=match, method=method)

    def applies(self, method: str, path: str) -> bool:
        return (self.match is None or self.match in path) and (self.method is None or self.method == method)


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class _NotFound(Exception):
    pass


class _HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _jira_error(status: int, message: str) -> _HttpError:
    return _HttpError(status, {"errorMessages": [message], "errors": {}})


def _confluence_error(status: int, title: str, detail: str | None = None) -> _HttpError:
    return _HttpError(
        status,
        {"errors": [{"status": status, "code": _REASONS.get(status, "ERROR"), "title": title, "detail": detail}]},
    )


_REASONS = {400: "BAD_REQUEST", 404: "NOT_FOUND", 409: "CONFLICT", 410: "GONE", 429: "TOO_MANY_REQUESTS"}

# --------------------------------------------------------------------------- JQL subset

_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_CLAUSE = re.compile(
    r"^(?P<field>project|key|labels|statusCategory)\s*(?P<op>=|!=|\bin\b|\bnot in\b)\s*(?P<value>.+)$",
    re.IGNORECASE,
)


def _split_and(jql: str) -> list[str]:
    """Top-level AND clauses, respecting parentheses and quotes."""
    parts, depth, quote_char, start = [], 0, "", 0
    i = 0
    while i < len(jql):
        ch = jql[i]
        if quote_char:
            if ch == quote_char:
                quote_char = ""
        elif ch in "\"'":
            quote_char = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            m = _AND.match(jql, i)
            if m and m.start() == i:
                parts.append(jql[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(jql[start:])
    return [p.strip() for p in parts if p.strip()]


def _strip_parens(clause: str) -> str:
    while clause.startswith("(") and clause.endswith(")") and _balanced(clause[1:-1]):
        clause = clause[1:-1].strip()
    return clause


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _values(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return [v.strip().strip("\"'") for v in text.split(",") if v.strip()]


def jql_filter(jql: str) -> tuple[list[Any], list[str]]:
    """Predicates for the supported JQL subset, and the clauses that were ignored."""
    predicates: list[Any] = []
    ignored: list[str] = []
    body = _ORDER_BY.sub("", jql or "").strip()
    for raw_clause in _split_and(body):
        clause = _strip_parens(raw_clause)
        if _split_and(clause) != [clause]:
            # A parenthesised group of ANDs: flatten it.
            sub, sub_ignored = jql_filter(clause)
            predicates.extend(sub)
            ignored.extend(sub_ignored)
            continue
        m = _CLAUSE.match(clause)
        if not m or re.search(r"\s+OR\s+", clause, re.IGNORECASE):
            ignored.append(clause)
            continue
        name, op, values = m["field"].lower(), m["op"].lower(), _values(m["value"])
        negate = op in ("!=", "not in")
        predicates.append(_predicate(name, {v.lower() for v in values}, negate))
        if name == "project" and not negate:
            # Lets the server look only at these projects' issues instead of scanning them all.
            predicates[-1].projects = frozenset(v.lower() for v in values)
    return predicates, ignored


def _predicate(name: str, values: set[str], negate: bool) -> Any:
    def matches(issue: Mapping[str, Any]) -> bool:
        f = issue["fields"]
        if name == "project":
            hit = f["project"]["key"].lower() in values or str(f["project"]["id"]) in values
        elif name == "key":
            hit = issue["key"].lower() in values
        elif name == "labels":
            hit = bool({label.lower() for label in f.get("labels") or []} & values)
        else:  # statusCategory: by name ("Done") or key ("done")
            cat = f["status"]["statusCategory"]
            hit = cat["name"].lower() in values or cat["key"].lower() in values
        return hit != negate

    return matches


# --------------------------------------------------------------------------- the server


def _ms(stamp: str) -> int:
    return int(dt.datetime.fromisoformat(stamp).timestamp() * 1000)


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError):
        raise _jira_error(400, "The provided next page token is invalid or expired.") from None


class FakeAtlassian:
    """Fake Jira + Confluence Cloud (or Jira Server/DC) on 127.0.0.1, a context manager."""

    def __init__(
        self,
        seed: AtlassianSeed | None = None,
        *,
        flavor: Literal["cloud", "server"] = "cloud",
        latency: float = 0.0,
    ):
        seed = seed or AtlassianSeed()
        self.flavor = flavor
        self.latency = latency
        self._lock = threading.RLock()
        self._issues: list[dict[str, Any]] = [json.loads(json.dumps(i)) for i in seed.issues]
        self._issue_by_key = {i["key"]: i for i in self._issues}
        # Project key (lower case) and id -> (position, issue); `project =` JQL reads only these.
        self._by_project: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for position, issue in enumerate(self._issues):
            self._index_project(position, issue)
        self._worklogs: dict[str, list[dict[str, Any]]] = {
            k: [dict(w) for w in v] for k, v in seed.worklogs.items()
        }
        self._versions = {k: [dict(v) for v in vs] for k, vs in seed.versions.items()}
        # (issue key, comment id) -> the comment as GET …/comment/{id}?expand=properties returns it.
        self._comments: dict[tuple[str, str], dict[str, Any]] = {}
        self.sprint_field_id = "customfield_10020"  # Jira Software's sprint field on this fake site
        self.organizations_field_id = "customfield_10002"  # Service Desk's Organizations field
        # Issue key -> changelog histories ({"id", "created", "items"}), oldest first.
        self._histories: dict[str, list[dict[str, Any]]] = {}
        self._spaces = [dict(s) for s in seed.spaces]
        self._pages: dict[str, dict[str, Any]] = {str(p["id"]): dict(p) for p in seed.pages}
        self._boards: dict[int, dict[str, Any]] = {int(b["id"]): dict(b) for b in seed.boards}
        self._contents: dict[str, dict[str, Any]] = {str(c["id"]): json.loads(json.dumps(c)) for c in seed.contents}
        self._users: list[dict[str, Any]] = json.loads(json.dumps(seed.users))
        self._read_restrictions = {str(k): {"user": list(v.get("user", ())), "group": list(v.get("group", ()))}
                                   for k, v in seed.read_restrictions.items()}
        self._parents = {str(k): str(v) for k, v in seed.parents.items()}
        self._next_page_id = 900000 + len(self._pages)
        self._failures: deque[Failure] = deque()
        self._calls: list[Call] = []
        self.ignored_jql: list[str] = []
        # Projects that accept new issues (POST /issue) without having any yet (the support project).
        self.open_projects: set[str] = set()
        # Called (in the serving thread) once an answer has been sent: the crash tests kill the
        # client's process at that moment, when Jira has done what it was asked.
        self.on_answered: Callable[[Call], None] | None = None
        self._server: LoopbackServer | None = None

    # -- lifecycle

    def start(self) -> FakeAtlassian:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        self._server = LoopbackServer(_Handler, self, name="fake-atlassian")
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeAtlassian:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the site (Jira lives at /rest, Confluence at /wiki)."""
        if self._server is None:
            raise RuntimeError("FakeAtlassian is not started")
        return self._server.url

    @property
    def confluence_url(self) -> str:
        return self.url + "/wiki"

    # -- failure injection and call log

    def script(self, *failures: Failure) -> None:
        """Queue failures; each one is used by the next request matching it, in order."""
        with self._lock:
            self._failures.extend(failures)

    @property
    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def call_count(self, method: str | None = None, prefix: str | None = None, path: str | None = None) -> int:
        """How many requests matched method, path prefix and/or exact path."""
        return sum(
            1
            for c in self.calls
            if (method is None or c.method == method)
            and (prefix is None or c.path.startswith(prefix))
            and (path is None or c.path == path)
        )

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _take_failure(self, method: str, path: str) -> Failure | None:
        with self._lock:
            if self._failures and self._failures[0].applies(method, path):
                return self._failures.popleft()
        return None

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    # -- data access for assertions and seeding after start

    def pages(self, space_id: str | None = None) -> list[dict[str, Any]]:
        """Confluence pages (copies), optionally of one space."""
        with self._lock:
            return [json.loads(json.dumps(p)) for p in self._pages.values() if space_id in (None, p["spaceId"])]

    def add_issue(self, issue: dict[str, Any], worklogs: Iterable[dict[str, Any]] = ()) -> None:
        with self._lock:
            self._issues.append(issue)
            self._issue_by_key[issue["key"]] = issue
            self._index_project(len(self._issues) - 1, issue)
            self._worklogs.setdefault(issue["key"], []).extend(worklogs)

    def issues_in(self, project_key: str) -> list[dict[str, Any]]:
        """The project's issues (copies), e.g. those created through POST /issue."""
        with self._lock:
            return [json.loads(json.dumps(i)) for i in self._issues if i["key"].startswith(f"{project_key}-")]

    def add_comment(self, issue_key: str, comment: dict[str, Any]) -> None:
        """A comment of an issue (Service Desk's `jsdPublic` and `properties` as Jira keeps them)."""
        with self._lock:
            self._comments[(issue_key, str(comment["id"]))] = json.loads(json.dumps(comment))

    def _fields_get(self, query: dict[str, list[str]], body: Any) -> Any:
        # A few system fields and Jira Software's sprint field, whose id differs per site.
        return [
            {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string", "system": "summary"}},
            {"id": "security", "name": "Security Level", "custom": False,
             "schema": {"type": "securitylevel", "system": "security"}},
            {"id": "customfield_10999", "name": "Sprint", "custom": True,
             "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
                        "customId": 10999}},
            {"id": self.organizations_field_id, "name": "Organizations", "custom": True,
             "schema": {"type": "array", "items": "sd-customerorganization",
                        "custom": "com.atlassian.servicedesk:sd-customer-organizations",
                        "customId": int(self.organizations_field_id.rsplit("_", 1)[1])}},
            {"id": self.sprint_field_id, "name": "Sprint", "custom": True,
             "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                        "customId": int(self.sprint_field_id.rsplit("_", 1)[1])}},
        ]

    def add_history(self, issue_key: str, history: dict[str, Any]) -> None:
        """One edit of an issue's changelog (`created`, `items`), appended (Jira keeps them oldest first)."""
        with self._lock:
            self._histories.setdefault(issue_key, []).append(json.loads(json.dumps(history)))

    def _changelog_get(self, query: dict[str, list[str]], body: Any, key: str) -> Any:
        with self._lock:
            if key not in self._issue_by_key:
                raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
            values = list(self._histories.get(key, []))
        start = _int(_first(query, "startAt")) or 0
        size = min(_int(_first(query, "maxResults")) or 100, 100)
        page = values[start : start + size]
        return {"startAt": start, "maxResults": size, "total": len(values), "isLast": start + size >= len(values),
                "values": page}

    def _issue_get(self, query: dict[str, list[str]], body: Any, key: str) -> Any:
        with self._lock:
            issue = self._issue_by_key.get(key)
            if issue is None:
                raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
            answer = json.loads(json.dumps(issue))
            histories = list(self._histories.get(key, []))
        wanted = _requested_fields(query.get("fields", []), "*all")
        if wanted is not None and wanted != "*" and not isinstance(wanted, _Excluding):
            # Like Jira, only the fields asked for (unknown ones silently left out).
            answer["fields"] = {k: v for k, v in answer["fields"].items() if k in wanted}
        if "changelog" in (_first(query, "expand") or "").split(","):
            # Server/Data Center's shape: every history inline.
            answer["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                                   "histories": histories}
        return answer

    def _comment_get(self, query: dict[str, list[str]], body: Any, key: str, comment_id: str) -> Any:
        with self._lock:
            comment = self._comments.get((key, comment_id))
        if comment is None:
            raise _jira_error(404, "Can not find a comment for the id: " + comment_id + ".")
        answer = json.loads(json.dumps(comment))
        # Properties come only when asked for, as in Jira (`expand=properties`).
        if "properties" not in (_first(query, "expand") or "").split(","):
            answer.pop("properties", None)
        return answer

    def _comments_get(self, query: dict[str, list[str]], body: Any, key: str) -> Any:
        # PageOfComments; `orderBy` created / -created, `expand=properties` as for one comment.
        with self._lock:
            if key not in self._issue_by_key:
                raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
            found = [json.loads(json.dumps(c)) for (k, _), c in self._comments.items() if k == key]
        found.sort(key=lambda c: (_ms(c["created"]) if c.get("created") else 0, int(c["id"])),
                   reverse=(_first(query, "orderBy") or "").startswith("-"))
        start = _int(_first(query, "startAt")) or 0
        size = min(_int(_first(query, "maxResults")) or 5000, 5000)
        if "properties" not in (_first(query, "expand") or "").split(","):
            for c in found:
                c.pop("properties", None)
        return {"startAt": start, "maxResults": size, "total": len(found), "comments": found[start:start + size]}

    def _index_project(self, position: int, issue: dict[str, Any]) -> None:
        project = issue["fields"]["project"]
        for name in {project["key"].lower(), str(project["id"])}:
            self._by_project.setdefault(name, []).append((position, issue))

    # -- routing

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        routes = self._routes()
        for route_method, pattern, fn in routes:
            if route_method != method:
                continue
            m = re.fullmatch(pattern, path)
            if m:
                try:
                    return 200, fn(query, body, **m.groupdict()), {}
                except _HttpError as err:
                    return err.status, err.body, err.headers
        if any(re.fullmatch(p, path) for _, p, _ in routes):
            return 405, {"errorMessages": [f"{method} not allowed"], "errors": {}}, {}
        if path.startswith("/wiki/"):
            return 404, _confluence_error(404, "Not Found").body, {}
        return 404, {"errorMessages": ["null for uri: " + path], "errors": {}}, {}

    def _routes(self) -> list[tuple[str, str, Any]]:
        v = r"(?:2|3|latest)"
        routes: list[tuple[str, str, Any]] = []
        if self.flavor == "cloud":
            routes += [
                ("GET", rf"/rest/api/{v}/search/jql", self._search_jql_get),
                ("POST", rf"/rest/api/{v}/search/jql", self._search_jql_post),
                ("POST", r"/rest/api/3/search/approximate-count", self._approximate_count),
                ("GET", rf"/rest/api/{v}/search", self._gone),
                ("POST", rf"/rest/api/{v}/search", self._gone),
            ]
        else:
            routes += [
                ("GET", r"/rest/api/(?:2|latest)/search", self._search_server_get),
                ("POST", r"/rest/api/(?:2|latest)/search", self._search_server_post),
            ]
        routes += [
            ("GET", rf"/rest/api/{v}/project/(?P<key>[^/]+)/versions", self._versions_of),
            ("GET", rf"/rest/api/{v}/project/(?P<key>[^/]+)", self._project_get),
            ("GET", rf"/rest/api/{v}/issue/(?P<key>[^/]+)/worklog", self._issue_worklogs),
            ("GET", rf"/rest/api/{v}/issue/(?P<key>[^/]+)/comment/(?P<comment_id>[^/]+)", self._comment_get),
            ("GET", rf"/rest/api/{v}/issue/(?P<key>[^/]+)/comment", self._comments_get),
            ("GET", rf"/rest/api/{v}/issue/(?P<key>[^/]+)/changelog", self._changelog_get),
            ("GET", rf"/rest/api/{v}/field", self._fields_get),
            ("GET", rf"/rest/api/{v}/issue/(?P<key>[^/]+)", self._issue_get),
            ("POST", rf"/rest/api/{v}/issue", self._issue_create),
            ("POST", rf"/rest/api/{v}/issue/(?P<key>[^/]+)/comment", self._comment_create),
            ("GET", rf"/rest/api/{v}/worklog/updated", self._worklog_updated),
            ("POST", rf"/rest/api/{v}/worklog/list", self._worklog_list),
            ("GET", rf"/rest/api/{v}/myself", self._myself),
            ("GET", rf"/rest/api/{v}/serverInfo", self._server_info),
            ("GET", r"/rest/agile/1\.0/board/(?P<board_id>[^/]+)", self._board_get),
            ("GET", r"/wiki/rest/api/content/(?P<content_id>[^/]+)", self._content_get_cloud),
            ("GET", r"/rest/api/content/(?P<content_id>[^/]+)", self._content_get_dc),
            ("GET", r"/wiki/rest/api/content/(?P<content_id>[^/]+)/restriction/byOperation/(?P<operation>read|update)",
             self._restriction_get_cloud),
            ("GET", r"/rest/api/content/(?P<content_id>[^/]+)/restriction/byOperation/(?P<operation>read|update)",
             self._restriction_get_dc),
            ("GET", r"/wiki/rest/api/user", self._user_get_cloud),
            ("GET", r"/rest/api/user", self._user_get_dc),
            ("GET", r"/wiki/api/v2/spaces", self._spaces_get),
            ("GET", r"/rest/api/space/(?P<key>[^/]+)", self._space_get_dc),
            ("GET", r"/wiki/api/v2/pages", self._pages_get),
            ("POST", r"/wiki/api/v2/pages", self._page_create),
            ("GET", r"/wiki/api/v2/pages/(?P<page_id>[^/]+)", self._page_get),
            ("PUT", r"/wiki/api/v2/pages/(?P<page_id>[^/]+)", self._page_update),
        ]
        return routes

    # -- Jira: search

    def _gone(self, query: Any, body: Any) -> Any:
        raise _jira_error(
            410,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
            "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
        )

    def _matching(self, jql: str) -> list[dict[str, Any]]:
        if not jql or not jql.strip():
            if self.flavor == "cloud":
                raise _jira_error(400, "Unbounded JQL queries are not allowed here. Please add a search restriction.")
        if not _balanced(jql or "") or (jql or "").count('"') % 2:
            raise _jira_error(400, "Error in the JQL Query: the query has an unclosed parenthesis or quote.")
        predicates, ignored = jql_filter(jql)
        scopes = [p.projects for p in predicates if getattr(p, "projects", None) is not None]
        with self._lock:
            # Like Jira: naming a project that does not exist (or that we may not see) is a 400,
            # not an empty result.
            for name in sorted(n for scope in scopes for n in scope if not self._project_known(n)):
                raise _jira_error(400, f"The value '{name.upper()}' does not exist for the field 'project'.")
            self.ignored_jql.extend(ignored)
            if scopes:
                # Only issues of the named projects can match: skip scanning the rest (40k issues
                # per page made the fake, not the bot, the bottleneck of the digest benchmark).
                hits = {pos: i for name in scopes[0] for pos, i in self._by_project.get(name, ())}
                issues = [hits[pos] for pos in sorted(hits)]
            else:
                issues = list(self._issues)
        return [i for i in issues if all(p(i) for p in predicates)]

    def _render_issue(self, issue: Mapping[str, Any], wanted: Any) -> dict[str, Any]:
        """One search result item; `wanted` as `_requested_fields` returns it (worked out once per page)."""
        out = {k: issue[k] for k in ("expand", "id", "self", "key")}
        if wanted is None:  # ids only
            return out
        all_fields = dict(issue["fields"])
        with self._lock:
            logs = list(self._worklogs.get(issue["key"], []))
        spent = sum(int(w["timeSpentSeconds"]) for w in logs)
        if all_fields.get("timespent") is None:
            all_fields["timespent"] = spent or None
        all_fields["aggregatetimespent"] = all_fields["timespent"]
        all_fields["worklog"] = {
            "startAt": 0,
            "maxResults": EMBEDDED_WORKLOGS,
            "total": len(logs),
            "worklogs": logs[:EMBEDDED_WORKLOGS],
        }
        all_fields["timetracking"] = {
            k: v
            for k, v in {
                "originalEstimateSeconds": all_fields.get("timeoriginalestimate"),
                "timeSpentSeconds": all_fields["timespent"],
            }.items()
            if v is not None
        }
        if isinstance(wanted, _Excluding):
            out["fields"] = {k: v for k, v in all_fields.items() if k not in wanted.excluded}
        elif wanted == "*":
            out["fields"] = all_fields
        else:
            # Like Jira, unknown field names are silently left out.
            out["fields"] = {k: all_fields[k] for k in wanted if k in all_fields}
        return out

    def _search_page(self, jql: str, offset: int, max_results: int | None, fields: list[str]) -> dict[str, Any]:
        matched = self._matching(jql)
        wanted = _requested_fields(fields, "id")
        cap = 5000 if wanted is None else CLOUD_MAX_RESULTS
        size = min(max_results if max_results is not None else 50, cap)
        size = max(size, 1)
        page = matched[offset : offset + size]
        result: dict[str, Any] = {"issues": [self._render_issue(i, wanted) for i in page]}
        is_last = offset + size >= len(matched)
        if not is_last:
            result["nextPageToken"] = _encode_token(offset + size)
        result["isLast"] = is_last
        return result

    def _search_jql_get(self, query: dict[str, list[str]], body: Any) -> Any:
        token = _first(query, "nextPageToken")
        return self._search_page(
            _first(query, "jql") or "",
            _decode_token(token) if token else 0,
            _int(_first(query, "maxResults")),
            query.get("fields", []),
        )

    def _search_jql_post(self, query: Any, body: Any) -> Any:
        body = body or {}
        token = body.get("nextPageToken")
        fields = body.get("fields") or []
        return self._search_page(
            body.get("jql") or "",
            _decode_token(token) if token else 0,
            _int(body.get("maxResults")),
            [",".join(fields)] if isinstance(fields, list) else [str(fields)],
        )

    def _server_page(self, jql: str, start_at: int, max_results: int | None, fields: list[str]) -> dict[str, Any]:
        matched = self._matching(jql)
        wanted = _requested_fields(fields, "*navigable")
        size = min(max_results if max_results is not None else 50, SERVER_MAX_RESULTS)
        page = matched[start_at : start_at + max(size, 0)]
        return {
            "expand": "schema,names",
            "startAt": start_at,
            "maxResults": size,
            "total": len(matched),
            "issues": [self._render_issue(i, wanted) for i in page],
        }

    def _search_server_get(self, query: dict[str, list[str]], body: Any) -> Any:
        return self._server_page(
            _first(query, "jql") or "",
            _int(_first(query, "startAt")) or 0,
            _int(_first(query, "maxResults")),
            query.get("fields", []),
        )

    def _search_server_post(self, query: Any, body: Any) -> Any:
        body = body or {}
        fields = body.get("fields") or []
        return self._server_page(
            body.get("jql") or "",
            int(body.get("startAt") or 0),
            _int(body.get("maxResults")),
            [",".join(fields)] if isinstance(fields, list) else [str(fields)],
        )

    # -- Jira: creating issues (support requests)

    def _issue_create(self, query: Any, body: Any) -> Any:
        fields = body.get("fields") if isinstance(body, Mapping) else None
        if not isinstance(fields, Mapping):
            raise _jira_error(400, "fields are required")
        project = str((fields.get("project") or {}).get("key") or "")
        errors = {}
        if not project or not (self._project_known(project) or project.upper() in self.open_projects):
            errors["project"] = "valid project is required"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        priority = (fields.get("priority") or {}).get("name", "Medium")
        if priority not in _PRIORITY_IDS:
            errors["priority"] = f"The priority selected is invalid: {priority}"
        if errors:
            raise _HttpError(400, {"errorMessages": [], "errors": errors})
        with self._lock:
            project = project.upper()
            number = 1 + max((int(i["key"].rsplit("-", 1)[1]) for i in self._issues
                              if i["key"].startswith(f"{project}-")), default=0)
            issue = issue_json(
                str(20000 + len(self._issues)), f"{project}-{number}", str(fields["summary"]),
                project_id=str(30000 + len(self._by_project)), project_name=project,
                created=dt.datetime.now(dt.timezone.utc), issue_type=str((fields.get("issuetype") or {}).get("name", "Task")),
                priority=priority, labels=[str(label) for label in fields.get("labels") or []],
            )
            issue["fields"]["description"] = fields.get("description")
            issue["fields"]["components"] = [{"name": c.get("name")} for c in fields.get("components") or []]
            if self.organizations_field_id in fields:
                # Jira answers organizations set by id as objects (id and name).
                issue["fields"][self.organizations_field_id] = [
                    {"id": o, "name": f"Organization {o}"} for o in fields[self.organizations_field_id] or []]
            self.add_issue(issue)
        return {"id": issue["id"], "key": issue["key"], "self": f"{SITE}/rest/api/2/issue/{issue['id']}"}

    def _comment_create(self, query: Any, body: Any, key: str) -> Any:
        with self._lock:
            if key not in self._issue_by_key:
                raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
            comment_id = str(10000 + len(self._comments))
            comment = {"id": comment_id, "body": (body or {}).get("body", ""), "jsdPublic": True,
                       "created": jira_timestamp(dt.datetime.now(dt.timezone.utc))}
            self._comments[(key, comment_id)] = comment
        return comment

    # -- Jira: versions and worklogs

    def _project_known(self, name: str) -> bool:
        """A project exists when the seed has its issues or versions (`name`: key or id, any case)."""
        return name.lower() in self._by_project or name.upper() in self._versions or name.upper() in self.open_projects

    def _versions_of(self, query: Any, body: Any, key: str) -> Any:
        with self._lock:
            if not self._project_known(key):
                raise _jira_error(404, f"No project could be found with key '{key}'.")
            return list(self._versions.get(key, []))

    def _project_get(self, query: Any, body: Any, key: str) -> Any:
        with self._lock:
            if not self._project_known(key):
                raise _jira_error(404, f"No project could be found with key '{key}'.")
            issues = self._by_project.get(key.lower())
            if issues:
                project = dict(issues[0][1]["fields"]["project"])
            else:  # known from its versions only: they carry its id
                versions = self._versions[key.upper()]
                project = {"key": key.upper(), "name": key.upper(), "id": str(versions[0]["projectId"]) if versions else "0"}
        project["self"] = f"{SITE}/rest/api/3/project/{project['id']}"
        return project

    def _approximate_count(self, query: Any, body: Any) -> Any:
        # Cloud: the count of a JQL without fetching issues; a bad query is a 400 like a search.
        jql = (body or {}).get("jql") if isinstance(body, Mapping) else None
        if not jql:
            raise _jira_error(400, "The JQL query is required.")
        return {"count": len(self._matching(jql))}

    def _issue_worklogs(self, query: dict[str, list[str]], body: Any, key: str) -> Any:
        with self._lock:
            issue = self._issue_by_key.get(key) or next((i for i in self._issues if i["id"] == key), None)
            if issue is None:
                raise _jira_error(404, "Issue does not exist or you do not have permission to see it.")
            logs = list(self._worklogs.get(issue["key"], []))
        after, before = _int(_first(query, "startedAfter")), _int(_first(query, "startedBefore"))
        if after is not None:
            logs = [w for w in logs if _ms(w["started"]) >= after]
        if before is not None:
            logs = [w for w in logs if _ms(w["started"]) < before]
        start = _int(_first(query, "startAt")) or 0
        size = min(_int(_first(query, "maxResults")) or 5000, 5000)
        return {"startAt": start, "maxResults": size, "total": len(logs), "worklogs": logs[start : start + size]}

    def _all_worklogs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [w for logs in self._worklogs.values() for w in logs]

    def _worklog_updated(self, query: dict[str, list[str]], body: Any) -> Any:
        since = _int(_first(query, "since")) or 0
        items: list[dict[str, Any]] = sorted(
            ({"worklogId": int(w["id"]), "updatedTime": _ms(w["updated"]), "properties": []} for w in self._all_worklogs()),
            key=lambda x: (x["updatedTime"], x["worklogId"]),
        )
        items = [x for x in items if x["updatedTime"] >= since]
        page = items[:WORKLOG_UPDATED_PAGE]
        last = len(items) <= WORKLOG_UPDATED_PAGE
        until = page[-1]["updatedTime"] if page else since
        base = f"{self.url}/rest/api/3/worklog/updated"
        result: dict[str, Any] = {
            "values": page,
            "since": since,
            "until": until,
            "self": f"{base}?since={since}",
            "lastPage": last,
        }
        if not last:
            # Real Jira repeats the boundary item on the next page; callers de-duplicate by id.
            result["nextPage"] = f"{base}?since={until}"
        return result

    def _worklog_list(self, query: Any, body: Any) -> Any:
        ids = (body or {}).get("ids")
        if not isinstance(ids, list):
            raise _jira_error(400, "ids must be a list")
        if len(ids) > WORKLOG_LIST_MAX:
            raise _jira_error(400, f"The number of worklog ids must not exceed {WORKLOG_LIST_MAX}.")
        wanted = {str(i) for i in ids}
        return [w for w in self._all_worklogs() if w["id"] in wanted]

    def _myself(self, query: Any, body: Any) -> Any:
        return user_json("557058:fake-bot", "Account Pulse", "pulse@example.com")

    def _server_info(self, query: Any, body: Any) -> Any:
        return {
            "baseUrl": self.url,
            "version": "1001.0.0-SNAPSHOT" if self.flavor == "cloud" else "9.12.2",
            "deploymentType": "Cloud" if self.flavor == "cloud" else "Server",
            "serverTitle": "Fake Jira",
        }

    # -- Jira Software: boards

    def _board_get(self, query: Any, body: Any, board_id: str) -> Any:
        if not board_id.isdigit():
            raise _jira_error(400, f"The board id '{board_id}' is not a number.")
        with self._lock:
            board = self._boards.get(int(board_id))
            if board is None:
                raise _jira_error(
                    404, "The requested board cannot be viewed because it either does not exist "
                    "or you do not have permission to view it.",
                )
            return dict(board)

    # -- Confluence users (who did what, for Confluence webhooks)

    def _user_get_cloud(self, query: dict[str, list[str]], body: Any) -> Any:
        return self._user_get(query, {"accountId": "accountId"})

    def _user_get_dc(self, query: dict[str, list[str]], body: Any) -> Any:
        return self._user_get(query, {"key": "userKey", "username": "username"})

    def _user_get(self, query: dict[str, list[str]], fields: Mapping[str, str]) -> Any:
        asked = [(field_name, query[param][0]) for param, field_name in fields.items() if query.get(param)]
        if not asked:
            raise _HttpError(400, {"statusCode": 400, "message": "A user key, username or account id is required"})
        field_name, value = asked[0]
        with self._lock:
            for user in self._users:
                if user.get(field_name) == value:
                    return json.loads(json.dumps(user))
        # The v1 API's error shape, as for content.
        raise _HttpError(404, {"statusCode": 404, "message": f"No user found with {field_name}: {value}"})

    # -- Confluence v1 content (what webhook enrichment reads)

    def _content_get_cloud(self, query: dict[str, list[str]], body: Any, content_id: str) -> Any:
        return self._content_get(query, content_id, self.confluence_url)

    def _content_get_dc(self, query: dict[str, list[str]], body: Any, content_id: str) -> Any:
        return self._content_get(query, content_id, self.url)

    def _content_get(self, query: dict[str, list[str]], content_id: str, base: str) -> Any:
        # Real Confluence finds only current content unless `status` names others (or `any`).
        statuses = {k for v in query.get("status", []) for k in v.split(",") if k} or {"current"}
        full_expand = {k for v in query.get("expand", []) for k in v.split(",") if k}
        expand = {k.split(".")[0] for k in full_expand}
        with self._lock:
            stored = self._contents.get(content_id)
            if stored is not None:
                content = json.loads(json.dumps(stored))
            elif content_id in self._pages:
                content = self._page_v1(self._pages[content_id], base)
            else:
                content = None
        if content is None or not ("any" in statuses or content.get("status") in statuses):
            raise _HttpError(404, {
                "statusCode": 404, "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                "message": f"No content found with id: ContentId{{id={content_id}}}",
            })
        if stored is None:
            # Like the real API: what was not asked for is only named under `_expandable`.
            for name in ("space", "version", "container", "history"):
                if name not in expand and name in content:
                    content.pop(name)
                    content["_expandable"][name] = f"/rest/api/content/{content_id}/{name}"
        with self._lock:
            self._expand_restrictions(content, content_id, full_expand, base)
        return content

    def _content_kind(self, content_id: str) -> tuple[str, str]:
        """(type, title) of a content id the fake knows, ("page", "?") otherwise."""
        if content_id in self._contents:
            stored = self._contents[content_id]
            return str(stored.get("type") or "page"), str(stored.get("title") or "?")
        if content_id in self._pages:
            return "page", str(self._pages[content_id]["title"])
        return "page", "?"

    def _parent_of(self, content_id: str) -> str | None:
        if content_id in self._parents:
            return self._parents[content_id]
        page = self._pages.get(content_id)
        return str(page["parentId"]) if page and page.get("parentId") else None

    def _content_ref(self, content_id: str, base: str) -> dict[str, Any]:
        kind, title = self._content_kind(content_id)
        return {"id": content_id, "type": kind, "status": "current", "title": title,
                "_links": {"self": f"{base}/rest/api/content/{content_id}"},
                "_expandable": {"restrictions": f"/rest/api/content/{content_id}/restriction/byOperation"}}

    def _restriction_json(self, content_id: str, operation: str, base: str, kinds: set[str]) -> dict[str, Any]:
        """A v1 ContentRestriction; users/groups listed when in `kinds`, else only `_expandable`."""
        found = self._read_restrictions.get(content_id, {}) if operation == "read" else {}
        users = [user_json(a, a) for a in found.get("user", ())]
        groups = [{"type": "group", "name": g, "id": f"group-{g}"} for g in found.get("group", ())]
        path = f"/rest/api/content/{content_id}/restriction/byOperation/{operation}"
        lists: dict[str, Any] = {"_expandable": {}}
        for kind, results in (("user", users), ("group", groups)):
            if kind in kinds:
                lists[kind] = {"results": results, "start": 0, "limit": 200, "size": len(results)}
            else:
                lists["_expandable"][kind] = f"{path}/{kind}"
        return {"operation": operation, "restrictions": lists,
                "_expandable": {"content": f"/rest/api/content/{content_id}"},
                "_links": {"self": base + path}}

    def _expand_restrictions(self, content: dict[str, Any], content_id: str, full_expand: set[str], base: str) -> None:
        # Like the real API: ancestors root first; a comment's container is its page.
        expandable = content.setdefault("_expandable", {})
        if "ancestors" in full_expand:
            chain: list[str] = []
            parent = self._parent_of(content_id)
            while parent is not None and parent not in chain and parent != content_id:
                chain.append(parent)
                parent = self._parent_of(parent)
            content["ancestors"] = [self._content_ref(a, base) for a in reversed(chain)]
            expandable.pop("ancestors", None)
        if "container" in full_expand and "container" not in content:
            ref = str(expandable.get("container") or "")
            m = re.fullmatch(r".*/rest/api/content/(\d+)", ref)
            if m:
                content["container"] = self._content_ref(m.group(1), base)
                expandable.pop("container", None)
        read_kinds = {k.rsplit(".", 1)[1] for k in full_expand if k.startswith("restrictions.read.restrictions.")}
        if read_kinds or "restrictions" in full_expand or "restrictions.read" in full_expand:
            content["restrictions"] = {"read": self._restriction_json(content_id, "read", base, read_kinds)}
            expandable.pop("restrictions", None)

    def _restriction_get_cloud(self, query: dict[str, list[str]], body: Any, content_id: str, operation: str) -> Any:
        return self._restriction_get(query, content_id, operation, self.confluence_url)

    def _restriction_get_dc(self, query: dict[str, list[str]], body: Any, content_id: str, operation: str) -> Any:
        return self._restriction_get(query, content_id, operation, self.url)

    def _restriction_get(self, query: dict[str, list[str]], content_id: str, operation: str, base: str) -> Any:
        # Users and groups are expanded by default (spec: "Expanded by default").
        with self._lock:
            if content_id not in self._contents and content_id not in self._pages:
                raise _HttpError(404, {
                    "statusCode": 404, "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                    "message": f"No content found with id: ContentId{{id={content_id}}}",
                })
            return self._restriction_json(content_id, operation, base, {"user", "group"})

    def _page_v1(self, page: Mapping[str, Any], base: str) -> dict[str, Any]:
        """A v2 page in the v1 content shape (same ids and versions: one page, two APIs)."""
        space = self._space(page["spaceId"]) or {"id": page["spaceId"], "key": "?", "name": "?"}
        space_v1 = {
            "id": int(space["id"]), "key": space["key"], "name": space["name"],
            "type": space.get("type", "global"), "status": space.get("status", "current"),
            "_links": {"webui": f"/spaces/{space['key']}", "self": f"{base}/rest/api/space/{space['key']}"},
        }
        version = page.get("version") or {}
        slug = quote(page["title"].replace(" ", "+"), safe="+")
        return {
            "id": page["id"],
            "type": "page",
            "status": page["status"],
            "title": page["title"],
            "space": space_v1,
            "version": {
                "by": {"type": "known", "accountId": version.get("authorId"), "accountType": "atlassian"},
                "when": version.get("createdAt"),
                "message": version.get("message", ""),
                "number": version.get("number", 1),
                "minorEdit": bool(version.get("minorEdit")),
            },
            # A page's container is its space.
            "container": space_v1,
            "history": {"latest": True, "createdDate": page.get("createdAt")},
            "_links": {
                "webui": f"/spaces/{space['key']}/pages/{page['id']}/{slug}",
                "tinyui": f"/x/{page['id']}",
                "collection": "/rest/api/content",
                "base": base,
                "context": "/wiki" if base.endswith("/wiki") else "",
                "self": f"{base}/rest/api/content/{page['id']}",
            },
            "_expandable": {"children": f"/rest/api/content/{page['id']}/child", "ancestors": "", "body": ""},
        }

    # -- Confluence v2

    def _space(self, space_id: str) -> dict[str, Any] | None:
        return next((s for s in self._spaces if s["id"] == str(space_id)), None)

    def _page_out(self, page: Mapping[str, Any], body_format: str | None) -> dict[str, Any]:
        space = self._space(page["spaceId"]) or {"key": "?"}
        out = {k: v for k, v in page.items() if k != "body"}
        slug = quote(page["title"].replace(" ", "+"), safe="+")
        out["_links"] = {
            "webui": f"/spaces/{space['key']}/pages/{page['id']}/{slug}",
            "editui": f"/pages/resumedraft.action?draftId={page['id']}",
            "tinyui": f"/x/{page['id']}",
        }
        if body_format:
            out["body"] = {body_format: page.get("body", {}).get(body_format, {"representation": body_format, "value": ""})}
        return out

    def _links(self) -> dict[str, str]:
        return {"base": self.confluence_url}

    def _spaces_get(self, query: dict[str, list[str]], body: Any) -> Any:
        keys = {k for v in query.get("keys", []) for k in v.split(",") if k}
        ids = {k for v in query.get("ids", []) for k in v.split(",") if k}
        with self._lock:
            results = [s for s in self._spaces if (not keys or s["key"] in keys) and (not ids or s["id"] in ids)]
        return {"results": results, "_links": self._links()}

    def _space_get_dc(self, query: Any, body: Any, key: str) -> Any:
        # Data Center v1: the space, or 404 "No space with key : X" when missing or not visible.
        with self._lock:
            for space in self._spaces:
                if space["key"] == key:
                    return {"id": int(space["id"]), "key": key, "name": space.get("name", key), "type": "global"}
        raise _HttpError(404, {"statusCode": 404, "message": f"No space with key : {key}"})

    def _pages_get(self, query: dict[str, list[str]], body: Any) -> Any:
        space_ids = {k for v in query.get("space-id", []) for k in v.split(",") if k}
        title = _first(query, "title")
        statuses = {k for v in query.get("status", []) for k in v.split(",")} or {"current", "archived"}
        with self._lock:
            results = [
                self._page_out(p, _first(query, "body-format"))
                for p in self._pages.values()
                if (not space_ids or p["spaceId"] in space_ids)
                and (title is None or p["title"] == title)
                and p["status"] in statuses
            ]
        return {"results": results, "_links": self._links()}

    def _page_get(self, query: dict[str, list[str]], body: Any, page_id: str) -> Any:
        with self._lock:
            page = self._pages.get(page_id)
            if page is None:
                raise _confluence_error(404, "Not Found")
            out = self._page_out(page, _first(query, "body-format"))
            out["_links"]["base"] = self.confluence_url
            return out

    def _body_value(self, body: Mapping[str, Any]) -> dict[str, Any]:
        raw = body.get("body") or {}
        if "representation" in raw:
            rep = raw["representation"]
            return {rep: {"representation": rep, "value": raw.get("value", "")}}
        # Nested form: {"storage": {"representation": "storage", "value": ...}}
        return {k: dict(v) for k, v in raw.items() if isinstance(v, dict)}

    def _check_title(self, space_id: str, title: str, except_id: str | None = None) -> None:
        for p in self._pages.values():
            if p["spaceId"] == space_id and p["title"] == title and p["id"] != except_id and p["status"] == "current":
                # Real Confluence refuses two pages with one title in a space.
                raise _confluence_error(400, "A page with this title already exists: A page already exists with the same TITLE in this space")

    def _page_create(self, query: Any, body: Any) -> Any:
        body = body or {}
        with self._lock:
            space_id = str(body.get("spaceId") or "")
            space = self._space(space_id)
            if space is None:
                raise _confluence_error(404, "Space not found", f"no space with id {space_id!r}")
            title = body.get("title")
            if not title:
                raise _confluence_error(400, "Title is required for a page that is not a draft")
            self._check_title(space_id, title)
            parent_id = body.get("parentId") or space.get("homepageId")
            if body.get("parentId") and str(body["parentId"]) not in self._pages:
                raise _confluence_error(404, "Parent page not found")
            self._next_page_id += 1
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            page = {
                "id": str(self._next_page_id),
                "status": body.get("status") or "current",
                "title": title,
                "spaceId": space_id,
                "parentId": str(parent_id) if parent_id else None,
                "parentType": "page" if parent_id else None,
                "position": None,
                "authorId": "557058:fake-bot",
                "ownerId": "557058:fake-bot",
                "createdAt": now,
                "version": {"createdAt": now, "message": "", "number": 1, "minorEdit": False, "authorId": "557058:fake-bot"},
                "body": self._body_value(body),
            }
            self._pages[page["id"]] = page
            out = self._page_out(page, "storage")
            out["_links"]["base"] = self.confluence_url
            return out

    def _page_update(self, query: Any, body: Any, page_id: str) -> Any:
        body = body or {}
        with self._lock:
            page = self._pages.get(page_id)
            if page is None:
                raise _confluence_error(404, "Not Found")
            missing = [k for k in ("id", "status", "title", "body", "version") if k not in body]
            if missing:
                raise _confluence_error(400, f"missing fields: {', '.join(missing)}")
            number = (body.get("version") or {}).get("number")
            current = page["version"]["number"]
            if number != current + 1:
                raise _confluence_error(
                    409, "Version must be incremented on update.", f"Current version is: {current}"
                )
            self._check_title(page["spaceId"], body["title"], except_id=page_id)
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            page.update(
                title=body["title"],
                status=body["status"],
                body=self._body_value(body),
                version={
                    "createdAt": now,
                    "message": (body.get("version") or {}).get("message", ""),
                    "number": number,
                    "minorEdit": False,
                    "authorId": "557058:fake-bot",
                },
            )
            if body.get("parentId"):
                page["parentId"] = str(body["parentId"])
            out = self._page_out(page, "storage")
            out["_links"]["base"] = self.confluence_url
            return out


class _Excluding(frozenset):
    """`*all,-comment`: everything but these."""

    @property
    def excluded(self) -> frozenset[str]:
        return frozenset(self)


def _requested_fields(params: list[str], default: str) -> Any:
    """None = ids only; '*' = all fields; _Excluding = all but some; else a list of names."""
    names = [n.strip() for p in params for n in p.split(",") if n.strip()] or [default]
    include = [n for n in names if not n.startswith("-")]
    exclude = [n[1:] for n in names if n.startswith("-")]
    if any(n in ("*all", "*navigable") for n in include) or (exclude and not include):
        return _Excluding(exclude) if exclude else "*"
    listed = [n for n in include if n not in ("id", "key")]
    if not listed:
        return None
    return [n for n in listed if n not in exclude]


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _jira_error(400, f"not a number: {value!r}") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms on Linux loopback), which real Jira does not cost. TCP_NODELAY.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: tests assert on the call log instead

    def _serve(self) -> None:
        fake: FakeAtlassian = self.server.owner  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        failure = fake._take_failure(self.command, parts.path)
        if fake.latency:
            time.sleep(fake.latency)
        if failure is not None:
            if failure.drop:
                # Logged on arrival: the client has given up long before the fake hangs up.
                fake._record(Call(self.command, parts.path, query, body, 0))
            if failure.delay:
                time.sleep(failure.delay)
            if failure.drop:
                self.close_connection = True
                return
            status = failure.status or 500
            payload: Any = {"errorMessages": [f"Injected failure {status}"], "errors": {}}
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
        else:
            try:
                status, payload, headers = fake.handle(self.command, parts.path, query, body)
            except Exception as exc:  # a bug in the fake must show up as a 500, not a hung client
                status, payload, headers = 500, {"errorMessages": [f"fake error: {exc!r}"], "errors": {}}, {}
        fake._record(Call(self.command, parts.path, query, body, status))
        # Compact like real Jira: fewer bytes to send and for the client to parse.
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if fake.on_answered is not None:
            fake.on_answered(Call(self.command, parts.path, query, body, status))

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
