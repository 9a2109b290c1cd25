"""Mutual exclusion between workers that poll the same mailbox.

SQLite: a file lock beside the database file. PostgreSQL: a session-level advisory lock,
so two hosts that share the database never poll one mailbox at the same time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import text

from ikz_inbox.errors import LockError
from ikz_inbox.store.database import Database


@contextmanager
def mailbox_lock(
    database: Database, name: str, lock_dir: Path, timeout: float = 0
) -> Iterator[None]:
    """Hold the lock for mailbox ``name``; raise LockError when another worker holds it."""
    if database.engine.dialect.name == "postgresql":
        with _advisory_lock(database, name):
            yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"ikz-inbox-{_slug(name)}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise LockError(
            f"Postfach '{name}' wird gerade von einem anderen Prozess abgerufen"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _advisory_lock(database: Database, name: str) -> Iterator[None]:
    key = int.from_bytes(
        hashlib.sha256(f"ikz-inbox:{name}".encode()).digest()[:8], "big", signed=True
    )
    with database.engine.connect() as connection:
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        if not got:
            raise LockError(f"Postfach '{name}' wird gerade von einem anderen Prozess abgerufen")
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
