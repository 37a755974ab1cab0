"""The durable store: SQLite by default (WAL), PostgreSQL in production, same Alembic migrations."""
