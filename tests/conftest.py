"""Shared test fixtures: stores on SQLite and PostgreSQL, fake servers, signed Slack requests."""

from __future__ import annotations

import io
import json
import logging
import os
import uuid

import pytest
import sqlalchemy as sa
import structlog

from bot.logs import configure_logging
from integrations.store import db
from integrations.store.store import Store

POSTGRES_URL = os.environ.get("PULSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_admin_engine() -> sa.Engine | None:
    engine = sa.create_engine(db.normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if os.environ.get("CI") == "true":
            # CI must exercise PostgreSQL; .ci/run starts it. A skip here would hide a failure.
            pytest.fail(f"PostgreSQL unreachable at {POSTGRES_URL} under CI: {exc}")
        return None
    return engine


@pytest.fixture(scope="session")
def postgres_database_url():
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    admin = _postgres_admin_engine()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set PULSE_TEST_POSTGRES_URL)")
    name = f"pulse_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    db.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(engine: sa.Engine) -> None:
    from integrations.store.schema import metadata

    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pulse.db'}"
        s = Store.open(url, migrate=True)
    else:
        url = request.getfixturevalue("postgres_database_url")
        s = Store.open(url)
        _truncate_all(s.engine)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'pulse.db'}", migrate=True)
    yield s
    s.close()


@pytest.fixture
def json_logs(monkeypatch):
    """Logging as in production (JSON on stderr), captured: call it for the lines so far, parsed."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    structlog.reset_defaults()
    configure_logging("DEBUG", json=True)
    # A module-level logger cached here would keep writing to this test's stream in later tests.
    structlog.configure(cache_logger_on_first_use=False)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


@pytest.fixture
def pulse_cli(monkeypatch):
    """Run `pulse ARGS…` in this process through click's CliRunner; logging is restored afterwards.

    `pulse` configures logging for the whole process (cached loggers included), which would leak
    into later tests; the subprocess tests in test_cli.py do not need this.
    """
    from click.testing import CliRunner

    from bot.cli import main

    for name in [n for n in os.environ if n.startswith(("SLACK_", "JIRA_", "CONFLUENCE_", "PULSE_", "DATABASE_URL"))]:
        monkeypatch.delenv(name)
    yield lambda *args: CliRunner().invoke(main, list(args))
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


@pytest.fixture
def fresh_postgres_url():
    """A PostgreSQL database with nothing in it, created for this test and dropped after."""
    admin = _postgres_admin_engine()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set PULSE_TEST_POSTGRES_URL)")
    name = f"pulse_empty_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database with nothing in it, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("fresh_postgres_url")
