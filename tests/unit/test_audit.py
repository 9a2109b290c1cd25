"""The audit log: a hash chain that finds changed and removed rows, --since, and the
retrain entry with model fingerprints before and after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ikz_inbox.audit import model_fingerprint, record_retrain
from ikz_inbox.store import Database, migrate, open_database, repository, session_scope
from tests.unit.test_store import NOW


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path}/audit.sqlite3")
    migrate(db)
    with session_scope(db) as session:
        for day, action in enumerate(["reclassify", "pin", "suggestion-accept", "forget"]):
            repository.record_audit(
                session,
                at=NOW + timedelta(days=day),
                actor="anna",
                action=action,
                target_type="question",
                target_id=str(day),
                details={"before": "a", "after": "b", "score": 0.25},
                note="Ümlaut",
            )
        session.commit()
    yield db
    db.engine.dispose()


def _verify(database: Database) -> tuple[int, list[str]]:
    with session_scope(database) as session:
        return repository.verify_audit_chain(session)


def test_untouched_chain_verifies_and_since_filters(database: Database) -> None:
    assert _verify(database) == (4, [])
    with session_scope(database) as session:
        recent = repository.list_audit(session, None, NOW + timedelta(days=2))
    assert [entry.action for entry in recent] == ["forget", "suggestion-accept"]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            "UPDATE audit_log SET note = 'x' WHERE id = 2",
            "Eintrag 2: Inhalt nachträglich verändert",
        ),
        ("UPDATE audit_log SET actor = 'bob' WHERE id = 4", "Eintrag 4: Inhalt"),
        ("DELETE FROM audit_log WHERE id = 2", "Eintrag 3: Verkettung unterbrochen"),
    ],
)
def test_tampering_is_found(database: Database, statement: str, problem: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(statement))
    _checked, problems = _verify(database)
    assert any(found.startswith(problem) for found in problems), problems


def test_retrain_records_fingerprints_before_and_after(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    assert model_fingerprint(folder) is None
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"old")
    before = model_fingerprint(folder)
    (folder / "weights.bin").write_bytes(b"new")
    with session_scope(database) as session:
        record_retrain(session, "kinds", folder, before, NOW, actor="anna")
        [entry] = repository.list_audit(session, 1)
    assert (entry.action, entry.target_id, entry.actor) == ("retrain", "kinds", "anna")
    assert entry.details["before"] == before != entry.details["after"]
    assert _verify(database) == (5, [])


@pytest.mark.postgres
def test_concurrent_staff_actions_keep_one_chain_on_postgres(postgres_url: str) -> None:
    from ikz_inbox.store.models import Base

    db = open_database(postgres_url)
    Base.metadata.drop_all(db.engine)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(db)

    def act(actor: str) -> None:
        for number in range(15):
            with session_scope(db) as session:
                repository.record_audit(
                    session,
                    at=NOW,
                    actor=actor,
                    action="pin",
                    target_type="cluster",
                    target_id=str(number),
                    details={},
                )
                session.commit()

    threads = [threading.Thread(target=act, args=(name,)) for name in ("anna", "bert", "cem")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert _verify(db) == (45, [])
    finally:
        db.engine.dispose()
