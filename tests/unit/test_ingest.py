"""The one ingest flow: exactly once per content, Message-ID reuse, concurrent writers, the
three sources (files, a list, stored raw bytes), grouping and the stop request."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.orm import Session

from ikz_inbox import ingest, service
from ikz_inbox.app import App, open_app
from ikz_inbox.ingest import IngestOutcome, IngestSource, IngestSummary, MailSource
from ikz_inbox.mailbox import FetchedMail, Mailbox
from ikz_inbox.polling import MailboxSource
from ikz_inbox.sources import iter_raw_mails
from ikz_inbox.store import migrate, open_database, repository, session_scope
from ikz_inbox.store.records import MailboxState
from ikz_inbox.types import MessageResult, MessageStatus, RawMail
from tests.unit.test_store import NOW, message, question

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "inbox"
STORED, DUPLICATE, QUARANTINED = (
    IngestOutcome.STORED,
    IngestOutcome.DUPLICATE,
    IngestOutcome.QUARANTINED,
)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    database = open_database(f"sqlite:///{tmp_path}/ingest.sqlite3")
    migrate(database)
    with session_scope(database) as session:
        yield session
    database.engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = open_app(REPO / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/a.sqlite3")
    yield application
    application.close()


class StateSource(IngestSource[int]):
    """Commits a mailbox high-water UID with each batch, like the IMAP source."""

    def __init__(self, session: Session, uid: int) -> None:
        self._session, self._uid = session, uid

    def before_commit(self, session: Session, batch: int) -> None:
        state = MailboxState(
            "default", "INBOX", uidvalidity=7, last_uid=self._uid, last_poll_at=NOW
        )
        repository.save_mailbox_state(session, state)


def test_batch_stores_each_content_once_and_flags_reused_message_ids(session: Session) -> None:
    source = StateSource(session, 1)
    ingest.commit_batch(session, source, 0, [message("a", "<a@x>")])
    batch = [
        message("a", "<a@x>"),  # stored before
        message("b", "<b@x>", questions=(question(0, "Wie?"),)),
        message("b", "<b@x>"),  # same content twice in one batch
        message("c", "<b@x>"),  # other content, Message-ID of the one before
        replace(message("d", None), status=MessageStatus.QUARANTINED, error="nicht lesbar"),
    ]
    assert ingest.commit_batch(session, source, 1, batch) == [
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
    ingest.commit_batch(session, StateSource(session, 42), 0, [message("a"), message("b", "<b@x>")])
    session.rollback()  # nothing pending any more: both were committed
    saved = repository.get_mailbox_state(session, "default", "INBOX")
    assert saved is not None and saved.last_uid == 42
    assert len(repository.list_messages(session)) == 2


def test_a_concurrent_writer_makes_the_batch_fall_back_to_one_by_one(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest.commit_batch(session, StateSource(session, 1), 0, [message("a", "<a@x>")])
    # another worker stored "a" after our fingerprint check: the check sees nothing
    monkeypatch.setattr(repository, "stored_fingerprints", lambda _session, _prints: set())
    outcomes = ingest.commit_batch(
        session,
        StateSource(session, 9),
        0,
        [message("b", "<b@x>"), message("a", "<a@x>"), message("c", "<c@x>")],
    )
    assert outcomes == [STORED, DUPLICATE, STORED]
    assert len(repository.list_messages(session)) == 3
    saved = repository.get_mailbox_state(session, "default", "INBOX")
    assert saved is not None and saved.last_uid == 9


def test_the_backlog_counts_the_uids_above_the_committed_one(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fetched(uid: int, content: str) -> tuple[FetchedMail, MessageResult]:
        mail = message(content, f"<{content}@x>")
        return FetchedMail(uid=uid, raw=mail.raw, size=len(mail.raw.raw), too_large=False), mail

    state = MailboxState("default", "INBOX", uidvalidity=7, last_poll_at=NOW)
    source = MailboxSource(cast(Mailbox, None), state, [2, 3, 5, 8, 9])
    assert source.state.backlog == 5
    # UID 2 vanished before the fetch: the batch holds 3 and 5 only
    first = [fetched(3, "a"), fetched(5, "b")]
    ingest.commit_batch(session, source, [f for f, _ in first], [r for _, r in first])
    assert (source.state.last_uid, source.state.backlog) == (5, 2)
    source.before_commit(session, [f for f, _ in first])  # written again: the same state
    assert (source.state.last_uid, source.state.backlog) == (5, 2)
    # a concurrent writer stored "a": the batch is stored one by one, then the state
    monkeypatch.setattr(repository, "stored_fingerprints", lambda _session, _prints: set())
    second = [fetched(8, "c"), fetched(9, "a")]
    ingest.commit_batch(session, source, [f for f, _ in second], [r for _, r in second])
    saved = repository.get_mailbox_state(session, "default", "INBOX")
    assert saved is not None and (saved.last_uid, saved.backlog) == (9, 0)


def test_summary_adds_a_batch_of_outcomes() -> None:
    summary = IngestSummary().add_all([STORED, DUPLICATE, STORED, QUARANTINED])
    assert summary == IngestSummary(stored=2, duplicates=1, quarantined=1)
    assert summary.total == 4


def clusters(app: App) -> set[frozenset[int]]:
    with session_scope(app.database) as session:
        return {frozenset(c.question_ids) for c in repository.list_clusters(session)}


def test_import_stores_groups_and_a_second_import_is_all_duplicates(app: App) -> None:
    seen: list[int] = []
    with session_scope(app.database) as session:
        first = ingest.import_files(session, app, [SAMPLE], progress=seen.append, now=lambda: NOW)
        assert not repository.list_questions(session, unclustered=True)
    # 36 messages, one of them sent twice (the sample inbox has a resent copy)
    assert (first.total, first.duplicates) == (36, 1)
    assert sum(seen) == 36
    with session_scope(app.database) as session:
        again = ingest.import_files(session, app, [SAMPLE], now=lambda: NOW)
    assert again == IngestSummary(duplicates=36)


class Batches(MailSource):
    """Raw mails in batches of ten that records what was committed."""

    def __init__(self, mails: Sequence[RawMail], stop: threading.Event | None = None) -> None:
        super().__init__(mails, batch_size=10)
        self.committed_batches: list[int] = []
        self._stop = stop

    def committed(self, batch: list[RawMail], results: Sequence[MessageResult]) -> None:
        self.committed_batches.append(len(batch))
        if self._stop is not None:
            self._stop.set()


def test_a_stop_request_ends_the_run_after_the_batch_in_hand(app: App) -> None:
    mails = list(iter_raw_mails([SAMPLE]))
    stop = threading.Event()
    source = Batches(mails, stop)
    with session_scope(app.database) as session:
        summary = ingest.ingest(session, app, source, now=lambda: NOW, stop=stop)
        stored = len(repository.list_messages(session))
    assert source.committed_batches == [10]
    assert summary.total == 10 == stored


def test_batches_group_incrementally_like_a_full_regrouping(app: App) -> None:
    with session_scope(app.database) as session:
        ingest.ingest(session, app, Batches(list(iter_raw_mails([SAMPLE]))), now=lambda: NOW)
    incremental = clusters(app)
    with session_scope(app.database) as session:
        service.regroup(session, app.dedup, app.events, NOW)
    assert clusters(app) == incremental
    assert any(len(group) >= 2 for group in incremental)


def test_reprocessing_replaces_results_keeps_staff_topics_and_is_audited(app: App) -> None:
    with session_scope(app.database) as session:
        ingest.import_files(session, app, [SAMPLE], now=lambda: NOW)
        first = repository.list_questions(session)[0]
        staff_topic = next(t for t in app.topic_ids if t not in (first.topic, "organisation"))
        service.reclassify_question(
            session, first.id, staff_topic, app.topic_ids, actor="t", note=None, now=NOW
        )
        before = {
            q.id: (q.text, q.cluster_id is not None) for q in repository.list_questions(session)
        }
        summary = ingest.reprocess_messages(session, app, NOW, actor="tester")
        after = {
            q.id: (q.text, q.cluster_id is not None) for q in repository.list_questions(session)
        }
        kept = repository.get_question(session, first.id)
        audit = [entry.action for entry in repository.list_audit(session, None, None)]
    assert summary.total == 35 and summary.duplicates == 0
    assert after == before  # same mail, same questions: ids, texts and clusters survive
    assert kept.topic == staff_topic and kept.topic_source == "staff"
    assert "reprocess" in audit
