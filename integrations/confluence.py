"""Confluence behind a small port: publish a status page, and read one content object.

Status pages: Cloud only, through the v2 REST API (`/wiki/api/v2`). We send the v2 bodies
ourselves with the library client's `get`/`post`/`put` because, in atlassian-python-api 5.0.5, `Confluence(cloud=True)`
has no create/update methods and its `get_page_by_title` builds a path without `rest/api` (404),
while `ConfluenceV2`'s space lookup swallows errors and returns nothing, which turns an
update-or-create into a duplicate page.

Calls per `publish_status_page`: 1 space lookup (cached per adapter) + 1 find by title +
1 create or 1 update (none when the stored body is already identical).

Handover pages (internal, in the agency's own space; Cloud v2 like status pages, bodies sent
ourselves): `create_page` = 1 space lookup (cached) + 1 `GET pages/{parent}` (the parent must lie
in that space: a page never lands in another, possibly a client's, space) + 1 `POST pages`, sent
once (never retried in-line: the caller looks the page up by title before creating again);
`find_page_under` = 1 `GET pages?space-id&title`; `update_page` = 1 `GET pages/{id}` (the current
version) + 1 `PUT pages/{id}` with version + 1 (a 409 re-reads once).

Content (what a Data Center webhook names only by id): one call, the v1 API that Cloud and Data
Center share, `GET rest/api/content/{id}?expand=space,version,container` (under `/wiki` on
Cloud), asking for current and trashed content so `*_trashed` events still find their page.

View restrictions (`read_restricted`), same v1 API: 1 call `GET rest/api/content/{id}?expand=
ancestors,container,restrictions.read.restrictions.user,restrictions.read.restrictions.group`,
then 1 `GET rest/api/content/{ancestor}/restriction/byOperation/read` per ancestor page, nearest
first, stopping at the first restriction found; a comment has no restrictions of its own, so its
page is checked the same way (1 more call + its ancestors). The spec documents no expansion of
the ancestors' restrictions, so a page at depth d costs at most 1 + d calls. Whatever cannot be
read (403/404: Confluence hides content the bot may not view; an unexpected shape) counts as
restricted: the answer decides what a client may see, so doubt withholds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from atlassian.confluence import Confluence, ConfluenceCloud

from integrations.upstream_errors import RetryPolicy, UpstreamError, call_with_retries

SERVICE = "confluence"

__all__ = ["AtlassianConfluence", "ConfluencePort", "PageRef"]


@dataclass(frozen=True)
class PageRef:
    """A Confluence page as written or found: its id, version number and parent."""

    id: str
    version: int
    parent_id: str | None = None


class ConfluencePort(Protocol):
    """What Account Pulse needs from Confluence."""

    def publish_status_page(
        self, space_key: str, parent_id: str | None, title: str, storage_html: str
    ) -> str:
        """Create or update (in place, by title) a page; return its web URL."""
        ...

    def find_page_under(self, space_key: str, parent_id: str, title: str) -> PageRef | None:
        """The current page with exactly this title in the space (titles are unique in a space),
        or None; its `parent_id` says where it sits now (someone may have moved it)."""
        ...

    def create_page(self, space_key: str, parent_id: str, title: str, storage_html: str) -> PageRef:
        """Create a page under `parent_id` (a page of that space), sent once: after a failure the
        caller looks it up (`find_page_under`) before creating again."""
        ...

    def update_page(self, page_id: str, title: str, storage_html: str) -> PageRef:
        """Rewrite a page in place (version + 1)."""
        ...

    def content(self, content_id: str) -> dict[str, Any] | None:
        """The v1 content object (space, version and container expanded) of a page, blog post or
        comment; None when it does not exist or is not visible to us."""
        ...

    def read_restricted(self, content_id: str) -> bool:
        """True when the content (a comment: its page) or any ancestor page has a view (read)
        restriction, or when that cannot be read; False only when all are known unrestricted."""
        ...

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The user object (`displayName`, `email` when visible…) of a webhook's actor: by account
        id on Cloud, by user key on Data Center; None when unknown or not visible to us."""
        ...


CONTENT_EXPAND = "space,version,container"
# Trashed content is found only when asked for; `*_trashed` webhooks arrive after the move.
CONTENT_STATUSES = ("current", "trashed")
RESTRICTIONS_EXPAND = (
    "ancestors,container,restrictions.read.restrictions.user,restrictions.read.restrictions.group"
)
OPERATION_EXPAND = "restrictions.user,restrictions.group"
# Content types whose restrictions count: a comment's are those of its container page/blog post.
RESTRICTABLE_TYPES = frozenset({"page", "blogpost"})


