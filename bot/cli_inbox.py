"""`pulse inbox list|show|retry` (inspect and replay stored deliveries) and `pulse replay-webhook`
(offline: what a channel of an audience would receive for a payload file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.clock import utc_now
from bot.domain.accounts import Account, Audience, Channel, ConfluenceScope, JiraScope
from bot.domain.events import ConfluenceEvent, Outcome, UnreadableBody, normalize, parse_body
from bot.accounts_file import load_accounts
from bot.domain.links import SiteLinks
from bot.domain.replay import replay
from bot.errors import ConfigError
from bot.settings import load_settings


def _open_store():
    # Same rule as `pulse serve`: the embedded SQLite default migrates itself, others must be current.
    from bot.cli import _open_store as open_store

    return open_store(load_settings().database_url)


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group("inbox")
def inbox() -> None:
    """Inspect and replay stored webhook deliveries (DATABASE_URL)."""


@inbox.command("list")
@click.option("--status", help="Only this status: pending, done, ignored, unsupported, anomalous, dead.")
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


def _replay_account(payload: Any, hint: str | None, audience: Audience) -> Account:
    """A stand-in account that owns whatever the payload is about, with one channel."""
    projects, space = [], None
    for event in normalize(payload, hint).events:
        if isinstance(event, ConfluenceEvent):
            space = space or event.space_key
        elif event.routing_key and event.routing_key not in projects:
            projects.append(event.routing_key)
    return Account(
        key="replay",
        name="Replay",
        timezone="UTC",
        channels=[Channel(id="C0REPLAY00", audience=audience)],
        jira=JiraScope(projects=projects) if projects else JiraScope(jql="project is not EMPTY"),
        confluence=ConfluenceScope(space=space) if space else None,
    )


def replay_file(path: Path, audience: Audience, hint: str | None, account: Account | None = None,
                links: SiteLinks | None = None) -> dict[str, Any]:
    """What a channel of `audience` subscribed to everything would get for one payload file."""
    try:
        payload = parse_body(path.read_text(encoding="utf-8")) if path.stat().st_size else None
    except UnreadableBody as exc:  # the worker's words for the same body
        return {"file": str(path), "event": None, "outcome": "anomalous", "text": None, "blocks": [],
                "reason": exc.reason, "decisions": []}
    result = replay(payload, audience, account or _replay_account(payload, hint, audience), event_hint=hint,
                    subscriptions=[_ALL], links=links)
    delivery = result.delivery
    events = [str(d.event.type) for d in result.decisions]
    if delivery.outcome is not Outcome.HANDLED:
        outcome = delivery.outcome.value
    else:
        outcome = "posted" if result.messages else "withheld"
    reasons = list(dict.fromkeys(d.reason for d in result.decisions if d.reason))  # each reason once
    return {
        "file": str(path),
        "event": events[0] if len(events) == 1 else (events or None),
        "outcome": outcome,
        "text": "\n\n".join(m.text for m in result.messages) or None,
        "blocks": [b for m in result.messages for b in m.blocks],
        "reason": delivery.reason or ("; ".join(reasons) if reasons else None),
        # Every event with what became of it: a withheld one names the fact that kept it back.
        "decisions": [{"event": str(d.event.type), "delivered": d.delivered, "reason": d.reason or None}
                      for d in result.decisions],
    }


def _all() -> Any:
    from bot.domain.subscriptions import Subscription

    return Subscription()  # no filters: every event type


_ALL = _all()


def _named_account(key: str, accounts_file: Path | None, audience: Audience) -> Account:
    """The account `key` of the accounts file, with one channel of `audience` (its settings kept)."""
    if accounts_file is None:
        raise click.UsageError("--account needs the accounts file: pass --accounts FILE or set PULSE_ACCOUNTS_FILE")
    try:
        accounts = load_accounts(accounts_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    account = accounts.by_key(key)
    if account is None:
        known = ", ".join(a.key for a in accounts.accounts)
        raise click.UsageError(f"no account {key!r} in {accounts_file} (accounts: {known})")
    return account.model_copy(update={"channels": [Channel(id="C0REPLAY00", audience=audience)]})


@click.command("replay-webhook")
@click.argument("files", type=click.Path(path_type=Path), nargs=-1, required=True)
@click.option("--audience", type=click.Choice(["client", "internal"]), default="client", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--event", "hint", help="Event name for bodies that carry none (Confluence Cloud: page_created…).")
@click.option("--account", "account_key",
              help="Judge as this account of the accounts file would (internal labels, money, language); "
                   "default: a stand-in account owning whatever the payload is about.")
@click.option("--accounts", "accounts_file", type=click.Path(path_type=Path), envvar="PULSE_ACCOUNTS_FILE",
              help="The accounts file for --account (default: $PULSE_ACCOUNTS_FILE).")
def replay_webhook(files: tuple[Path, ...], audience: str, fmt: str, hint: str | None,
                   account_key: str | None, accounts_file: Path | None) -> None:
    """Offline: what a channel of AUDIENCE subscribed to all events would receive for each payload.

    No Slack or Jira calls. Exit code 0 unless a file could not be read.
    """
    account = _named_account(account_key, accounts_file, Audience(audience)) if account_key is not None else None
    settings = load_settings()
    # Links as the bot would build them: the configured sites (none when JIRA_URL is not set).
    links = SiteLinks(jira=settings.jira.url, confluence=settings.confluence_url)
    unreadable = 0
    for path in files:
        try:
            row = replay_file(path, Audience(audience), hint, account, links)
        except (OSError, UnicodeDecodeError) as exc:
            unreadable += 1
            click.echo(f"{path}: cannot read: {exc}", err=True)
            continue
        if fmt == "json":
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            event = row["event"] if isinstance(row["event"], str) or row["event"] is None else ",".join(row["event"])
            click.echo(f"== {row['file']}: {row['outcome']} ({event or '-'})")
            if row["text"]:
                click.echo(row["text"])
            withheld = [d for d in row["decisions"] if not d["delivered"]]
            for d in withheld:
                click.echo(f"   {d['event']}: {d['reason']}" if len(row["decisions"]) > 1 else f"   ({d['reason']})")
            if not withheld and not row["text"] and row["reason"]:
                click.echo(f"   ({row['reason']})")
    if unreadable:
        sys.exit(1)


__all__ = ["inbox", "replay_file", "replay_webhook"]
