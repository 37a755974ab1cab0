"""Engine creation and migrations for the store."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util import CommandError

MIGRATIONS = Path(__file__).with_name("migrations")


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_engine(url: str) -> sa.Engine:
    """An engine with the pragmas our SQLite default needs (WAL, FKs, busy timeout)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            sqlite_pragmas(dbapi_conn, url)

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def sqlite_pragmas(dbapi_conn, url: str) -> None:
    """Every SQLite connection's settings (the engine's and the webhook intake's own)."""
    cursor = dbapi_conn.cursor()
    # WAL lets the web process write the inbox while the worker reads it.
    if ":memory:" not in url:
        cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a crash of the process (not of the OS) without an fsync.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(url: str) -> Config:
    """Alembic configured in code, so `pulse db upgrade` works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so rather than echo what may hold a password
        return "(unreadable)"


def describe_failure(exc: BaseException, url: str) -> str | None:
    """One line for an operator saying what failed and what to check; None if `exc` is not a
    database or migration failure."""
    where = safe_url(url)
    if isinstance(exc, CommandError):
        # Alembic's own wording names the revision ("Can't locate revision identified by 'x'").
        return f"Migration failed: {exc}. The newest revision is {head_revision()}; run `pulse db upgrade` without --revision to reach it."
    if isinstance(exc, (sa.exc.ArgumentError, sa.exc.NoSuchModuleError)):
        return (
            f"DATABASE_URL {where} is not a database URL Account Pulse can use: {_first_line(exc)}. "
            "Use sqlite:///pulse.db or postgresql://user:password@host:5432/dbname."
        )
    detail = _first_line(exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc)
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return (
            f"Cannot open the database at {where} (DATABASE_URL): {detail}. Check that the database "
            "server is running and reachable, and the host, port, user, password and database name "
            "(for SQLite: that the file's folder exists and is writable) in DATABASE_URL."
        )
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return (
            f"The database at {where} (DATABASE_URL) failed: {detail}. Check that its schema is "
            "current (`pulse db upgrade`) and that its user may read and write it."
        )
    return None


def _first_line(exc: BaseException) -> str:
    # Driver messages run over several lines (psycopg adds hints; SQLAlchemy a background link).
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")
