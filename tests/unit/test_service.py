"""Service functions the CLI calls, on a real SQLite file: reading questions, clusters in
rank order (re-ranked and committed), cluster details, the audit and its check, export
and erasure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ikz_inbox import ingest, service
from ikz_inbox.dedup import DedupModel, load_dedup_model
from ikz_inbox.errors import NotFoundError
from ikz_inbox.privacy import address_hash
from ikz_inbox.store import Database, migrate, open_database, repository, session_scope
from ikz_inbox.types import ClusterFlag, Event, MessageResult, MessageStatus, ReviewKind
from tests.unit.test_store import NOW, message, question, unsure_question

ROOT = Path(__file__).resolve().parents[2]
SPRECHSTUNDE = Event(
    id="sprechstunde-2024-10-09",
    title="Digitale Sprechstunde",
    starts_at=NOW + timedelta(days=8),
    ends_at=NOW + timedelta(days=8, hours=1),
    themes=("Förderung",),
    keywords=(),
    questions_from=(NOW - timedelta(days=30)).date(),
    questions_until=(NOW + timedelta(days=7)).date(),
)
GESUNDHEIT = replace(SPRECHSTUNDE, id="spotlight-gesundheit", title="Spotlight Gesundheit")
# (content key, organisation, address, event, question text, topic); the organisational
# question comes first so that an unranked cluster has the lowest id.
MAILS = [
    ("m0", "Kreis Lippe", "info@lippe.de", SPRECHSTUNDE.id, "Wird aufgezeichnet?", "organisation"),
    ("m1", "Stadt Lemgo", "a@lemgo.de", SPRECHSTUNDE.id, "Wie hoch ist die Förderquote?", "foerderung"),
    ("m2", "Stadt Detmold", "b@detmold.de", SPRECHSTUNDE.id, "Förderquote für Kreise?", "foerderung"),
    ("m3", "Stadt Soest", "c@soest.de", SPRECHSTUNDE.id, "Wer prüft den Verwendungsnachweis?", "finanzen"),
    ("m4", "Stadt Unna", "d@unna.de", GESUNDHEIT.id, "Gibt es Geld für Praxen?", "gesundheit"),
    ("m5", "Stadt Hamm", "e@hamm.de", SPRECHSTUNDE.id, "Ist ein Zweckverband nötig?", "rechtsform"),
]  # fmt: skip


def mail(key: str, org: str, address: str, event_id: str, asked: str, topic: str) -> MessageResult:
    return replace(
        message(key, f"<{key}@example.org>", org, (question(0, asked, topic),)),
        from_address=address,
        event_id=event_id,
    )


@pytest.fixture(scope="module")
def model() -> DedupModel:
    return load_dedup_model(ROOT / "config" / "lexicon.toml")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """Six stored questions in five clusters: Lemgo and Detmold ask the same."""
    db = open_database(f"sqlite:///{tmp_path}/service.sqlite3")
    migrate(db)
    with session_scope(db) as session:
        ingest.store_results(session, [mail(*row) for row in MAILS])
        ids = [q.id for q in repository.list_questions(session)]
        groups = {qid: qid for qid in ids} | {ids[2]: ids[1]}
        repository.apply_clustering(session, groups, NOW)
        session.commit()
    yield db
    db.engine.dispose()


def cluster_of(database: Database, asked: str) -> int:
    with session_scope(database) as session:
        [cluster_id] = [q.cluster_id for q in repository.list_questions(session) if q.text == asked]
    assert cluster_id is not None
    return cluster_id


def test_question_reads(database: Database) -> None:
    with session_scope(database) as session:
        assert [q.text for q in service.list_questions(session, GESUNDHEIT.id)] == [
            "Gibt es Geld für Praxen?"
        ]
        assert [q.text for q in service.list_questions(session, topic="foerderung")] == [
            "Wie hoch ist die Förderquote?",
            "Förderquote für Kreise?",
        ]
        assert len(service.list_questions(session)) == len(MAILS)
        first = service.list_questions(session)[0]
        assert service.question_details(session, first.id) == first
        with pytest.raises(NotFoundError, match="Frage 999 nicht gefunden"):
            service.question_details(session, 999)


def test_review_queue_holds_only_unsure_questions(database: Database) -> None:
    unsure = unsure_question("Was gilt hier?", 0.2)
    with session_scope(database) as session:
        ingest.store_results(session, [message("m9", "<m9@x>", questions=(unsure,))])
        assert [q.text for q in service.review_queue(session)] == ["Was gilt hier?"]


def test_clusters_are_listed_ranked_first_then_unranked_by_id(
    database: Database, model: DedupModel
) -> None:
    excluded = cluster_of(database, "Ist ein Zweckverband nötig?")
    with session_scope(database) as session:
        repository.set_cluster_flag(session, excluded, ClusterFlag.EXCLUDED, value=True)
        session.commit()
        listings = service.list_clusters_ranked(session, [SPRECHSTUNDE, GESUNDHEIT], NOW, model)
    ranks = [listing.cluster.rank for listing in listings]
    ranked = [rank for rank in ranks if rank is not None]
    assert ranked == sorted(ranked) and len(ranked) == 3
    unranked = [listing.cluster.id for listing in listings if listing.cluster.rank is None]
    assert ranks[len(ranked) :] == [None, None]  # the organisational and the excluded cluster
    assert unranked == sorted(unranked) and excluded in unranked
    assert listings[-1].cluster.id == excluded
    ranked_ids = [listing.cluster.id for listing in listings[: len(ranked)]]
    assert unranked[0] < max(ranked_ids)  # by rank, not by id
    # the cluster two organisations ask leads, shown by its representative's wording
    assert (
        listings[0].cluster.question_ids == tuple(sorted(listings[0].cluster.question_ids))
        and len(listings[0].cluster.question_ids) == 2
    )
    assert listings[0].representative in {
        "Wie hoch ist die Förderquote?",
        "Förderquote für Kreise?",
    }


def test_listing_reranks_and_commits(database: Database, model: DedupModel) -> None:
    pinned = cluster_of(database, "Gibt es Geld für Praxen?")
    with session_scope(database) as session:
        repository.set_cluster_flag(
            session, pinned, ClusterFlag.PINNED, value=True
        )  # no re-ranking here
        session.commit()
        first = service.list_clusters_ranked(session, [SPRECHSTUNDE, GESUNDHEIT], NOW, model)[0]
    assert (first.cluster.id, first.cluster.rank) == (pinned, 1)
    with session_scope(database) as session:  # a new session sees the stored ranking
        stored = {c.id: c.rank for c in repository.list_clusters(session)}
    assert stored[pinned] == 1


def test_listing_of_one_event(database: Database, model: DedupModel) -> None:
    with session_scope(database) as session:
        listings = service.list_clusters_ranked(
            session, [SPRECHSTUNDE, GESUNDHEIT], NOW, model, GESUNDHEIT.id
        )
        everything = service.list_clusters_ranked(session, [SPRECHSTUNDE, GESUNDHEIT], NOW, model)
    assert [(listing.cluster.event_id, listing.representative) for listing in listings] == [
        (GESUNDHEIT.id, "Gibt es Geld für Praxen?")
    ]
    assert len(everything) == 5


def test_cluster_details(database: Database) -> None:
    shared = cluster_of(database, "Wie hoch ist die Förderquote?")
    with session_scope(database) as session:
        details = service.cluster_details(session, shared)
        with pytest.raises(NotFoundError, match="Gruppe 999"):
            service.cluster_details(session, 999)
    assert details.cluster.id == shared
    assert [(m.text, m.sender_org) for m in details.members] == [
        ("Wie hoch ist die Förderquote?", "Stadt Lemgo"),
        ("Förderquote für Kreise?", "Stadt Detmold"),
    ]


def audit(database: Database, *actions: tuple[str, timedelta]) -> None:
    with session_scope(database) as session:
        for action, after in actions:
            repository.record_audit(
                session,
                at=NOW + after,
                actor="anna",
                action=action,
                target_type="cluster",
                target_id="1",
                details={},
            )
        session.commit()


def test_audit_entries_newest_first_limited_and_since(database: Database) -> None:
    audit(database, ("pin", timedelta()), ("merge", timedelta(days=1)), ("split", timedelta(2)))
    with session_scope(database) as session:
        assert [e.action for e in service.audit_entries(session)] == ["split", "merge", "pin"]
        assert [e.action for e in service.audit_entries(session, 2)] == ["split", "merge"]
        assert [e.action for e in service.audit_entries(session, None)] == ["split", "merge", "pin"]
        since = service.audit_entries(session, None, NOW + timedelta(hours=1))
        assert [e.action for e in since] == ["split", "merge"]


def test_verify_audit_finds_an_edited_entry(database: Database) -> None:
    audit(database, ("pin", timedelta()), ("merge", timedelta(days=1)))
    with session_scope(database) as session:
        assert service.verify_audit(session) == service.AuditCheck(2, ())
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'x' WHERE action = 'pin'"))
    with session_scope(database) as session:
        check = service.verify_audit(session)
    assert check.checked == 2
    assert len(check.problems) == 1 and "Inhalt nachträglich verändert" in check.problems[0]


def forbidden_model() -> DedupModel:
    raise AssertionError("the personal export must not load the grouping model")


def test_export_data_general_or_of_one_sender(database: Database, model: DedupModel) -> None:
    with session_scope(database) as session:
        general = service.export_data(session, [SPRECHSTUNDE, GESUNDHEIT], NOW, lambda: model)
        of_event = service.export_data(
            session, [SPRECHSTUNDE, GESUNDHEIT], NOW, lambda: model, GESUNDHEIT.id
        )
        personal = service.export_data(
            session, [SPRECHSTUNDE, GESUNDHEIT], NOW, forbidden_model, personal="A@Lemgo.de"
        )
    assert general["schema"] == "ikz-inbox/export/1"
    assert len(general["messages"]) == len(MAILS)  # type: ignore[arg-type]
    assert [m["message_id"] for m in of_event["messages"]] == ["<m4@example.org>"]  # type: ignore[attr-defined]
    assert personal["schema"] == "ikz-inbox/personal/1"
    assert [m["message_id"] for m in personal["messages"]] == ["<m1@example.org>"]  # type: ignore[attr-defined]


def test_erase_sender_keys_the_audit_with_a_new_key(database: Database, tmp_path: Path) -> None:
    key_dir = tmp_path / "state"
    with session_scope(database) as session:
        result = service.erase_sender(
            session, database, "a@lemgo.de", key_dir, {}, NOW, actor="dsb", note="Antrag"
        )
    assert (result.messages, result.questions) == (1, 1)
    assert (key_dir / "audit-key").is_file()
    with session_scope(database) as session:
        [entry] = service.audit_entries(session)
        assert [q.from_address for q in service.list_questions(session)].count("a@lemgo.de") == 0
    assert (entry.action, entry.actor, entry.note) == ("forget", "dsb", "Antrag")
    assert entry.target_id == result.address_hash and "lemgo" not in str(entry.details)


def test_erase_sender_takes_the_systemd_credential(database: Database, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "audit-key").write_bytes(b"k" * 32)
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    with session_scope(database) as session:
        result = service.erase_sender(
            session, database, "a@lemgo.de", tmp_path / "state", environ, NOW, actor="x", note=None
        )
    assert not (tmp_path / "state").exists()
    assert result.address_hash == address_hash("a@lemgo.de", b"k" * 32)


def test_all_events_briefing_lists_a_quarantined_mail_under_one_part(
    database: Database, model: DedupModel
) -> None:
    # Both events take questions in the same window, and one question has no event, so
    # the all-events briefing has three parts: the failed mail of no event, sent in that
    # window, belongs to exactly one of them.
    failed = replace(
        message("q1", "<q1@example.org>"),
        event_id=None,
        status=MessageStatus.QUARANTINED,
        error="nicht lesbar",
        kind=None,
    )
    no_event = replace(
        mail("m9", "Stadt Bonn", "f@bonn.de", "x", "Wann ist Frist?", "finanzen"), event_id=None
    )
    with session_scope(database) as session:
        ingest.store_results(session, [failed, no_event])
        service.regroup(session, model, [SPRECHSTUNDE, GESUNDHEIT], NOW)
        briefing = service.build_briefing(session, [SPRECHSTUNDE, GESUNDHEIT], None, NOW)
    assert [part.event.id if part.event else None for part in briefing.parts] == [
        SPRECHSTUNDE.id,
        GESUNDHEIT.id,
        None,
    ]
    listed = [
        part.event.id if part.event else None
        for part in briefing.parts
        for item in part.review
        if item.kind is ReviewKind.QUARANTINE
    ]
    assert listed == [SPRECHSTUNDE.id]
