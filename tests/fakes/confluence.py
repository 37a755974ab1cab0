"""`InMemoryConfluence`: the Confluence port in memory, for service tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from integrations.confluence import SERVICE, _content_id
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
