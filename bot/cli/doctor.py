"""`pulse doctor`: check every account against the real Slack, Jira and Confluence."""

from __future__ import annotations

import sys

import click

from bot.cli.context import fail
from bot.clock import utc_now
from bot.errors import ConfigError
from bot.settings import load_settings


@click.command("doctor")
def doctor() -> None:
    """Check every account against the real Slack, Jira and Confluence: one line per item.

    Jira projects exist and are readable (with their versions), the digest query parses, each
    channel exists, has the bot as a member and is shared (or not) as its audience says, the
    Confluence space exists. Exit code 1 when anything failed.
    """
    import asyncio

    from bot.accounts_file import load_accounts
    from bot.app import build_confluence, build_jira, build_slack_client
    from bot.domain.doctor import summary
    from bot.services.doctor import examine

    settings = load_settings()
    missing = settings.missing_for_digest(post=True)
    if missing:
        fail("pulse doctor needs these settings: " + ", ".join(missing) + " (in .env or the environment).", 2)
    assert settings.accounts_file is not None  # missing_for_digest() names it when it is missing
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        fail(str(exc))
    slack = build_slack_client(settings, max_retries=2)
    confluence = build_confluence(settings)
    try:
        with build_jira(settings) as jira:
            findings = asyncio.run(examine(accounts, jira=jira, slack=slack, confluence=confluence, now=utc_now()))
    finally:
        if confluence is not None:
            confluence.close()
    for finding in findings:
        click.echo(finding.line())
    text, code = summary(findings)
    click.echo(text)
    sys.exit(code)
