"""The store: the only package that touches the database (SQLAlchemy + Alembic)."""

from ikz_inbox.store.database import (
    Database,
    migrate,
    open_database,
    schema_is_current,
    session_scope,
)

__all__ = ["Database", "migrate", "open_database", "schema_is_current", "session_scope"]