def has_read_restriction(restriction: Any) -> bool | None:
    """Whether a v1 `ContentRestriction` (operation read) names any user or group; None when its
    users or groups were not expanded (unknown)."""
    if not isinstance(restriction, Mapping):
        return None
    lists = restriction.get("restrictions")
    if not isinstance(lists, Mapping):
        return None
    for kind in ("user", "group"):
        found = lists.get(kind)
        if not isinstance(found, Mapping) or not isinstance(found.get("results"), list):
            return None
        size = found.get("size", 0)
        if found["results"] or (isinstance(size, int) and size > 0):
            return True
        if not isinstance(size, int) or size != 0:
            return None  # a size we cannot read (null, "3"): not known to be empty
    return False


class AtlassianConfluence:
    """ConfluencePort over atlassian-python-api: Cloud (v2 pages, v1 content) or Data Center
    (`cloud=False`: v1 content only; status pages need Cloud)."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        api_token: str | None = None,
        cloud: bool = True,
        timeout: tuple[float, float] = (3.05, 20),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        site = url.rstrip("/")
        # Cloud: accept both the site ("https://x.atlassian.net") and the wiki ("…/wiki") URL.
        # Data Center: keep the URL whole, its path is the context path (often "/confluence").
        if cloud and site.endswith("/wiki"):
            site = site[: -len("/wiki")]
        self.site = site
        self.cloud = cloud
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        common: dict[str, Any] = {"retry_with_header": False, "backoff_and_retry": False}
        self._client: Confluence | ConfluenceCloud
        if cloud:
            self._client = ConfluenceCloud(site, username=user, password=api_token, cloud=True, **common)
        elif user:
            self._client = Confluence(site, username=user, password=api_token, cloud=False, **common)
        else:
            # Data Center personal access token (Bearer).
            self._client = Confluence(site, token=api_token, cloud=False, **common)
        # The constructor casts timeout to int; set (connect, read) afterwards.
        self._client.timeout = timeout  # type: ignore[assignment]  # typed int; requests takes (connect, read)
        # One requests.Session per client, not thread-safe: serialise our calls.
        self._lock = threading.Lock()
        self._space_ids: dict[str, str] = {}

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()

    # -- HTTP

    def _call(self, send: Callable[[], requests.Response], *, idempotent: bool = True) -> Any:
        response = call_with_retries(SERVICE, send, self._retry, self._sleep, idempotent=idempotent)
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(SERVICE, "expected JSON", retryable=False, status=response.status_code) from None

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call(lambda: self._client.get(path, params=dict(params or {}), advanced_mode=True))

    # -- pages

    def space_id(self, space_key: str) -> str:
        """The v2 space id of a space key (cached); fails loudly when the space is missing."""
        cached = self._space_ids.get(space_key)
        if cached:
            return cached
        found = self._get("wiki/api/v2/spaces", {"keys": space_key, "limit": 1})
        results = [s for s in found.get("results") or [] if s.get("key") == space_key]
        if not results:
            # Never fall through to "create": an unknown space must not become a new page elsewhere.
            raise UpstreamError(SERVICE, f"space {space_key!r} not found or not visible", retryable=False, status=404)
        self._space_ids[space_key] = str(results[0]["id"])
        return self._space_ids[space_key]

    def space(self, space_key: str) -> dict[str, Any]:
        """A space by key (Cloud: v2 `spaces?keys=`; Data Center: v1 `space/{key}`); an
        UpstreamError with status 404 when it is missing or not visible to the bot."""
        if self.cloud:
            space_id = self.space_id(space_key)
            return {"id": space_id, "key": space_key}
        return self._get(f"rest/api/space/{space_key}")

    def find_page(self, space_id: str, title: str) -> dict[str, Any] | None:
        """The current page with exactly this title in the space (with its storage body), or None."""
        found = self._get(
            "wiki/api/v2/pages",
            {"space-id": space_id, "title": title, "status": "current", "body-format": "storage", "limit": 5},
        )
        pages = [p for p in found.get("results") or [] if p.get("title") == title]
        if not pages:
            return None
        page = dict(pages[0])
        base = (found.get("_links") or {}).get("base")
        if base:
            # List results carry the site base once, at the top; keep it for the page URL.
            page["_links"] = {**(page.get("_links") or {}), "base": base}
        return page

    def publish_status_page(
        self, space_key: str, parent_id: str | None, title: str, storage_html: str
    ) -> str:
        """Create the page, or update the one with this title (version + 1); return its URL."""
        if not self.cloud:
            raise UpstreamError(SERVICE, "status pages need Confluence Cloud (v2 pages API)", retryable=False)
        with self._lock:
            space_id = self.space_id(space_key)
            page: Any = self.find_page(space_id, title)  # then the API's answer
            if page is None:
                body: dict[str, Any] = {
                    "spaceId": space_id,
                    "status": "current",
                    "title": title,
                    "body": {"representation": "storage", "value": storage_html},
                }
                if parent_id:
                    body["parentId"] = str(parent_id)
                page = self._call(
                    lambda: self._client.post("wiki/api/v2/pages", data=body, advanced_mode=True),
                    idempotent=False,
                )
            elif _storage(page) != storage_html:
                page = self._update(page, title, storage_html, parent_id)
            return self._web_url(page)

    # -- handover pages

    def _need_cloud(self) -> None:
        if not self.cloud:
            raise UpstreamError(SERVICE, "handover pages need Confluence Cloud (v2 pages API)", retryable=False)

    def page(self, page_id: str) -> dict[str, Any]:
        """1 call: a page by id (`GET pages/{id}`: its `spaceId`, `title`, `parentId`); an
        UpstreamError with status 404 when it is missing or not visible to the bot."""
        self._need_cloud()
        page_id = _content_id(page_id)
        with self._lock:
            found = self._get(f"wiki/api/v2/pages/{page_id}")
        if not isinstance(found, dict):
            raise UpstreamError(SERVICE, f"page {page_id}: expected a JSON object", retryable=False)
        return found

    def find_page_under(self, space_key: str, parent_id: str, title: str) -> PageRef | None:
        """1 call (the space id is cached): the page of this title in the space, or None."""
        self._need_cloud()
        with self._lock:
            page = self.find_page(self.space_id(space_key), title)
        return _page_ref(page) if page is not None else None

    def create_page(self, space_key: str, parent_id: str, title: str, storage_html: str) -> PageRef:
        """`GET pages/{parent}` (it must be in the space), then one `POST pages`, never retried."""
        self._need_cloud()
        parent_id = _content_id(parent_id)
        with self._lock:
            space_id = self.space_id(space_key)
            parent = self._get(f"wiki/api/v2/pages/{parent_id}")
            if not isinstance(parent, Mapping) or str(parent.get("spaceId")) != space_id:
                raise UpstreamError(SERVICE, f"parent page {parent_id} is not in space {space_key}", retryable=False)
            body = {
                "spaceId": space_id,
                "status": "current",
                "title": title,
                "parentId": parent_id,
                "body": {"representation": "storage", "value": storage_html},
            }
            client = self._client
            response = call_with_retries(
                SERVICE, lambda: client.post("wiki/api/v2/pages", data=body, advanced_mode=True),
                RetryPolicy(attempts=1), self._sleep, idempotent=False,
            )
            try:
                return _page_ref(response.json())
            except (ValueError, KeyError, TypeError):
                # Created or not, we cannot tell from this answer: the caller looks it up.
                raise UpstreamError(SERVICE, "page created without a readable answer", retryable=True) from None

    def update_page(self, page_id: str, title: str, storage_html: str) -> PageRef:
        """`GET pages/{id}` for the version, then `PUT` with version + 1 (a 409 re-reads once)."""
        self._need_cloud()
        page_id = _content_id(page_id)
        with self._lock:
            current = self._get(f"wiki/api/v2/pages/{page_id}")
            return _page_ref(self._update(current, title, storage_html, None, "Account Pulse handover update"))

    def content(self, content_id: str) -> dict[str, Any] | None:
        """One call: the v1 content object, current or trashed; None on 404 (gone or not visible)."""
        content_id = _content_id(content_id)
        path = f"{'wiki/' if self.cloud else ''}rest/api/content/{content_id}"
        # Confluence answers 404 alike for missing content and content we may not view.
        params = {"expand": CONTENT_EXPAND, "status": list(CONTENT_STATUSES)}
        return self._object_or_none(path, params, f"content {content_id}")

    def user(self, user_id: str) -> dict[str, Any] | None:
        """One call: `GET rest/api/user?key=` (Data Center) or `?accountId=` (Cloud); None on 404."""
        path, param = ("wiki/rest/api/user", "accountId") if self.cloud else ("rest/api/user", "key")
        return self._object_or_none(path, {param: str(user_id)}, f"user {user_id}")

    def _object_or_none(self, path: str, params: Mapping[str, Any], what: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                found = self._get(path, params)
            except UpstreamError as err:
                if err.status == 404:
                    return None
                raise
        if not isinstance(found, dict):
            raise UpstreamError(SERVICE, f"{what}: expected a JSON object", retryable=False)
        return found

    def read_restricted(self, content_id: str) -> bool:
        """1 call, plus 1 per ancestor page (nearest first, stopping at the first restriction);
        a comment adds its page's calls. 403/404 and unexpected shapes count as restricted."""
        content_id = _content_id(content_id)
        with self._lock:
            return self._read_restricted(content_id, comment_hops=0)

    def _read_restricted(self, content_id: str, comment_hops: int) -> bool:
        prefix = "wiki/" if self.cloud else ""
        try:
            found = self._get(
                f"{prefix}rest/api/content/{content_id}",
                {"expand": RESTRICTIONS_EXPAND, "status": list(CONTENT_STATUSES)},
            )
        except UpstreamError as err:
            if err.status in (403, 404):
                return True  # the bot may not view it: the client surely may not either
            raise
        if not isinstance(found, Mapping):
            return True
        if found.get("type") == "comment":
            container = found.get("container")
            if not isinstance(container, Mapping):
                return True
            page_id = container.get("id")
            if comment_hops or not isinstance(page_id, (str, int)) or not str(page_id).isdigit():
                return True
            if container.get("type") not in RESTRICTABLE_TYPES:
                return True
            return self._read_restricted(str(page_id), comment_hops + 1)
        own = has_read_restriction((found.get("restrictions") or {}).get("read"))
        if own is not False:
            return True
        ancestors = found.get("ancestors")
        if not isinstance(ancestors, list):
            return True  # not expanded: unknown, so not cleared
        # Confluence lists ancestors root first; the nearest parent is the likeliest restricted.
        for ancestor in reversed(ancestors):
            ancestor_id = ancestor.get("id") if isinstance(ancestor, Mapping) else None
            if not isinstance(ancestor_id, (str, int)) or not str(ancestor_id).isdigit():
                return True
            try:
                read = self._get(
                    f"{prefix}rest/api/content/{ancestor_id}/restriction/byOperation/read",
                    {"expand": OPERATION_EXPAND},
                )
            except UpstreamError as err:
                if err.status in (403, 404):
                    return True
                raise
            if has_read_restriction(read) is not False:
                return True
        return False

    def _update(
        self, page: Mapping[str, Any], title: str, storage_html: str, parent_id: str | None,
        message: str = "Account Pulse status update",
    ) -> Any:
        page_id = str(page["id"])
        number = int((page.get("version") or {}).get("number") or 1)
        body: dict[str, Any] = {
            "id": page_id,
            # v2 PUT requires status; without it Cloud answers 400.
            "status": "current",
            "title": title,
            "body": {"representation": "storage", "value": storage_html},
            "version": {"number": number + 1, "message": message},
        }
        if parent_id:
            body["parentId"] = str(parent_id)
        try:
            return self._call(lambda: self._client.put(f"wiki/api/v2/pages/{page_id}", data=body, advanced_mode=True))
        except UpstreamError as err:
            if err.status != 409:
                raise
        # Someone edited the page between our read and write: re-read the version once and retry.
        current = self._get(f"wiki/api/v2/pages/{page_id}")
        body["version"]["number"] = int(current["version"]["number"]) + 1
        return self._call(lambda: self._client.put(f"wiki/api/v2/pages/{page_id}", data=body, advanced_mode=True))

    def _web_url(self, page: Mapping[str, Any]) -> str:
        links = page.get("_links") or {}
        base = links.get("base") or f"{self.site}/wiki"
        return base.rstrip("/") + links.get("webui", f"/pages/{page['id']}")


def _content_id(content_id: Any) -> str:
    text = str(content_id)
    if isinstance(content_id, bool) or not text.isdigit():
        raise ValueError(f"not a content id: {content_id!r}")
    return text


def _page_ref(page: Any) -> PageRef:
    parent = page.get("parentId")
    return PageRef(id=_content_id(page["id"]), version=int((page.get("version") or {}).get("number") or 1),
                   parent_id=str(parent) if parent else None)


def _storage(page: Mapping[str, Any]) -> str | None:
    return ((page.get("body") or {}).get("storage") or {}).get("value")
