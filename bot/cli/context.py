"""What the `pulse` subcommands share: the one-line failure and the one store opener."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def open_store(url: str):
    """The store at `url`, migrated if it is the embedded SQLite default; else it must be current."""
    from integrations.store import db
    from integrations.store.store import Store

    if db.normalize_url(url).startswith("sqlite"):
        # The embedded default migrates itself; shared databases are migrated by `pulse db upgrade`.
        return Store.open(url, migrate=True)
    store = Store.open(url)
    if not store.is_current():
        store.close()
        fail("The database schema is not current: run `pulse db upgrade` first.")
    return store
