"""`pulse check-config`: validate an accounts file and list every problem."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.context import fail
from bot.errors import ConfigError
from bot.settings import load_settings


@click.command("check-config")
@click.argument("file", type=click.Path(path_type=Path), required=False)
def check_config(file: Path | None) -> None:
    """Validate an accounts file (default: PULSE_ACCOUNTS_FILE) and list every problem."""
    from bot.accounts_file import load_accounts
    from bot.domain.accounts import role_notes, scope_notes

    file = file or load_settings().accounts_file
    if file is None:
        fail("Give the accounts file: `pulse check-config accounts.yaml` (or set PULSE_ACCOUNTS_FILE).", 2)
    try:
        config = load_accounts(file)
    except ConfigError as exc:
        fail(str(exc))
    channels = sum(len(a.channels) for a in config.accounts)
    click.echo(f"{file}: OK — {len(config.accounts)} account(s), {channels} channel(s)")
    for account in config.accounts:
        audiences = ", ".join(f"{c.name or c.id} ({c.audience})" for c in account.channels)
        click.echo(f"  {account.key}: {account.name} [{account.language}, {account.timezone}] — {audiences}")
    for note in [*scope_notes(config), *role_notes(config)]:
        click.echo(f"note: {note}")
