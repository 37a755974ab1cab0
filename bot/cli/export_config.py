"""`pulse export-config`: the effective accounts configuration (the file plus channels linked from
Slack) as an accounts file `pulse check-config` accepts."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.context import fail, open_store
from bot.errors import ConfigError
from bot.settings import load_settings


def effective_yaml(config) -> str:
    """The configuration as accounts-file YAML (defaults left out, as a person would write it)."""
    import yaml

    data = config.model_dump(mode="json", exclude_defaults=True)
    header = "# Exported by `pulse export-config`: the accounts file plus the channels linked from Slack.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@click.command("export-config")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path), required=False)
def export_config(output: Path | None) -> None:
    """Write the effective accounts configuration (PULSE_ACCOUNTS_FILE plus runtime links) as YAML
    to OUTPUT (default: stdout)."""
    from bot.accounts_file import load_accounts
    from bot.domain.channel_links import merge

    settings = load_settings()
    if settings.accounts_file is None:
        fail("pulse export-config needs PULSE_ACCOUNTS_FILE (the seed the runtime links are added to).", 2)
    try:
        seed = load_accounts(settings.accounts_file)
    except ConfigError as exc:
        fail(str(exc))
    store = open_store(settings.database_url)
    try:
        config, notes = merge(seed, store.channel_links.all())
    finally:
        store.close()
    for note in notes:
        click.echo(f"note: {note}", err=True)
    text = effective_yaml(config)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{output}: {len(config.accounts)} account(s), {sum(len(a.channels) for a in config.accounts)} channel(s)")
