"""`pulse inbox list|show|retry`: inspect and replay stored webhook deliveries."""

from __future__ import annotations

import json
import sys

import click

from bot.cli.context import open_store
from bot.clock import utc_now
from bot.settings import load_settings


def _open_store():
    # Same rule as `pulse serve`: the embedded SQLite default migrates itself, others must be current.
    return open_store(load_settings().database_url)


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("inbox")
def inbox() -> None:
    """Inspect and replay stored webhook deliveries (DATABASE_URL)."""


@inbox.command("list")
@click.option("--status", help="Only this status: pending, done, ignored, unsupported, anomalous, dead; held (a Slack request kept before its ack, not answered yet).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def inbox_list(status: str | None, limit: int) -> None:
    """Newest deliveries first, with their status, attempts and last error."""
    store = _open_store()
    try:
        counts = store.inbox.counts()
        items = store.inbox.list(status=status, limit=limit)
    finally:
        store.close()
    click.echo("inbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    for i in items:
        click.echo(
            f"{i.id:>6}  {i.status:<11} {i.attempts:>2}x  {i.source:<10} {(i.event_name or '-'):<24} "
            f"{i.received_at:%Y-%m-%d %H:%M:%S}  {_short(i.delivery_id, 40)}"
            + (f"  error: {_short(i.last_error)}" if i.last_error else "")
        )


@inbox.command("show")
@click.argument("item_id", type=int)
def inbox_show(item_id: int) -> None:
    """One delivery: its fields, last error and body."""
    store = _open_store()
    try:
        item = store.inbox.get(item_id)
    finally:
        store.close()
    if item is None:
        click.echo(f"no delivery with id {item_id}", err=True)
        sys.exit(1)
    for name in ("id", "source", "delivery_id", "event_name", "received_at", "status", "attempts", "last_error"):
        click.echo(f"{name}: {getattr(item, name)}")
    try:
        body = json.dumps(json.loads(item.body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or JSON Python will not read (a 5,000-digit number)
        body = item.body
    click.echo("body:\n" + body)


@inbox.command("retry")
@click.argument("item_ids", type=int, nargs=-1, required=True)
def inbox_retry(item_ids: tuple[int, ...]) -> None:
    """Put deliveries back in the queue (e.g. dead ones after a fix); posting stays exactly-once."""
    store = _open_store()
    missing = []
    try:
        now = utc_now()
        for item_id in item_ids:
            if store.inbox.requeue(item_id, now):
                click.echo(f"{item_id}: queued again")
            else:
                missing.append(item_id)
    finally:
        store.close()
    for item_id in missing:
        click.echo(f"{item_id}: no such delivery", err=True)
    if missing:
        sys.exit(1)
