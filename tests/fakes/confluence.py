"""`InMemoryConfluence`: the Confluence port in memory, for service tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from integrations.confluence import SERVICE, PageRef, _content_id
from integrations.upstream_errors import UpstreamError


class InMemoryConfluence:
    """ConfluencePort in memory: pages by (space, title), with version numbers."""

    def __init__(
        self,
        spaces: tuple[str, ...] | list[str] = (),
        *,
        contents: Mapping[str, Mapping[str, Any]] | None = None,
        read_restrictions: Mapping[str, bool] | None = None,
        parents: Mapping[str, str] | None = None,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        error: UpstreamError | None = None,
    ):
        self.spaces = set(spaces)
        # Content id -> v1 content object, as `content` returns it (e.g. a real API response).
        self.contents: dict[str, Mapping[str, Any]] = {str(k): v for k, v in (contents or {}).items()}
        # Content id -> whether it has its own view restriction; a content id missing here is
        # treated like a 404 (restricted). Parents (content id -> parent page or, for a comment,
        # its page) carry restrictions down, as Confluence inherits them.
        self.read_restrictions: dict[str, bool] = {str(k): bool(v) for k, v in (read_restrictions or {}).items()}
        self.parents: dict[str, str] = {str(k): str(v) for k, v in (parents or {}).items()}
        # User key (Data Center) or account id (Cloud) -> user object, as `user` returns it.
        self.users: dict[str, Mapping[str, Any]] = dict(users or {})
        # Content id -> the error its restriction lookup raises (one failing id among others).
        self.restriction_errors: dict[str, Exception] = {}
        self.error = error
        self.calls: list[tuple[str, str]] = []
        # (space_key, title) -> {"id", "parent_id", "html", "version"}
        self.pages: dict[tuple[str, str], dict[str, Any]] = {}
        # Page id -> the space it is in, for parents given by id (`create_page` checks the space).
        self.page_spaces: dict[str, str] = {}
        # Create the page, then fail as if the answer was lost on the way back (a crash/timeout).
        self.lose_create_answers = 0

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

    def _page(self, space_key: str, title: str) -> PageRef | None:
        page = self.pages.get((space_key, title))
        return PageRef(page["id"], page["version"], page["parent_id"]) if page else None

    def find_page_under(self, space_key: str, parent_id: str, title: str) -> PageRef | None:
        self.calls.append(("find_page_under", title))
        if self.error is not None:
            raise self.error
        return self._page(space_key, title)

    def create_page(self, space_key: str, parent_id: str, title: str, storage_html: str) -> PageRef:
        self.calls.append(("create_page", title))
        if self.error is not None:
            raise self.error
        if self.page_spaces.get(str(parent_id)) != space_key:
            raise UpstreamError(SERVICE, f"parent page {parent_id} is not in space {space_key}", retryable=False)
        if (space_key, title) in self.pages:
            # Confluence refuses a second page with one title in a space.
            raise UpstreamError(SERVICE, "A page with this title already exists", retryable=False, status=400)
        page_id = str(100000 + len(self.page_spaces))
        self.pages[(space_key, title)] = {"id": page_id, "parent_id": str(parent_id), "html": storage_html,
                                          "version": 1}
        self.page_spaces[page_id] = space_key
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            raise UpstreamError(SERVICE, "read timed out after the page was created", retryable=True)
        return PageRef(page_id, 1, str(parent_id))

    def update_page(self, page_id: str, title: str, storage_html: str) -> PageRef:
        self.calls.append(("update_page", page_id))
        if self.error is not None:
            raise self.error
        key, page = next(((k, p) for k, p in self.pages.items() if p["id"] == page_id), (None, None))
        if key is None or page is None:
            raise UpstreamError(SERVICE, "Not Found", retryable=False, status=404)
        del self.pages[key]
        page.update(html=storage_html, version=page["version"] + 1)
        self.pages[(key[0], title)] = page
        return PageRef(page_id, page["version"], page["parent_id"])

    def content(self, content_id: str) -> dict[str, Any] | None:
        content_id = _content_id(content_id)
        self.calls.append(("content", content_id))
        if self.error is not None:
            raise self.error
        found = self.contents.get(content_id)
        return copy.deepcopy(dict(found)) if found is not None else None

    def user(self, user_id: str) -> dict[str, Any] | None:
        self.calls.append(("user", str(user_id)))
        if self.error is not None:
            raise self.error
        found = self.users.get(str(user_id))
        return copy.deepcopy(dict(found)) if found is not None else None

    def read_restricted(self, content_id: str) -> bool:
        content_id = _content_id(content_id)
        self.calls.append(("read_restricted", content_id))
        if self.error is not None:
            raise self.error
        if content_id in self.restriction_errors:
            raise self.restriction_errors[content_id]
        seen: set[str] = set()
        current: str | None = content_id
        while current is not None and current not in seen:
            seen.add(current)
            if self.read_restrictions.get(current, True):
                return True
            current = self.parents.get(current)
        return False
