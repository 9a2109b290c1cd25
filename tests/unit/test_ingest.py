"""Storing processed batches exactly once: duplicates, Message-ID reuse, concurrent writers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ikz_inbox import service
from ikz_inbox.service import IngestResult
from ikz_inbox.store import migrate, open_database, repository, session_scope
from ikz_inbox.store.records import MailboxState
from tests.unit.test_store import NOW, message, question

STORED, DUPLICATE, QUARANTINED = (
    IngestResult.STORED,
    IngestResult.DUPLICATE,
    IngestResult.QUARANTINED,
)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    database = open_database(f"sqlite:///{tmp_path}/ingest.sqlite3")
    migrate(database)
    with session_scope(database) as session:
        yield session
    database.engine.dispose()


def state(last_uid: int) -> MailboxState:
    return MailboxState("default", "INBOX", 7, last_uid, NOW, None, None, 0)


def test_batch_stores_each_content_once_and_flags_reused_message_ids(session: Session) -> None:
    service.ingest_prepared(session, [message("a", "<a@x>")])
    batch = [
        message("a", "<a@x>"),  # stored before
        message("b", "<b@x>", questions=(question(0, "Wie?"),)),
        message("b", "<b@x>"),  # same content twice in one batch
        message("c", "<b@x>"),  # other content, Message-ID of the one before
        replace(message("d", None), status="quarantined", error="nicht lesbar"),
    ]
    assert service.ingest_prepared(session, batch) == [
        DUPLICATE,
        STORED,
        DUPLICATE,
        STORED,
        QUARANTINED,
    ]
    messages = repository.list_messages(session)
    assert len(messages) == 4
    flagged = [m.message_id for m in messages if m.message_id_collision]
    assert flagged == ["<b@x>"]
    assert [q.text for q in repository.list_questions(session)] == ["Wie?"]


def test_batch_and_high_water_uid_commit_together(session: Session) -> None:
    service.ingest_prepared(
        session,
        [message("a"), message("b", "<b@x>")],
        before_commit=lambda: repository.save_mailbox_state(session, state(42)),
    )
    session.rollback()  # nothing pending any more: both were committed
    saved = repository.get_mailbox_state(session, "default", "INBOX")
    assert saved is not None and saved.last_uid == 42
    assert len(repository.list_messages(session)) == 2


def test_a_concurrent_writer_makes_the_batch_fall_back_to_one_by_one(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.ingest_prepared(session, [message("a", "<a@x>")])
    # another worker stored "a" after our fingerprint check: the check sees nothing
    monkeypatch.setattr(repository, "stored_fingerprints", lambda _session, _prints: set())
    results = service.ingest_prepared(
        session,
        [message("b", "<b@x>"), message("a", "<a@x>"), message("c", "<c@x>")],
        before_commit=lambda: repository.save_mailbox_state(session, state(9)),
    )
    assert results == [STORED, DUPLICATE, STORED]
    assert len(repository.list_messages(session)) == 3
    saved = repository.get_mailbox_state(session, "default", "INBOX")
    assert saved is not None and saved.last_uid == 9


def test_summary_adds_a_batch_of_results() -> None:
    summary = service.IngestSummary().add_all([STORED, DUPLICATE, STORED, QUARANTINED])
    assert summary == service.IngestSummary(stored=2, duplicates=1, quarantined=1)
