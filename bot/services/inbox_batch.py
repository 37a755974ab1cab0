"""What one inbox batch carries between its steps: the deliveries in hand, the report, failures."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.events import Event
from bot.logs import get_logger
from integrations.store.inbox import InboxItem

log = get_logger("pulse.inbox")


@dataclass
class BatchReport:
    """What one batch did (also logged as one summary line)."""

    claimed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    skipped_already_posted: int = 0
    jira_calls: int = 0
    confluence_calls: int = 0
    alerts: int = 0

    def count(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class Handled:
    """One claimed delivery, its events, and what stops it from being done."""

    item: InboxItem
    events: list[Event]
    # UpstreamError (retryable or not), or any unexpected exception: retried with backoff.
    error: Exception | None = None
    # Why no event of the delivery can be routed with the ports we have (outcome `unsupported`).
    unsupported: str | None = None


def mark_failed(items: list[Handled], exc: Exception, stage: str) -> None:
    """Log an unexpected error (with its traceback) and retry only the deliveries it concerns."""
    ids = {"delivery_id": items[0].item.delivery_id} if len(items) == 1 else {
        "delivery_ids": [h.item.delivery_id for h in items]}
    log.exception(f"delivery failed in {stage}; it will be retried", **ids)
    for h in items:
        h.error = h.error or exc

