"""Confluence webhook bodies (Cloud and Data Center) → internal events.

The two flavours differ a lot:
- Data Center sends `{"event": "page_created", "userKey": …, "page": {"id": …}}`: ids only. The
  worker fetches the content (`ConfluencePort.content`: `GET /rest/api/content/{id}?expand=space,
  version,container`) and `enrich`es the event from it, and the user (`ConfluencePort.user`:
  `GET /rest/api/user?key=`) to `name_actor`.
- Cloud sends `{"userAccountId": …, "page": {"spaceKey", "title", "self", "version"…}}` (the
  actor's name is looked up by account id, `GET /wiki/rest/api/user?accountId=`) and no
  event name at all: it is only in the webhook registration, so the caller passes it as
  `event_hint` (from the webhook URL). Trashed, restored and removed bodies are byte-identical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bot.domain.events import ConfluenceEvent, EventType, NormalizedDelivery, Outcome, Person, Source
from bot.domain.payload import Payload, person
from bot.domain.payload import mapping as _dict
from bot.domain.payload import text as _str

# Confluence event name → internal type, or the outcome IGNORED / UNSUPPORTED.
CONFLUENCE_WEBHOOKS: dict[str, EventType | Outcome] = {
    "page_created": EventType.PAGE_CREATED,
    "page_updated": EventType.PAGE_UPDATED,
    "page_trashed": EventType.PAGE_TRASHED,
    "page_restored": EventType.PAGE_RESTORED,
    "page_removed": EventType.PAGE_REMOVED,
    "page_moved": EventType.PAGE_MOVED,
    "blog_created": EventType.BLOG_CREATED,
    "blog_updated": EventType.BLOG_UPDATED,
    "blog_trashed": EventType.BLOG_TRASHED,
    "blog_restored": EventType.BLOG_RESTORED,
    "blog_removed": EventType.BLOG_REMOVED,
    "comment_created": EventType.PAGE_COMMENT_CREATED,
    "comment_updated": EventType.PAGE_COMMENT_UPDATED,
    "comment_removed": EventType.PAGE_COMMENT_REMOVED,
    # Generic content_* events repeat page_/blog_ ones and fire for app content properties.
    "content_created": Outcome.IGNORED,
    "content_updated": Outcome.IGNORED,
    "content_removed": Outcome.IGNORED,
    "content_restored": Outcome.IGNORED,
    "content_trashed": Outcome.IGNORED,
    "page_children_reordered": Outcome.IGNORED,
    "page_viewed": Outcome.IGNORED,
    "blog_viewed": Outcome.IGNORED,
    "label_added": Outcome.IGNORED,
    "label_removed": Outcome.IGNORED,
    "label_created": Outcome.IGNORED,
    "label_deleted": Outcome.IGNORED,
    "user_followed": Outcome.IGNORED,
    "page_archived": Outcome.UNSUPPORTED,
    "page_unarchived": Outcome.UNSUPPORTED,
    "attachment_created": Outcome.UNSUPPORTED,
    "space_created": Outcome.UNSUPPORTED,
    "space_updated": Outcome.UNSUPPORTED,
}

_CONTENT_KEYS = ("page", "blog", "comment")
_CONTENT_PROPERTY = "content-property"


def _is_content_property(payload: Payload) -> bool:
    return _CONTENT_PROPERTY in str(payload.get("type") or "") and isinstance(payload.get("space"), Mapping)


def detect(payload: Payload) -> Source | None:
    """CONFLUENCE_DC, CONFLUENCE_CLOUD, or None when the body is not from Confluence."""
    if isinstance(payload.get("event"), str) and "userKey" in payload:
        return Source.CONFLUENCE_DC
    if "userAccountId" in payload and any(k in payload for k in (*_CONTENT_KEYS, "space", "label", "attachment")):
        return Source.CONFLUENCE_CLOUD
    if _is_content_property(payload):
        return Source.CONFLUENCE_CLOUD
    return None


def normalize_confluence(payload: Payload, source: Source, event_hint: str | None) -> NormalizedDelivery:
    """A Confluence body whose source `detect` found, as a NormalizedDelivery."""
    if source is Source.CONFLUENCE_DC:
        name: str | None = str(payload["event"])
    else:
        name = (event_hint or "").strip().lower().removeprefix("confluence:") or None
    if _is_content_property(payload):
        # The object of a content_* event for app metadata (content properties), not a page.
        return NormalizedDelivery(source, Outcome.IGNORED, name, (), "content property change")
    if name is None:
        return NormalizedDelivery(
            source, Outcome.UNSUPPORTED, None, (),
            "Confluence Cloud body without event name: pass it from the webhook URL as event_hint",
        )
    entry = CONFLUENCE_WEBHOOKS.get(name, Outcome.UNSUPPORTED)
    if entry is Outcome.IGNORED:
        return NormalizedDelivery(source, Outcome.IGNORED, name, (), f"{name} is not notified")
    if entry is Outcome.UNSUPPORTED:
        return NormalizedDelivery(source, Outcome.UNSUPPORTED, name, (), f"no formatter for {name}")
    assert isinstance(entry, EventType)
    content_key = content_key_of(entry)
    content = _dict(payload.get(content_key))
    if not content:
        return NormalizedDelivery(source, Outcome.ANOMALOUS, name, (), f"{name} without a {content_key!r} object")
    return NormalizedDelivery(source, Outcome.HANDLED, name, (_event(payload, source, name, entry, content),))


def content_key_of(type_: EventType) -> str:
    """Where a body of this event type carries its content: "page", "blog" or "comment"."""
    if type_.value.startswith("page_comment"):
        return "comment"
    return "blog" if type_.value.startswith("blog") else "page"


def _event(payload: Payload, source: Source, name: str, type_: EventType, content: Mapping[str, Any]) -> ConfluenceEvent:
    ts = payload.get("timestamp")
    if source is Source.CONFLUENCE_DC:
        actor = Person(key=_str(payload.get("userKey")))
        return ConfluenceEvent(
            type=type_, source=source, webhook_event=name, content_id=_str(content.get("id")),
            timestamp_ms=ts if isinstance(ts, int) else None, actor=actor,
            old_parent_id=_str(_dict(payload.get("oldParent")).get("id")),
        )
    parent = _dict(content.get("parent"))
    version = content.get("version")
    return ConfluenceEvent(
        type=type_, source=source, webhook_event=name, content_id=_str(content.get("id")),
        timestamp_ms=ts if isinstance(ts, int) else None,
        actor=Person(account_id=_str(payload.get("userAccountId"))),
        space_key=_str(content.get("spaceKey")),
        title=_str(content.get("title")),
        self_urls=((f"{content_key_of(type_)}.self", str(content["self"])),) if _str(content.get("self")) else (),
        version=version if isinstance(version, int) else None,
        parent_title=_str(parent.get("title")),
        page_id=_str(parent.get("id")) if type_.value.startswith("page_comment") else None,
        old_parent_id=_str(_dict(payload.get("oldParent")).get("id")),
    )


def name_actor(event: ConfluenceEvent, user: Mapping[str, Any]) -> ConfluenceEvent:
    """The event with its actor as `GET /rest/api/user` describes them (name, email)."""
    found = person(user)
    if found is None or found.display_name is None:
        return event
    actor = event.actor
    return dataclasses.replace(
        event,
        actor=dataclasses.replace(
            found,
            key=found.key or (actor.key if actor else None),
            account_id=found.account_id or (actor.account_id if actor else None),
        ),
    )


def enrich(event: ConfluenceEvent, content: Mapping[str, Any], user: Mapping[str, Any] | None = None) -> ConfluenceEvent:
    """Fill a Data Center event from `GET /rest/api/content/{id}` (and `GET /rest/api/user`)."""
    version = _dict(content.get("version"))
    container = _dict(content.get("container"))
    if user:
        event = name_actor(event, user)
    actor = event.actor
    if actor is not None and actor.display_name is None:
        by = person(version.get("by"))
        # Only trust the last editor as the actor when the keys match.
        if by is not None and by.key and by.key == actor.key:
            actor = by
    number = version.get("number")
    return dataclasses.replace(
        event,
        space_key=_str(_dict(content.get("space")).get("key")) or event.space_key,
        title=_str(content.get("title")) or event.title,
        version=number if isinstance(number, int) else event.version,
        parent_title=_str(container.get("title")) or event.parent_title,
        page_id=(_str(container.get("id")) or event.page_id) if event.type.value.startswith("page_comment") else None,
        actor=actor,
    )
