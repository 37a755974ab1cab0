"""The values an inbox batch passes from step to step, and the one way a failed step is logged.

Every step takes values and returns new ones: a delivery on its way is a frozen `Work`, and a step
that fails a delivery returns it `failed(...)` (the first error wins); nothing is edited in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain.events import Event
from bot.errors import UpstreamError
from bot.logs import get_logger
from integrations.store.inbox import InboxItem

log = get_logger("pulse.inbox")


@dataclass(frozen=True)
class Work:
    """One claimed delivery on its way through the batch: its events, and what stops it from being done."""

    item: InboxItem
    events: tuple[Event, ...]
    # UpstreamError (retryable or not), or any unexpected exception: retried with backoff.
    error: Exception | None = None
    # Why no event of the delivery can be routed with the ports we have (outcome `unsupported`).
    unsupported: str | None = None

    @property
    def ok(self) -> bool:
        """Still on its way (no step has failed it)."""
        return self.error is None

    def with_events(self, events: Iterable[Event]) -> Work:
        return replace(self, events=tuple(events))

    def failed(self, exc: Exception) -> Work:
        """This delivery failed by `exc`, unless an earlier step already failed it (that error is kept)."""
        return self if self.error is not None else replace(self, error=exc)


def fail_where(works: Iterable[Work], failures: Mapping[int, Exception]) -> list[Work]:
    """The works with the failures (by inbox id) a step reported."""
    return [w.failed(failures[w.item.id]) if w.item.id in failures else w for w in works]


def delivery_context(item: InboxItem) -> dict[str, Any]:
    """What every line logged while one delivery is handled names (bound, not passed by hand)."""
    return {"source": item.source, "delivery_id": item.delivery_id, "inbox_id": item.id}


def deliveries_context(items: Iterable[InboxItem]) -> dict[str, Any]:
    """The context bound while a step works for several deliveries at once (a burst, a budget check)."""
    items = list(items)
    if len(items) == 1:
        return delivery_context(items[0])
    return {"delivery_ids": [i.delivery_id for i in items]}


def log_failure(exc: Exception, what: str, **context: Any) -> None:
    """The one way a step's failure is logged (call it in the `except` block). An upstream error
    (Jira, Confluence or Slack saying no, or down) is a warning with its text; anything else is a
    bug, logged with its traceback for the operator. Either way the deliveries it concerns are retried."""
    if isinstance(exc, UpstreamError):
        log.warning(f"{what} failed", error=str(exc), retryable=exc.retryable, **context)
    else:
        log.exception(f"{what} failed unexpectedly; retried", **context)


@dataclass(frozen=True)
class BatchReport:
    """What one batch did (also logged as one summary line)."""

    claimed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    skipped_already_posted: int = 0
    jira_calls: int = 0
    confluence_calls: int = 0
    alerts: int = 0
