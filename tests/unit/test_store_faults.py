"""A locked SQLite database is waited for (busy_timeout) and nothing is lost; a database
error under a session is a StoreError and leaves nothing half-stored."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event

from ikz_inbox import ingest
from ikz_inbox.errors import StoreError
from ikz_inbox.store import migrate, open_database, repository, session_scope
from ikz_inbox.types import RawMail
from tests.unit.test_store import message


def test_a_write_lock_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    database = open_database(f"sqlite:///{path}")
    migrate(database)
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock ...
    other.execute(
        "INSERT INTO events (id, title, starts_at, ends_at, questions_from, "
        "questions_until, themes) VALUES ('e', 't', '2024-01-01', '2024-01-01', "
        "'2024-01-01', '2024-01-01', '[]')"
    )
    release = threading.Timer(1.0, other.commit)  # ... for a second
    release.start()
    try:
        with session_scope(database) as session:
            results = ingest.store_results(session, [message("a"), message("b", "<b@x>")])
            assert [m.id for m in repository.list_messages(session)] == [1, 2]
    finally:
        release.join()
        other.close()
        database.engine.dispose()
    assert [r.value for r in results] == ["stored", "stored"]


def test_a_full_disk_raises_store_error_and_stores_nothing(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path}/full.sqlite3")
    migrate(database)
    with database.engine.connect() as connection:
        pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar() or 0)

    def limit(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 1}")  # type: ignore[attr-defined]

    event.listen(database.engine, "connect", limit)
    database.engine.dispose()
    big = [
        replace(message(str(n), f"<{n}@x>"), raw=RawMail(raw=b"x" * 20_000, source="big"))
        for n in range(50)
    ]
    with pytest.raises(StoreError, match="full"), session_scope(database) as session:
        ingest.store_results(session, big)
    event.remove(database.engine, "connect", limit)
    database.engine.dispose()
    with session_scope(database) as session:
        assert repository.list_messages(session) == []
        assert ingest.store_results(session, big[:2]) == [
            ingest.IngestOutcome.STORED,
            ingest.IngestOutcome.STORED,
        ]
    database.engine.dispose()
