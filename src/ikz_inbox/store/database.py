"""Engine, sessions and migrations. The caller opens a session and passes it down."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ikz_inbox.errors import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision in MIGRATIONS_DIR (a test checks they agree): a database at it
# needs no migration.
HEAD_REVISION = "0002"


@dataclass(frozen=True)
class Database:
    """An engine and the session factory bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)


def open_database(url: str) -> Database:
    """Create the engine for ``url`` (creating the folder of a SQLite file) and its sessions."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"Ungültige Datenbank-URL / invalid database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, future=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns. The worker changes the server (flag,
    # move) only after the commit of a batch; with NORMAL a power cut could roll back a
    # batch whose messages were already moved out of the polled folder, and they would
    # never be fetched again. In WAL mode FULL costs one fsync of the log per commit, and
    # the worker commits once per fetch batch.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision (idempotent).

    Alembic is imported only when the schema is behind: its import is a fifth of the
    start-up of every command, and on all but the first start there is nothing to do.
    """
    try:
        if schema_is_current(database):
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"Datenbank nicht erreichbar / database unreachable: {exc.orig}") from None
    logger.debug("schema at revision %s on %s", HEAD_REVISION, database.url)


def schema_is_current(database: Database) -> bool:
    """Return True when the database has our tables at the newest revision."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return row is not None and row[0] == HEAD_REVISION


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    """A session that rolls back on error and is always closed; commits are explicit.

    A database that fails under it (disk full, locked longer than ``busy_timeout``, the
    server gone) raises StoreError: nothing of the open transaction is stored, and the
    caller acts on the mailbox only after a commit, so the next poll fetches it again.
    """
    session = database.sessions()
    try:
        yield session
    except OperationalError as exc:
        session.rollback()
        raise StoreError(
            f"Datenbankfehler, nichts gespeichert / database error, nothing stored: {exc.orig}"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
