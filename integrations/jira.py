"""Jira behind a small port: issues (with worklogs) and versions as `bot.domain.work` values.

`AtlassianJira` talks to Jira Cloud (enhanced search, `/rest/api/3/search/jql`, paged by
`nextPageToken` until `isLast`) or Server/Data Center (`/rest/api/2/search`, paged by
`startAt`/`total`) through atlassian-python-api's plain `get`/`post`, because its search helpers
page wrongly (`enhanced_jql_get_list_of_tickets` ignores `isLast`) or hit the removed
`/rest/api/3/search` (410).

Number of HTTP calls for `fetch_issues` (without retries; each retry adds one call):

    calls = max(1, ceil(N / P))  +  sum over issues with W_i > 20 of ceil(W_i / 5000)

N = matching issues, P = page size (<= 100 on Cloud when fields are asked), W_i = the issue's
worklog total. The search embeds up to 20 worklogs per issue, so only issues with more than 20
cost a follow-up (`GET /issue/{key}/worklog`, 5000 per page). `fetch_versions_for(projects)`
costs one call per project; `board_project(board_id)` one call (`GET /rest/agile/1.0/board/{id}`,
the same path on Cloud and Data Center). Follow-ups and per-project calls run on at most `max_workers`
threads, each with its own client (the library shares one `requests.Session` without locks).
"""

from __future__ import annotations

import contextvars
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import requests
from atlassian import Jira

from bot.domain.payload import ORGANIZATIONS_SCHEMA
from bot.domain.work import Issue, Version
from integrations.jira_calls import record_call
from integrations.jira_payloads import (
    EMBEDDED_WORKLOG_LIMIT,
    ISSUE_FIELDS,
    embedded_worklog_page,
    parse_issue,
    parse_version,
)
from integrations.upstream_errors import RetryPolicy, UpstreamError, call_with_retries

SERVICE = "jira"
WORKLOG_PAGE = 5000  # the largest page GET /issue/{key}/worklog returns
# Beyond this, GET URLs risk proxy limits (~8 KB); long JQL goes in a POST body instead.
MAX_GET_JQL = 2000

__all__ = [
    "AtlassianJira",
    "JiraPort",
    "board_location_project",
    "expected_fetch_calls",
]


class JiraPort(Protocol):
    """What Account Pulse needs from Jira."""

    def fetch_issues(self, jql: str) -> list[Issue]:
        """All issues matching `jql`, each with all its worklogs."""
        ...

    def fetch_versions(self, project_key: str) -> list[Version]:
        """All versions (milestones) of one project."""
        ...

    def fetch_versions_for(self, project_keys: Sequence[str]) -> list[Version]:
        """Versions of several projects, in the order of `project_keys`."""
        ...

    def board_project(self, board_id: int) -> str | None:
        """The key of the project a board sits in; None when no such board is visible to us or
        it sits in no project (a board in a user's location)."""
        ...

    def comment(self, issue_key: str, comment_id: str) -> dict[str, Any] | None:
        """One comment as Jira returns it with its properties (Service Desk's `sd.public.comment`
        and `jsdPublic`); None when there is no such comment."""
        ...

    def changelog(self, issue_key: str) -> list[dict[str, Any]]:
        """The issue's changelog: every history (`created`, `items`) as Jira returns it, oldest first."""
        ...

    def issue_comments(self, issue_key: str, last: int) -> list[dict[str, Any]]:
        """The issue's newest `last` comments with their properties (visibility, `jsdPublic`,
        `sd.public.comment`), oldest first; [] when the issue is gone or not visible to us."""
        ...

    def sprint_field_id(self) -> str | None:
        """The id of the site's Jira Software sprint field (`customfield_…`), or None."""
        ...

    def organizations_field_id(self) -> str | None:
        """The id of the site's Service Desk Organizations field (`customfield_…`), or None (no
        such field, or more than one: not guessed)."""
        ...

    def issue_field_values(self, issue_key: str, field_ids: Sequence[str]) -> dict[str, Any] | None:
        """These fields of one issue as Jira returns them (a field Jira leaves out is absent); None
        when there is no such issue or the bot may not see it."""
        ...

    def create_issue(self, fields: Mapping[str, Any]) -> str:
        """Create an issue from REST `fields` (plain-text description); its key. Never retried
        in-line: the caller searches for it (`find_issue_by_label`) before trying again."""
        ...

    def find_issue_by_label(self, project_key: str, label: str, also: Sequence[str] = ()) -> str | None:
        """The key of an issue of the project carrying `label` and every label in `also` (the
        oldest), or None."""
        ...

    def add_comment(self, issue_key: str, body: str) -> str:
        """Add a public plain-text comment; its id."""
        ...


