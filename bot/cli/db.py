"""`pulse db upgrade`: migrate a shared database to the newest schema."""

from __future__ import annotations

import click

from bot.settings import load_settings


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database at DATABASE_URL to the newest schema."""
    from integrations.store import db as store_db

    url = load_settings().database_url
    store_db.upgrade(url, revision)
    click.echo(f"database at {store_db.create_engine(url).url!r} is at revision {store_db.head_revision()}")
