"""`pulse demo`: the sandbox agency — what the bot would post, with no credentials at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.accounts_file import load_accounts
from bot.domain.access import Role
from bot.domain.commands import available
from bot.render.help import render_help

EXAMPLE_ACCOUNTS = Path(__file__).resolve().parents[1] / "config" / "accounts.example.yaml"


def run_demo(echo: Callable[[str], None]) -> None:
    """Print the sandbox accounts and what `/pulse help` answers each kind of user."""
    accounts = load_accounts(EXAMPLE_ACCOUNTS)
    echo("Account Pulse sandbox agency")
    for account in accounts.accounts:
        echo(f"• {account.name} ({account.key}): Jira {', '.join(account.jira.projects)}")
    for role in (Role.ADMIN, Role.EXTERNAL):
        text, _ = render_help(available(role))
        echo(f"\n/pulse help as {role.name.lower()}:\n{text}")
