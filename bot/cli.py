"""`pulse` — the command line: serve the bot, try it on the sandbox, check configuration, migrate."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click

from bot.clock import utc_now
from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger
from bot.settings import Settings, load_settings

log = get_logger("pulse.cli")


def _settings() -> Settings:
    return load_settings()


def _fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


class _PulseGroup(click.Group):
    """The `pulse` group: a database failure in any command is one line saying what to check."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from integrations.store.db import describe_failure

            message = describe_failure(exc, _database_url())
            if message is None:
                raise
            # The traceback is for whoever asks for it (`pulse --log-level debug …`).
            log.debug("database failure", exc_info=exc)
            click.echo(message, err=True)
            ctx.exit(1)


def _database_url() -> str:
    try:
        return _settings().database_url
    except Exception:  # the settings themselves are broken: the message names no URL then
        return ""


# One-shot commands are for a person reading stdout: their logs stay quiet below warnings.
# `serve` is a service: its structured log is its output.
_DEFAULT_LOG_LEVEL = {"serve": "INFO"}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@click.group(cls=_PulseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", type=click.Choice(_LOG_LEVELS, case_sensitive=False), default=None,
              help="Log lines on stderr from this level up (default: INFO for serve, WARNING for the rest; "
                   "DEBUG also prints the traceback of a failure).")
@click.option("--log-json/--log-pretty", default=None, help="Log format (default: pretty on a terminal, JSON otherwise).")
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_json: bool | None) -> None:
    """Account Pulse: keeps agency clients and teams equally informed from Jira and Confluence."""
    level = log_level or _DEFAULT_LOG_LEVEL.get(ctx.invoked_subcommand or "", "WARNING")
    configure_logging(level.upper(), json=log_json)


@main.command()
@click.option("--no-scheduler", is_flag=True, help="Do not post scheduled digests from this process.")
def serve(no_scheduler: bool) -> None:
    """Run the bot: Slack endpoint (or Socket Mode), webhooks, health, scheduler."""
    import uvicorn

    from bot.accounts_file import load_accounts
    from bot.app import build_runtime, serving_app

    settings = _settings()
    missing = settings.missing_for_serve()
    if missing:
        _fail(
            "pulse serve cannot start; these settings are missing:\n"
            + "".join(f"  - {name}\n" for name in missing)
            + "Put them in a .env file in this directory or in the environment "
            "(see README.md, 'Connect the real Slack, Jira and Confluence').\n"
            "To try the bot without any credentials, run `pulse demo`.",
            code=2,
        )
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        _fail(str(exc))
    if no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    _open_store(settings.database_url).close()  # migrate the embedded default, or check the schema
    runtime = build_runtime(settings, accounts=accounts)
    uvicorn.run(serving_app(runtime), host=settings.host, port=settings.port, log_config=None, access_log=False)


def _open_store(url: str):
    """The store at `url`, migrated if it is the embedded SQLite default; else it must be current."""
    from integrations.store import db
    from integrations.store.store import Store

    if db.normalize_url(url).startswith("sqlite"):
        # The embedded default migrates itself; shared databases are migrated by `pulse db upgrade`.
        return Store.open(url, migrate=True)
    store = Store.open(url)
    if not store.is_current():
        store.close()
        _fail("The database schema is not current: run `pulse db upgrade` first.")
    return store


