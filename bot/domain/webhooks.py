"""A webhook body (text or JSON values) → a `NormalizedDelivery`: which product sent it, and its events.

The one entry for every reader of deliveries (the inbox worker, `pulse replay-webhook`, tests): it
detects the source and hands the body to the Jira or Confluence parser, then checks every event's
shape, so a body it cannot use becomes `anomalous` instead of an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain import confluence_events, jira_events
from bot.domain.event_shape import IllShapedEvent, check_event
from bot.domain.events import NormalizedDelivery, Outcome, Source
from bot.domain.payload import without_nul

# How much of an exception's message an anomalous reason keeps (it may quote the payload).
_REASON_CHARS = 200


class UnreadableBody(ValueError):
    """A stored webhook body that is not JSON we can read; `reason` says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _replace_nul(node: Any) -> Any:
    if isinstance(node, str):
        return without_nul(node)
    if isinstance(node, dict):
        return {without_nul(k): _replace_nul(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_nul(v) for v in node]
    return node


def parse_body(body: str) -> Any:
    """A webhook body as JSON values (NUL replaced in every text); UnreadableBody (with the reason)
    when it is not readable JSON."""
    try:
        payload = json.loads(body)
        # A raw NUL cannot be in valid JSON text: only the escape can put one in a string.
        return _replace_nul(payload) if "\\u0000" in body else payload
    except json.JSONDecodeError:
        raise UnreadableBody("body is not JSON") from None
    except (ValueError, RecursionError) as exc:
        # Python refuses integers over 4,300 digits (ValueError); deep nesting overflows the stack.
        raise UnreadableBody(f"body is not readable JSON: {_describe(exc)}") from exc


def normalize_body(body: str, event_hint: str | None = None) -> NormalizedDelivery:
    """`normalize` for a stored body (text): never raises; an unreadable one is `anomalous`."""
    try:
        payload = parse_body(body)
    except UnreadableBody as exc:
        return NormalizedDelivery(Source.UNKNOWN, Outcome.ANOMALOUS, None, (), exc.reason, exc)
    return normalize(payload, event_hint)


def normalize(payload: Any, event_hint: str | None = None) -> NormalizedDelivery:
    """Detect the source of a webhook body and turn it into internal events.

    `event_hint` is the event name when it is not in the body: Confluence Cloud (Connect/app)
    webhooks name the event only in the registration, so pass it from the webhook URL
    (e.g. `?event=page_created`). Ignored for Jira and Confluence Data Center bodies.

    Never raises: a payload it cannot read (a value of a type or size it cannot use, anywhere)
    is `anomalous` with the reason, and `error` keeps the exception for the operator's log.
    Retrying such a delivery would fail the same way: this is pure code over the payload alone.
    """
    try:
        delivery = _normalize(payload, event_hint)
        for event in delivery.events:
            check_event(event)
    except Exception as exc:
        webhook_event = payload.get("webhookEvent") if isinstance(payload, Mapping) else None
        return NormalizedDelivery(
            Source.UNKNOWN, Outcome.ANOMALOUS,
            webhook_event[:80] if isinstance(webhook_event, str) else None, (),
            f"unreadable payload: {exc if isinstance(exc, IllShapedEvent) else _describe(exc)}", exc,
        )
    return delivery


def _describe(exc: BaseException) -> str:
    message = str(exc)
    if len(message) > _REASON_CHARS:
        message = message[:_REASON_CHARS] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _normalize(payload: Any, event_hint: str | None) -> NormalizedDelivery:
    if not isinstance(payload, Mapping):
        return NormalizedDelivery(Source.UNKNOWN, Outcome.ANOMALOUS, None, (), "body is not a JSON object")
    if isinstance(payload.get("webhookEvent"), str):
        return jira_events.normalize_jira(payload)
    source = confluence_events.detect(payload)
    if source is not None:
        return confluence_events.normalize_confluence(payload, source, event_hint)
    return NormalizedDelivery(
        Source.UNKNOWN, Outcome.ANOMALOUS, None, (), "neither a Jira nor a Confluence webhook body"
    )
