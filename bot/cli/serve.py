"""`pulse serve`: the bot as a service (Slack endpoint or Socket Mode, webhooks, health, scheduler)."""

from __future__ import annotations

import click

from bot.cli.context import fail, open_store
from bot.errors import ConfigError
from bot.settings import load_settings


@click.command("serve")
@click.option("--no-scheduler", is_flag=True, help="Do not post scheduled digests from this process.")
def serve(no_scheduler: bool) -> None:
    """Run the bot: Slack endpoint (or Socket Mode), webhooks, health, scheduler."""
    import uvicorn

    from bot.accounts_file import load_accounts
    from bot.app import build_runtime, serving_app

    settings = load_settings()
    missing = settings.missing_for_serve()
    if missing:
        fail(
            "pulse serve cannot start; these settings are missing:\n"
            + "".join(f"  - {name}\n" for name in missing)
            + "Put them in a .env file in this directory or in the environment "
            "(see README.md, 'Connect the real Slack, Jira and Confluence').\n"
            "To try the bot without any credentials, run `pulse demo`.",
            code=2,
        )
    assert settings.accounts_file is not None  # missing_for_serve() names it when it is missing
    try:
        accounts = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        fail(str(exc))
    if no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    open_store(settings.database_url).close()  # migrate the embedded default, or check the schema
    runtime = build_runtime(settings, accounts=accounts)
    uvicorn.run(serving_app(runtime), host=settings.host, port=settings.port, log_config=None, access_log=False)
