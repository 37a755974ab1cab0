"""`pulse` — the command line: serve the bot, try it on the sandbox, check configuration, migrate.

One module per subcommand (group) beside this one; they share `bot.cli.context` and never import this module."""

from __future__ import annotations

import click

from bot.cli.check_config import check_config
from bot.cli.db import db
from bot.cli.demo import demo
from bot.cli.digest import digest
from bot.cli.doctor import doctor
from bot.cli.export_config import export_config
from bot.cli.inbox import inbox
from bot.cli.replay import replay_webhook
from bot.cli.serve import serve
from bot.logs import configure_logging, get_logger
from bot.settings import load_settings

log = get_logger("pulse.cli")


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
        return load_settings().database_url
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


for command in (serve, digest, demo, check_config, doctor, db, inbox, replay_webhook, export_config):
    main.add_command(command)