@main.command("check-config")
@click.argument("file", type=click.Path(path_type=Path), required=False)
def check_config(file: Path | None) -> None:
    """Validate an accounts file (default: PULSE_ACCOUNTS_FILE) and list every problem."""
    from bot.accounts_file import load_accounts
    from bot.domain.accounts import role_notes

    file = file or _settings().accounts_file
    if file is None:
        _fail("Give the accounts file: `pulse check-config accounts.yaml` (or set PULSE_ACCOUNTS_FILE).", 2)
    try:
        config = load_accounts(file)
    except ConfigError as exc:
        _fail(str(exc))
    channels = sum(len(a.channels) for a in config.accounts)
    click.echo(f"{file}: OK — {len(config.accounts)} account(s), {channels} channel(s)")
    for account in config.accounts:
        audiences = ", ".join(f"{c.name or c.id} ({c.audience})" for c in account.channels)
        click.echo(f"  {account.key}: {account.name} [{account.language}, {account.timezone}] — {audiences}")
    for note in role_notes(config):
        click.echo(f"note: {note}")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database at DATABASE_URL to the newest schema."""
    from integrations.store import db as store_db

    url = _settings().database_url
    store_db.upgrade(url, revision)
    click.echo(f"database at {store_db.create_engine(url).url!r} is at revision {store_db.head_revision()}")


def _parse_at(value: str | None, tz: datetime.tzinfo) -> datetime.datetime:
    if value is None:
        return utc_now()
    try:
        at = datetime.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--at {value!r} is not an ISO date-time (e.g. 2026-11-23T09:00 or 2026-11-23T09:00+01:00).", 2)
    # A time without offset means the account's local time ("what will Monday 9:00 say").
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


@main.command()
@click.option("--account", "account_key", required=True, help="Account key from the accounts file.")
@click.option("--audience", type=click.Choice(["client", "internal"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "blocks", "json"]), default="text", show_default=True)
@click.option("--at", "at", default=None, help="As of this ISO date-time (default: now; no offset = account's time).")
@click.option("--since", default=None, help="Count news since this ISO date-time (default: a week before --at).")
@click.option("--post", is_flag=True, help="Also post it to the account's channels of that audience.")
def digest(account_key: str, audience: str, fmt: str, at: str | None, since: str | None, post: bool) -> None:
    """Print an account's digest as of now (or --at); post it only with --post."""
    import asyncio
    import json

    from bot.accounts_file import load_accounts
    from bot.app import build_jira
    from bot.domain.accounts import Audience
    from bot.errors import UpstreamError
    from bot.render.digest import digest_to_json
    from bot.services.digests import DigestService
    from integrations.slack import InMemorySlack, SlackWeb, make_web_client

    settings = _settings()
    missing = settings.missing_for_digest(post)
    if missing:
        _fail("pulse digest needs these settings: " + ", ".join(missing)
              + " (in .env or the environment). Without credentials, try `pulse demo`.", 2)
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        _fail(str(exc))
    account = accounts.by_key(account_key)
    if account is None:
        _fail(f"No account {account_key!r} in {settings.accounts_file}; known: {', '.join(a.key for a in accounts.accounts)}", 2)
    as_of = _parse_at(at, account.tz)
    since_at = _parse_at(since, account.tz) if since else None
    store = _open_store(settings.database_url)
    slack = SlackWeb(make_web_client(settings.slack.bot_token.get_secret_value(), settings.slack.api_url)) if post else InMemorySlack()
    async def build_and_post():
        result, rendered, data = await service.compose(account, Audience(audience), as_of, since_at)
        posted = []
        if post:
            stamp = utc_now().isoformat()
            for channel in account.channels:
                if channel.audience == audience:
                    await service.post_manual(channel.id, rendered, stamp)
                    posted.append(channel.name or channel.id)
        return result, rendered, data, posted

    with build_jira(settings) as jira:
        service = DigestService(jira=jira, slack=slack, store=store, clock=lambda: as_of, jira_browse_url=settings.jira.url)
        try:
            result, rendered, data, posted = asyncio.run(build_and_post())
        except UpstreamError as exc:
            _fail(f"Jira or Slack did not answer, so nothing was printed or posted: {exc}")
        finally:
            service.close()
            store.close()
    if fmt == "text":
        click.echo(rendered.text)
    elif fmt == "blocks":
        click.echo(json.dumps([m.blocks for m in rendered.messages], ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps(digest_to_json(result), ensure_ascii=False, indent=2))
    log.info("digest built", account=account.key, audience=audience, jira_calls=data.calls, issues=len(data.issues))
    for name in posted:
        # Part of the answer: on stdout with the text; beside JSON or blocks, on stderr (stdout stays parseable).
        click.echo(f"posted to {name}", err=fmt != "text")


@main.command()
def doctor() -> None:
    """Check every account against the real Slack, Jira and Confluence: one line per item.

    Jira projects exist and are readable (with their versions), the digest query parses, each
    channel exists, has the bot as a member and is shared (or not) as its audience says, the
    Confluence space exists. Exit code 1 when anything failed.
    """
    import asyncio

    from bot.accounts_file import load_accounts
    from bot.app import build_confluence, build_jira
    from bot.domain.doctor import summary
    from bot.services.doctor import examine
    from integrations.slack import make_web_client

    settings = _settings()
    missing = settings.missing_for_digest(post=True)
    if missing:
        _fail("pulse doctor needs these settings: " + ", ".join(missing) + " (in .env or the environment).", 2)
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        _fail(str(exc))
    slack = make_web_client(settings.slack.bot_token.get_secret_value(), settings.slack.api_url, max_retries=2)
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


@main.command()
def demo() -> None:
    """Run the bot's main job on the built-in sandbox agency, without any credentials."""
    from bot.demo import run_demo

    run_demo(click.echo)


# The inbox tools live in their own module (they import this one's helpers lazily).
from bot.cli_inbox import inbox, replay_webhook  # noqa: E402

main.add_command(inbox)
main.add_command(replay_webhook)
