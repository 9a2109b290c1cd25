"""Store tests on a real SQLite file (and on PostgreSQL with --db-url postgresql+psycopg://...)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ikz_inbox.errors import DuplicateContentError, NotFoundError, StoreError
from ikz_inbox.store import (
    Database,
    migrate,
    open_database,
    repository,
    schema_is_current,
    session_scope,
)
from ikz_inbox.store.models import Base
from ikz_inbox.store.records import MailboxState
from ikz_inbox.types import (
    ClassifiedQuestion,
    ClusterFlag,
    MessageKind,
    MessageResult,
    MessageStatus,
    QuestionSpan,
    RawMail,
    TopicPrediction,
    TopicSource,
)

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/store.sqlite3"
    else:
        url = request.getfixturevalue("postgres_url")
    db = open_database(url)
    if not url.startswith("sqlite"):
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(db)
    yield db
    db.engine.dispose()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with session_scope(database) as session:
        yield session


def question(position: int, text: str, topic: str = "foerderung") -> ClassifiedQuestion:
    return ClassifiedQuestion(
        span=QuestionSpan(position=position, text=text, start=0, end=len(text)),
        topic=TopicPrediction(
            topic=topic, confidence=0.8, source=TopicSource.MODEL, model_version="m1"
        ),
        needs_review=False,
    )


def unsure_question(text: str, confidence: float) -> ClassifiedQuestion:
    """A question whose topic is below the review threshold."""
    sure = question(0, text)
    return replace(sure, topic=replace(sure.topic, confidence=confidence), needs_review=True)


def message(
    content: str,
    message_id: str | None = "<a@example.org>",
    org: str = "Stadt Lemgo",
    questions: tuple[ClassifiedQuestion, ...] = (),
) -> MessageResult:
    return MessageResult(
        raw=RawMail(raw=b"Subject: x\r\n\r\nbody", source="file:x.eml"),
        content_sha256=content.ljust(64, "0"),
        raw_sha256="r" * 64,
        received_at=NOW,
        message_id=message_id,
        subject="Förderquote?",
        from_name="A",
        from_address="a@lemgo.de",
        sent_at=NOW - timedelta(days=1),
        sender_org=org,
        kind=MessageKind.FRAGE,
        event_id="sprechstunde-2024-10-09",
        status=MessageStatus.PROCESSED,
        error=None,
        new_text="body",
        questions=questions,
    )


def test_migrate_is_idempotent_and_current(database: Database) -> None:
    migrate(database)
    assert schema_is_current(database)


def test_head_revision_is_the_newest_migration() -> None:
    # migrate() skips Alembic when the database is at HEAD_REVISION: a new migration must
    # move HEAD_REVISION too, or it would never run.
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from ikz_inbox.store.database import HEAD_REVISION, MIGRATIONS_DIR

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_migrate_upgrades_a_database_behind_the_head(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate(db)
    with db.engine.begin() as connection:  # as if made by an older release
        connection.execute(text("UPDATE alembic_version SET version_num = 'base-of-test'"))
    assert not schema_is_current(db)
    with pytest.raises(Exception, match="base-of-test"):
        migrate(db)  # Alembic ran (and knows no such revision): the check did not skip it
    db.engine.dispose()


def test_sqlite_commits_are_durable_before_the_server_is_changed(tmp_path: Path) -> None:
    # The worker moves or flags mail on the server right after a commit: that commit must
    # survive a power cut (WAL with synchronous=FULL), or moved mail would be lost.
    db = open_database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    db.engine.dispose()


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        open_database("not a url")


def test_migrate_on_a_server_that_does_not_answer_is_a_store_error() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    db = open_database("postgresql+psycopg://ikz@127.0.0.1:1/ikz?connect_timeout=2")
    with pytest.raises(StoreError, match="nicht erreichbar"):
        migrate(db)
    db.engine.dispose()


def test_message_roundtrip_with_aware_datetimes(session: Session) -> None:
    pk = repository.add_message(
        session, message("a", questions=(question(0, "Wie hoch?"),)), collision=False
    )
    session.commit()
    stored = repository.get_message(session, pk)
    assert stored.sent_at == NOW - timedelta(days=1)
    assert stored.sent_at is not None and stored.sent_at.tzinfo is not None
    assert repository.stored_fingerprints(session, ["a".ljust(64, "0")]) == {"a".ljust(64, "0")}
    assert repository.taken_message_ids(session, ["<a@example.org>"]) == {"<a@example.org>"}
    [stored_question] = repository.list_questions(session)
    assert stored_question.text == "Wie hoch?"
    assert stored_question.asker == "stadt lemgo"


def test_same_content_twice_is_the_stores_own_duplicate_error(session: Session) -> None:
    repository.add_message(session, message("a"), collision=False)
    session.commit()
    with pytest.raises(DuplicateContentError):
        repository.add_message(session, message("a"), collision=False)
    session.rollback()


def test_staff_topic_survives_reprocessing(session: Session) -> None:
    pk = repository.add_message(
        session, message("a", questions=(question(0, "Frage eins?"),)), collision=False
    )
    [stored] = repository.list_questions(session)
    assert repository.set_staff_topic(session, stored.id, "steuern") == "foerderung"
    repository.replace_message_results(
        session, pk, message("a", questions=(question(0, "Frage eins?"), question(1, "Zwei?")))
    )
    session.commit()
    topics = {q.text: (q.topic, q.topic_source) for q in repository.list_questions(session)}
    assert topics == {"Frage eins?": ("steuern", "staff"), "Zwei?": ("foerderung", "model")}
    assert repository.staff_corrections(session) == [("Frage eins?", "steuern")]


def test_model_topics_never_overwrite_staff(session: Session) -> None:
    repository.add_message(
        session, message("a", questions=(question(0, "A?"), question(1, "B?"))), collision=False
    )
    first, second = repository.list_questions(session)
    repository.set_staff_topic(session, first.id, "vergabe")
    prediction = TopicPrediction("personal", 0.3, TopicSource.MODEL, "m2")
    changed = repository.apply_model_topics(
        session, {first.id: prediction, second.id: prediction}, review_threshold=0.5
    )
    assert changed == 1
    first, second = repository.list_questions(session)
    assert (first.topic, second.topic) == ("vergabe", "personal")
    assert second.needs_review and not first.needs_review


def test_clustering_keeps_cluster_ids_and_flags_stable(session: Session) -> None:
    qs = tuple(question(i, f"Frage {i}?") for i in range(4))
    repository.add_message(session, message("a", questions=qs), collision=False)
    ids = [q.id for q in repository.list_questions(session)]
    repository.apply_clustering(
        session, {ids[0]: ids[0], ids[1]: ids[0], ids[2]: ids[2], ids[3]: ids[3]}, NOW
    )
    big = repository.list_questions(session)[0].cluster_id
    assert big is not None
    repository.set_cluster_flag(session, big, ClusterFlag.PINNED, value=True)
    # a later clustering adds a question to the big group: it keeps its id and its pin
    repository.apply_clustering(
        session, {ids[0]: ids[0], ids[1]: ids[0], ids[2]: ids[0], ids[3]: ids[3]}, NOW
    )
    clusters = {c.id: c for c in repository.list_clusters(session)}
    assert clusters[big].pinned
    assert set(clusters[big].question_ids) == set(ids[:3])
    assert len(clusters) == 2


def test_constraints_roundtrip(session: Session) -> None:
    repository.add_message(
        session, message("a", questions=(question(0, "A?"), question(1, "B?"))), collision=False
    )
    a, b = (q.id for q in repository.list_questions(session))
    repository.add_constraint(session, b, a, must_link=True, now=NOW)
    assert repository.load_constraints(session).must_link == {(a, b)}
    repository.add_constraint(session, a, b, must_link=False, now=NOW)
    constraints = repository.load_constraints(session)
    assert constraints.cannot_link == {(a, b)} and not constraints.must_link


def test_unknown_ids_raise_not_found(session: Session) -> None:
    with pytest.raises(NotFoundError):
        repository.get_question(session, 999)
    with pytest.raises(NotFoundError):
        repository.set_cluster_flag(session, 999, ClusterFlag.PINNED, value=True)


def test_audit_log_newest_first(session: Session) -> None:
    for action in ("reclassify", "merge"):
        repository.record_audit(
            session,
            at=NOW,
            actor="anna",
            action=action,
            target_type="question",
            target_id="1",
            details={"x": 1},
        )
    assert [entry.action for entry in repository.list_audit(session)] == ["merge", "reclassify"]


def test_mailbox_state_upsert_handles_32bit_unsigned_uids(session: Session) -> None:
    assert repository.get_mailbox_state(session, "default", "INBOX") is None
    state = MailboxState("default", "INBOX", 4_294_967_295, 4_294_967_000, NOW, NOW, None, 0)
    repository.save_mailbox_state(session, state)
    session.commit()
    assert repository.get_mailbox_state(session, "default", "INBOX") == state
    repository.save_mailbox_state(
        session, MailboxState("default", "INBOX", 1, 5, NOW, None, "x", 3)
    )
    session.commit()
    assert [s.last_uid for s in repository.list_mailbox_states(session)] == [5]


def test_add_messages_inserts_a_batch_in_order_with_questions(session: Session) -> None:
    batch = [
        (message("a", "<a@x>", questions=(question(0, "Eins?"), question(1, "Zwei?"))), False),
        (message("b", None), False),
        (message("c", "<a@x>", questions=(question(0, "Drei?", "tourismus"),)), True),
    ]
    ids = repository.add_messages(session, batch)
    session.commit()
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [repository.get_message(session, pk).message_id for pk in ids] == [
        "<a@x>",
        None,
        "<a@x>",
    ]
    assert repository.get_message(session, ids[2]).message_id_collision
    stored = repository.list_questions(session)
    assert [(q.message_pk, q.position, q.text) for q in stored] == [
        (ids[0], 0, "Eins?"),
        (ids[0], 1, "Zwei?"),
        (ids[2], 0, "Drei?"),
    ]
    assert stored[2].topic == "tourismus" and stored[2].cluster_id is None
    assert repository.add_messages(session, []) == []


def test_stored_fingerprints_and_taken_message_ids(session: Session) -> None:
    repository.add_messages(session, [(message("a", "<a@x>"), False), (message("b", None), False)])
    session.commit()
    wanted = ["a".ljust(64, "0"), "z".ljust(64, "0")]
    assert repository.stored_fingerprints(session, wanted) == {"a".ljust(64, "0")}
    assert repository.taken_message_ids(session, ["<a@x>", "<n@x>"]) == {"<a@x>"}
    assert repository.stored_fingerprints(session, []) == set()


def test_assign_new_questions_opens_joins_and_takes_the_majority_topic(session: Session) -> None:
    first = message(
        "a",
        questions=(
            question(0, "A?", "foerderung"),
            question(1, "B?", "recht"),
            question(2, "C?", "recht"),
        ),
    )
    repository.add_messages(session, [(first, False)])
    q1, q2, q3 = (q.id for q in repository.list_questions(session))
    repository.assign_new_questions(session, {q1: q1, q2: q1, q3: q3}, NOW)
    session.commit()
    by_id = {q.id: q for q in repository.list_questions(session)}
    assert by_id[q1].cluster_id == by_id[q2].cluster_id != by_id[q3].cluster_id
    clusters = {c.id: c for c in repository.list_clusters(session)}
    # one "foerderung" and one "recht": the tie goes to the earliest question's topic
    assert clusters[by_id[q1].cluster_id or 0].topic == "foerderung"
    assert clusters[by_id[q1].cluster_id or 0].event_id == "sprechstunde-2024-10-09"
    second = message("b", questions=(question(0, "D?", "recht"), question(1, "E?", "it")))
    repository.add_messages(session, [(second, False)])
    q4, q5 = (q.id for q in repository.list_questions(session, unclustered=True))
    repository.assign_new_questions(session, {q4: q1, q5: q5}, NOW)
    session.commit()
    by_id = {q.id: q for q in repository.list_questions(session)}
    assert by_id[q4].cluster_id == by_id[q1].cluster_id
    clusters = {c.id: c for c in repository.list_clusters(session)}
    assert clusters[by_id[q1].cluster_id or 0].topic == "recht"  # now two of three
    assert clusters[by_id[q1].cluster_id or 0].question_ids == (q1, q2, q4)
    assert clusters[by_id[q5].cluster_id or 0].topic == "it"
    assert len(clusters) == 3


def test_a_staff_topic_recounts_the_cluster_topic(session: Session) -> None:
    first = message(
        "a", questions=(question(0, "A?", "recht"), question(1, "B?", "recht"), question(2, "C?"))
    )
    repository.add_messages(session, [(first, False)])
    q1, q2, q3 = (q.id for q in repository.list_questions(session))
    repository.assign_new_questions(session, {q1: q1, q2: q1, q3: q1}, NOW)
    [cluster] = repository.list_clusters(session)
    assert cluster.topic == "recht"
    for question_id in (q1, q2):
        repository.set_staff_topic(session, question_id, "foerderung")
        repository.refresh_cluster_topic_of(session, question_id, NOW)
    session.commit()
    [cluster] = repository.list_clusters(session)
    assert cluster.topic == "foerderung"