def expected_fetch_calls(issue_count: int, worklog_totals: Iterable[int], page_size: int = 100) -> int:
    """The documented call count of `fetch_issues` (no retries), for tests and benchmarks."""
    pages = max(1, math.ceil(issue_count / page_size))
    follow_ups = sum(math.ceil(w / WORKLOG_PAGE) for w in worklog_totals if w > EMBEDDED_WORKLOG_LIMIT)
    return pages + follow_ups


SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"


class AtlassianJira:
    """JiraPort over atlassian-python-api, with our own paging, retries and timeouts."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        api_token: str | None = None,
        cloud: bool = True,
        page_size: int = 100,
        max_workers: int = 4,
        timeout: tuple[float, float] = (3.05, 20),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not 1 <= page_size <= 5000:
            raise ValueError("page_size must be between 1 and 5000")
        self.url = url.rstrip("/")
        self.cloud = cloud
        self.page_size = page_size
        self.max_workers = max(1, max_workers)
        self._user = user
        self._api_token = api_token
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._api = "3" if cloud else "2"
        self._local = threading.local()
        self._clients: list[Jira] = []
        self._clients_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._field_list: list[Any] | None = None

    # -- clients

    def _new_client(self) -> Jira:
        auth: dict[str, Any]
        if self.cloud:
            # Cloud: email + API token as basic auth.
            auth = {"username": self._user, "password": self._api_token}
        elif self._user:
            auth = {"username": self._user, "password": self._api_token}
        else:
            # Data Center personal access token (Bearer).
            auth = {"token": self._api_token}
        client = Jira(
            self.url,
            cloud=self.cloud,
            # We retry ourselves; the library would sleep up to 30 min on a 429.
            retry_with_header=False,
            backoff_and_retry=False,
            **auth,
        )
        # The constructor casts timeout to int; set (connect, read) afterwards.
        client.timeout = self._timeout  # type: ignore[assignment]  # typed int; requests takes (connect, read)
        return client

    def _client(self) -> Jira:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        """Stop the worker pool and close every HTTP session this adapter opened."""
        with self._clients_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()

    def __enter__(self) -> AtlassianJira:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- HTTP with retries

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            # A 200 with HTML is a login page or a proxy: not something a retry fixes.
            raise UpstreamError(
                SERVICE, f"expected JSON from {response.url.split('?')[0]}", retryable=False,
                status=response.status_code,
            ) from None

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        client = self._client()
        response = call_with_retries(
            SERVICE,
            lambda: _counted(client.get, path, params=dict(params or {}), advanced_mode=True),
            self._retry,
            self._sleep,
        )
        return self._json(response)

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        client = self._client()
        response = call_with_retries(
            SERVICE,
            lambda: _counted(client.post, path, data=dict(body), advanced_mode=True),
            self._retry,
            self._sleep,
        )
        return self._json(response)

    # -- search

    def search(self, jql: str, fields: Sequence[str] = ISSUE_FIELDS) -> Iterator[dict[str, Any]]:
        """Raw issue JSON for `jql`, page by page, asking only for `fields`."""
        if self.cloud:
            yield from self._search_cloud(jql, list(fields))
        else:
            yield from self._search_server(jql, list(fields))

    def _search_cloud(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            if len(jql) > MAX_GET_JQL:
                body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.page_size}
                if token:
                    body["nextPageToken"] = token
                page = self._post("rest/api/3/search/jql", body)
            else:
                params: dict[str, Any] = {"jql": jql, "fields": ",".join(fields), "maxResults": self.page_size}
                if token:
                    params["nextPageToken"] = token
                page = self._get("rest/api/3/search/jql", params)
            yield from page.get("issues") or []
            token = page.get("nextPageToken")
            # `isLast` is the contract; a missing token also ends it (the spec omits it on the
            # last page). A repeated token would loop forever: treat it as an upstream bug.
            if page.get("isLast", token is None) or not token:
                return
            if token in seen_tokens:
                raise UpstreamError(SERVICE, "search returned the same nextPageToken twice", retryable=False)
            seen_tokens.add(token)

    def _search_server(self, jql: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            page = self._get(
                "rest/api/2/search",
                {"jql": jql, "fields": ",".join(fields), "startAt": start, "maxResults": self.page_size},
            )
            issues = page.get("issues") or []
            yield from issues
            start += len(issues)
            # Server may cap maxResults below what we asked: trust `total`, stop on an empty page.
            if not issues or start >= int(page.get("total", 0)):
                return

    # -- worklogs

    def fetch_worklogs(self, issue_key: str) -> list[dict[str, Any]]:
        """All worklog JSON of one issue, following startAt paging."""
        logs: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._get(
                f"rest/api/{self._api}/issue/{issue_key}/worklog",
                {"startAt": start, "maxResults": WORKLOG_PAGE},
            )
            batch = page.get("worklogs") or []
            logs.extend(batch)
            start += len(batch)
            if not batch or start >= int(page.get("total", 0)):
                return logs

    def _submit(self, fn: Callable[[Any], Any], item: Any) -> Future[Any]:
        with self._clients_lock:
            # One long-lived pool: its threads keep their clients (and connections) between calls.
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="jira")
            pool = self._pool
        # Each task runs in a copy of the caller's context, so per-digest call counting holds.
        return pool.submit(contextvars.copy_context().run, fn, item)

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(item) for item in items]
        futures = [self._submit(fn, item) for item in items]
        return [f.result() for f in futures]

    def fetch_issues(self, jql: str) -> list[Issue]:
        """All issues matching `jql` with all their worklogs (see the call formula above)."""
        # Each page is parsed as it arrives, so its raw JSON can go (memory), and an issue's
        # worklog follow-up starts at once, overlapping the remaining search pages (wall time).
        issues: list[Issue | None] = []
        pending: list[tuple[int, dict[str, Any], Future[list[dict[str, Any]]] | None]] = []
        try:
            for raw in self.search(jql, ISSUE_FIELDS):
                if _needs_follow_up(raw):
                    # One worker: fetch follow-ups after the search, one by one, as before.
                    future = self._submit(self.fetch_worklogs, raw["key"]) if self.max_workers > 1 else None
                    pending.append((len(issues), raw, future))
                    issues.append(None)
                else:
                    issues.append(parse_issue(raw))
            for index, raw, future in pending:
                worklogs = future.result() if future is not None else self.fetch_worklogs(raw["key"])
                issues[index] = parse_issue(raw, worklogs)
        except BaseException:
            for _, _, future in pending:
                if future is not None:
                    future.cancel()
            raise
        return [issue for issue in issues if issue is not None]

    # -- versions

    def fetch_versions(self, project_key: str) -> list[Version]:
        """All versions of one project (one call; the endpoint is not paged)."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", project_key):
            raise ValueError(f"not a project key: {project_key!r}")
        raws = self._get(f"rest/api/{self._api}/project/{project_key}/versions")
        return [parse_version(v, project_key) for v in raws or []]

    def fetch_versions_for(self, project_keys: Sequence[str]) -> list[Version]:
        """Versions of several projects, fetched concurrently, in the order given."""
        per_project = self._map(self.fetch_versions, list(project_keys))
        return [v for versions in per_project for v in versions]

    # -- comments

    def comment(self, issue_key: str, comment_id: str) -> dict[str, Any] | None:
        """`GET rest/api/2/issue/{key}/comment/{id}?expand=properties` (v2 on Cloud too: only the
        flags are read, not the body); None on 404 (deleted, or not visible to the bot)."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", issue_key) or not re.fullmatch(r"\d+", comment_id):
            raise ValueError(f"not an issue key and comment id: {issue_key!r}, {comment_id!r}")
        try:
            return self._get(f"rest/api/2/issue/{issue_key}/comment/{comment_id}", {"expand": "properties"})
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise

    def _site_fields(self) -> list[Any]:
        """`GET rest/api/2/field`, once per adapter (the sprint and Organizations fields' ids
        differ per site and do not change while we run)."""
        with self._clients_lock:
            if self._field_list is not None:
                return self._field_list
        answer = self._get("rest/api/2/field")
        fields = answer if isinstance(answer, list) else []
        with self._clients_lock:
            self._field_list = fields
        return fields

    def _custom_field_ids(self, schema: str) -> list[str]:
        return [str(f["id"]) for f in self._site_fields() if isinstance(f, Mapping)
                and isinstance(f.get("schema"), Mapping) and f["schema"].get("custom") == schema and f.get("id")]

    def issue_comments(self, issue_key: str, last: int) -> list[dict[str, Any]]:
        """One call: `GET rest/api/2/issue/{key}/comment?orderBy=-created&maxResults=N&expand=properties`
        (v2 on Cloud too: plain-text bodies, no ADF), newest first from Jira, returned oldest first.
        The library's `issue_get_comments` asks for every comment, unordered and without properties."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", issue_key) or not 1 <= last <= 100:
            raise ValueError(f"not an issue key and count: {issue_key!r}, {last!r}")
        try:
            page = self._get(f"rest/api/2/issue/{issue_key}/comment",
                             {"orderBy": "-created", "maxResults": last, "expand": "properties"})
        except UpstreamError as exc:
            if exc.status == 404:
                return []
            raise
        comments = page.get("comments") if isinstance(page, Mapping) else None
        if not isinstance(comments, list):
            raise UpstreamError(SERVICE, f"comments of {issue_key}: unexpected answer", retryable=False)
        return list(reversed(comments[:last]))

    def sprint_field_id(self) -> str | None:
        """The field whose schema is Jira Software's sprint (`com.pyxis.greenhopper.jira:gh-sprint`)."""
        return next(iter(self._custom_field_ids(SPRINT_SCHEMA)), None)

    def organizations_field_id(self) -> str | None:
        """The one field whose schema is Service Desk's Organizations; None for none or several."""
        found = self._custom_field_ids(ORGANIZATIONS_SCHEMA)
        return found[0] if len(found) == 1 else None

    def issue_field_values(self, issue_key: str, field_ids: Sequence[str]) -> dict[str, Any] | None:
        """`GET rest/api/2/issue/{key}?fields=…`; None on 404."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", issue_key):
            raise ValueError(f"not an issue key: {issue_key!r}")
        try:
            answer = self._get(f"rest/api/2/issue/{issue_key}", {"fields": ",".join(field_ids)})
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise
        fields = answer.get("fields") if isinstance(answer, Mapping) else None
        return dict(fields) if isinstance(fields, Mapping) else {}

    def changelog(self, issue_key: str) -> list[dict[str, Any]]:
        """Cloud: `GET rest/api/3/issue/{key}/changelog`, paged; Server/Data Center (no such
        endpoint before 9.x): `GET rest/api/2/issue/{key}?expand=changelog`."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", issue_key):
            raise ValueError(f"not an issue key: {issue_key!r}")
        if not self.cloud:
            raw = self._get(f"rest/api/2/issue/{issue_key}", {"expand": "changelog", "fields": "created"})
            return list(((raw or {}).get("changelog") or {}).get("histories") or [])
        histories: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._get(f"rest/api/3/issue/{issue_key}/changelog", {"startAt": start, "maxResults": 100})
            values = page.get("values") or []
            histories.extend(values)
            start += len(values)
            if not values or page.get("isLast", start >= int(page.get("total", 0))):
                return histories

    # -- support requests

    def create_issue(self, fields: Mapping[str, Any]) -> str:
        """`POST rest/api/2/issue` (v2 on Cloud too: the description stays plain text, no ADF).
        One attempt: a create whose answer was lost may have happened, so a retry is the
        caller's find-then-create, never a second POST here."""
        client = self._client()
        response = call_with_retries(
            SERVICE,
            lambda: _counted(client.post, "rest/api/2/issue", data={"fields": dict(fields)}, advanced_mode=True),
            RetryPolicy(attempts=1),
            self._sleep,
            idempotent=False,
        )
        key = (self._json(response) or {}).get("key")
        if not isinstance(key, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", key):
            raise UpstreamError(SERVICE, "issue created without a key in the answer", retryable=True)
        return key

    def find_issue_by_label(self, project_key: str, label: str, also: Sequence[str] = ()) -> str | None:
        """One search page, keys only, oldest first."""
        labels = [label, *also]
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", project_key) or not all(re.fullmatch(r"[\w.-]+", x) for x in labels):
            raise ValueError(f"not a project key and labels: {project_key!r}, {labels!r}")
        clauses = " AND ".join(f'labels = "{x}"' for x in labels)
        for raw in self.search(f"project = {project_key} AND {clauses} ORDER BY created ASC", ["key"]):
            return str(raw["key"])
        return None

    def add_comment(self, issue_key: str, body: str) -> str:
        """`POST rest/api/2/issue/{key}/comment` (v2: a plain-text body), one attempt (a retry
        could comment twice)."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", issue_key):
            raise ValueError(f"not an issue key: {issue_key!r}")
        client = self._client()
        response = call_with_retries(
            SERVICE,
            lambda: _counted(client.post, f"rest/api/2/issue/{issue_key}/comment", data={"body": body},
                             advanced_mode=True),
            RetryPolicy(attempts=1),
            self._sleep,
            idempotent=False,
        )
        return str((self._json(response) or {}).get("id", ""))

    # -- checks (`pulse doctor`)

    def project(self, project_key: str) -> dict[str, Any]:
        """A project as `GET /project/{key}` returns it (404 when missing or not visible to us)."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", project_key):
            raise ValueError(f"not a project key: {project_key!r}")
        return self._get(f"rest/api/{self._api}/project/{project_key}")

    def count(self, jql: str) -> int:
        """How many issues match `jql`, fetching none; a query Jira cannot read is a 400 error."""
        if self.cloud:
            # Enhanced search has no total; approximate-count parses the JQL like a search does.
            return int(self._post("rest/api/3/search/approximate-count", {"jql": jql}).get("count", 0))
        page = self._get("rest/api/2/search", {"jql": jql, "fields": "key", "maxResults": 0})
        return int(page.get("total", 0))

    # -- boards

    def board_project(self, board_id: int) -> str | None:
        """The project key of a board's location (one call); None for a missing or user board."""
        board_id = _board_id(board_id)
        try:
            raw = self._get(f"rest/agile/1.0/board/{board_id}")
        except UpstreamError as err:
            # Jira answers 404 both for a deleted board and one we may not see: either way no
            # project to route to. Other failures (403, 5xx) stay errors the caller retries.
            if err.status == 404:
                return None
            raise
        return board_location_project(raw)


def _board_id(board_id: Any) -> int:
    if isinstance(board_id, bool) or not isinstance(board_id, (int, str)) or not str(board_id).isdigit():
        raise ValueError(f"not a board id: {board_id!r}")
    return int(board_id)


def board_location_project(raw: Any) -> str | None:
    """`location.projectKey` of a `GET /rest/agile/1.0/board/{id}` body, if the board has one."""
    location = raw.get("location") if isinstance(raw, Mapping) else None
    if not isinstance(location, Mapping):
        # Boards in a user's location (or old Server versions) carry no project.
        return None
    key = location.get("projectKey")
    return key if isinstance(key, str) and key else None


def _counted(send: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    record_call()
    return send(*args, **kwargs)


def _needs_follow_up(raw_issue: Mapping[str, Any]) -> bool:
    total, embedded = embedded_worklog_page(raw_issue)
    return total > embedded
