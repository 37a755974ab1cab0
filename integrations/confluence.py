"""Confluence behind a small port: publish a status page, updating it in place.

Cloud only, through the v2 REST API (`/wiki/api/v2`). We send the v2 bodies ourselves with the
library client's `get`/`post`/`put` because, in atlassian-python-api 5.0.5, `Confluence(cloud=True)`
has no create/update methods and its `get_page_by_title` builds a path without `rest/api` (404),
while `ConfluenceV2`'s space lookup swallows errors and returns nothing, which turns an
update-or-create into a duplicate page.

Calls per `publish_status_page`: 1 space lookup (cached per adapter) + 1 find by title +
1 create or 1 update (none when the stored body is already identical).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests
from atlassian.confluence import ConfluenceCloud

from integrations.upstream_errors import RetryPolicy, UpstreamError, call_with_retries

SERVICE = "confluence"

__all__ = ["AtlassianConfluence", "ConfluencePort", "InMemoryConfluence"]


class ConfluencePort(Protocol):
    """What Account Pulse needs from Confluence."""

    def publish_status_page(
        self, space_key: str, parent_id: str | None, title: str, storage_html: str
    ) -> str:
        """Create or update (in place, by title) a page; return its web URL."""
        ...


class AtlassianConfluence:
    """ConfluencePort over atlassian-python-api's Cloud client and the v2 pages API."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        api_token: str | None = None,
        timeout: tuple[float, float] = (3.05, 20),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        # Accept both the site ("https://x.atlassian.net") and the wiki ("…/wiki") URL.
        site = url.rstrip("/")
        if site.endswith("/wiki"):
            site = site[: -len("/wiki")]
        self.site = site
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._client = ConfluenceCloud(
            site,
            username=user,
            password=api_token,
            cloud=True,
            retry_with_header=False,
            backoff_and_retry=False,
        )
        # The constructor casts timeout to int; set (connect, read) afterwards.
        self._client.timeout = timeout
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
        with self._lock:
            space_id = self.space_id(space_key)
            page = self.find_page(space_id, title)
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

    def _update(self, page: Mapping[str, Any], title: str, storage_html: str, parent_id: str | None) -> Any:
        page_id = str(page["id"])
        number = int((page.get("version") or {}).get("number") or 1)
        body: dict[str, Any] = {
            "id": page_id,
            # v2 PUT requires status; without it Cloud answers 400.
            "status": "current",
            "title": title,
            "body": {"representation": "storage", "value": storage_html},
            "version": {"number": number + 1, "message": "Account Pulse status update"},
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


def _storage(page: Mapping[str, Any]) -> str | None:
    return ((page.get("body") or {}).get("storage") or {}).get("value")


class InMemoryConfluence:
    """ConfluencePort in memory: pages by (space, title), with version numbers."""

    def __init__(self, spaces: tuple[str, ...] | list[str] = (), *, error: UpstreamError | None = None):
        self.spaces = set(spaces)
        self.error = error
        # (space_key, title) -> {"id", "parent_id", "html", "version"}
        self.pages: dict[tuple[str, str], dict[str, Any]] = {}

    def publish_status_page(
        self, space_key: str, parent_id: str | None, title: str, storage_html: str
    ) -> str:
        if self.error is not None:
            raise self.error
        if self.spaces and space_key not in self.spaces:
            raise UpstreamError(SERVICE, f"space {space_key!r} not found", retryable=False, status=404)
        page = self.pages.get((space_key, title))
        if page is None:
            page = {"id": str(100000 + len(self.pages)), "parent_id": parent_id, "html": storage_html, "version": 1}
            self.pages[(space_key, title)] = page
        elif page["html"] != storage_html:
            page.update(html=storage_html, version=page["version"] + 1)
        return f"https://confluence.invalid/wiki/spaces/{space_key}/pages/{page['id']}"
