"""Retention (purge) on a real SQLite file: what the plan names, what purging removes and
keeps, the audit entry, and that reprocessing leaves purged messages alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from ikz_inbox import ingest
from ikz_inbox.config import RetentionSection
from ikz_inbox.dataprotection import forget_sender, load_audit_key, plan_purge, purge
from ikz_inbox.store import Database, migrate, open_database, repository, session_scope
from ikz_inbox.store.personal import messages_by_ids, messages_from
from ikz_inbox.types import Event, RawMail
from tests.unit.test_store import NOW, message, question

EVENT = Event(
    id="sprechstunde-2024-10-09",
    title="Digitale Sprechstunde",
    starts_at=NOW + timedelta(days=8),
    ends_at=NOW + timedelta(days=8, hours=1),
    themes=(),
    keywords=(),
    questions_from=(NOW - timedelta(days=30)).date(),
    questions_until=(NOW + timedelta(days=7)).date(),
)
RETENTION = RetentionSection(raw_days=30, personal_days=60)
SIGNATURE = "Wie hoch ist die Förderquote?\n\nGruß\nJana Beispiel\nTel. 05261 213-456"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path}/retention.sqlite3")
    migrate(db)
    with session_scope(db) as session:
        mail = replace(
            message("a", "<jana.beispiel.1@lemgo.de>", questions=(question(0, SIGNATURE[:28]),)),
            raw=RawMail(
                raw=b"From: Jana Beispiel <jana.beispiel@lemgo.de>\r\n\r\n" + SIGNATURE.encode(),
                source="file:x.eml",
            ),
            from_name="Jana Beispiel",
            from_address="jana.beispiel@lemgo.de",
            new_text=SIGNATURE,
        )
        later = replace(message("b", "<b@x>"), received_at=NOW + timedelta(days=20))
        ingest.store_results(session, [mail, later])
    yield db
    db.engine.dispose()


def test_nothing_is_due_before_the_event_ends(database: Database) -> None:
    with session_scope(database) as session:
        plan = plan_purge(session, [EVENT], RETENTION, NOW + timedelta(days=30))
    assert plan.empty


def test_raw_bytes_go_first_then_the_senders_data(database: Database) -> None:
    with session_scope(database) as session:
        after_raw = EVENT.ends_at + timedelta(days=31)
        plan = plan_purge(session, [EVENT], RETENTION, after_raw)
        assert (plan.raw_only, plan.personal) == ((1,), ())
        purge(session, database, plan, RETENTION, after_raw, actor="cron")
        assert [r.id for r in repository.iter_raw_messages(session)] == [2]
        assert repository.get_message(session, 1).from_address == "jana.beispiel@lemgo.de"

        after_personal = EVENT.ends_at + timedelta(days=61)
        plan = plan_purge(session, [EVENT], RETENTION, after_personal)
        assert (plan.raw_only, plan.personal) == ((2,), (1,))
        purge(session, database, plan, RETENTION, after_personal, actor="cron")
        kept = repository.get_message(session, 1)
        assert (kept.from_address, kept.from_name, kept.message_id) == ("", "", None)
        assert [q.text for q in repository.list_questions(session)] == [SIGNATURE[:28]]
        audit = repository.list_audit(session)
        assert [entry.action for entry in audit] == ["purge", "purge"]
        assert audit[0].details["after"] == {"raw_removed": 1, "personal_removed": 1}
        assert plan_purge(session, [EVENT], RETENTION, after_personal).empty
    data = Path(str(database.engine.url.database)).read_bytes().lower()
    for term in (b"jana", b"beispiel", b"213-456"):
        assert term not in data


def test_audit_key_is_private_and_stable(tmp_path: Path) -> None:
    key = load_audit_key(tmp_path / "state", {})
    assert len(key) == 32 and key == load_audit_key(tmp_path / "state", {})
    assert (tmp_path / "state" / "audit-key").stat().st_mode & 0o077 == 0
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "audit-key").write_bytes(b"from-systemd\n")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert load_audit_key(tmp_path / "state", environ) == b"from-systemd"


def test_forget_takes_an_underscore_in_the_address_literally(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path}/forget.sqlite3")
    migrate(db)
    with session_scope(db) as session:
        own = replace(message("a", "<a@x>"), from_address="max_mustermann@lemgo.de")
        other = replace(
            message("b", "<b@x>"),
            raw=RawMail(raw=b"Subject: y\r\n\r\nmax.mustermann@lemgo.de", source="file:y.eml"),
            new_text="Bitte an max.mustermann@lemgo.de antworten.",
        )
        ingest.store_results(session, [own, other])
        result = forget_sender(session, db, "max_mustermann@lemgo.de", b"k" * 32, NOW, actor="t")
        assert (result.messages, result.mentions) == (1, 0)
        assert [r.id for r in repository.iter_raw_messages(session)] == [2]
        assert repository.get_message(session, 2).from_address == "a@lemgo.de"
    db.engine.dispose()


def test_only_the_personal_export_reads_raw_bytes(database: Database) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with session_scope(database) as session:
            repository.list_messages(session)
            repository.get_message(session, 1)
            messages_by_ids(session, [1, 2])
            assert [m.raw for m in messages_from(session, "jana.beispiel@lemgo.de")] == [None]
            reads = [s for s in statements if re.search(r"messages\.raw\b(?!_)", s)]
            assert reads == []
            [exported] = messages_from(session, "jana.beispiel@lemgo.de", with_raw=True)
            assert exported.raw is not None and exported.raw.startswith(b"From: Jana")
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
