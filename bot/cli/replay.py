"""`pulse replay-webhook`: offline, what a channel of an audience would receive for a payload file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.accounts_file import load_accounts
from bot.domain.accounts import Account, Audience, Channel, ConfluenceScope, JiraScope
from bot.domain.events import ConfluenceEvent, Outcome
from bot.domain.links import SiteLinks
from bot.domain.subscriptions import Subscription
from bot.domain.webhooks import UnreadableBody, normalize, parse_body
from bot.errors import ConfigError
from bot.services.replay import replay
from bot.settings import load_settings


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


_ALL = Subscription()  # no filters: every event type


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
