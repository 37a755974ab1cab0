"""Links in messages: built from the configured sites (JIRA_URL, CONFLUENCE_URL), never from a payload.

A payload's `self` URL may name another host than the site people use (Jira Cloud sends
`https://api.atlassian.com/ex/jira/<cloudId>/…` to apps), and anyone who can post a body with a
valid signature would choose where a client is sent. So links are the configured site plus the
issue key or content id; a payload whose `self` names another host is reported
(`foreign_self_urls`) for the caller to log as anomalous, and its message links to the site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.events import ConfluenceEvent, Event
from bot.domain.work import ISSUE_KEY

CONTENT_ID = re.compile(r"[0-9]+")
PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
SPACE_KEY = re.compile(r"~?[A-Za-z0-9_]+")


def _host(url: str | None) -> str | None:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    return parts.netloc.casefold() or None


@dataclass(frozen=True, slots=True)
class SiteLinks:
    """The configured Jira and Confluence sites (None: no links to that product)."""

    jira: str | None = None  # https://acme.atlassian.net, or https://host/jira (Server context path)
    confluence: str | None = None  # https://acme.atlassian.net/wiki

    def issue(self, key: str | None) -> str | None:
        """The browse link of an issue key, or None (no site, or not a key)."""
        if not self.jira or not key or not ISSUE_KEY.fullmatch(key):
            return None
        return f"{self.jira.rstrip('/')}/browse/{key}"

    def content(self, content_id: str | None) -> str | None:
        """The link of a Confluence page or blog post by id (works on Cloud and Data Center)."""
        if not self.confluence or not content_id or not CONTENT_ID.fullmatch(content_id):
            return None
        return f"{self.confluence.rstrip('/')}/pages/viewpage.action?pageId={content_id}"

    def project(self, key: str | None) -> str | None:
        """A Jira project's page (its board on Cloud and Data Center), or None."""
        if not self.jira or not key or not PROJECT_KEY.fullmatch(key):
            return None
        return f"{self.jira.rstrip('/')}/browse/{key}"

    def space(self, key: str | None) -> str | None:
        """A Confluence space's home (`/display/KEY` works on Cloud and Data Center), or None."""
        if not self.confluence or not key or not SPACE_KEY.fullmatch(key):
            return None
        return f"{self.confluence.rstrip('/')}/display/{key}"

    def foreign_self_urls(self, event: Event) -> list[tuple[str, str]]:
        """(field, host) of the event's payload `self` URLs that name a host other than the
        configured site of their product (none when that site is not configured: no links)."""
        site = _host(self.confluence if isinstance(event, ConfluenceEvent) else self.jira)
        if site is None:
            return []
        out = []
        for field, url in event.self_urls:
            host = _host(url)
            if host != site:
                out.append((field, host or url[:100]))
        return out
