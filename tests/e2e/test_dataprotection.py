"""DSGVO end to end: import the sample inbox with the real pipeline, export one sender's
data, forget them, and find none of it in the SQLite file (after VACUUM) or in the
PostgreSQL tables; the audit names the act by a keyed hash only, and cannot be edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from ikz_inbox.app import open_app
from ikz_inbox.cli import app
from ikz_inbox.dataprotection import SERVICE_ACTOR, run_scheduled_purge
from ikz_inbox.store import open_database
from ikz_inbox.store.models import Base

REPO = Path(__file__).resolve().parents[2]
INBOX = REPO / "examples" / "inbox"
# The sender of examples/inbox/0001.eml and what identifies her there (the raw message
# holds her address, her name in the From: line and signature, and her phone number).
ADDRESS = "k.oberhoff@brilon.de"
PERSONAL = ["k.oberhoff@brilon.de", "oberhoff", "katrin", "4710-214"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ikz.sqlite3"
        return
    url: str = request.getfixturevalue("postgres_url")
    database = open_database(url)
    Base.metadata.drop_all(database.engine)
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    database.engine.dispose()
    yield url


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Iterator[CliRunnerCall]:
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\nevents = "{REPO / "config" / "events.toml"}"\n'
        f'lock_dir = "{tmp_path / "state"}"\nreport_dir = "{tmp_path / "reports"}"\n'
        f'cache_dir = "{tmp_path / "cache"}"\n[worker]\nprocesses = 0\n'
    )
    yield CliRunnerCall(["--config", str(config), "--db", db_url])


@pytest.fixture
def config_path(cli: CliRunnerCall) -> Path:
    return Path(cli.options[1])


class CliRunnerCall:
    """Runs `ikz-inbox` commands in-process with the same global options."""

    def __init__(self, options: list[str]) -> None:
        self.options = options
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, [*self.options, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output


def test_export_forget_and_nothing_left(cli: CliRunnerCall, db_url: str, tmp_path: Path) -> None:
    cli("import", str(INBOX))
    export = tmp_path / "personal.json"
    cli("export", "--personal", ADDRESS.upper(), "--output", str(export))
    document = json.loads(export.read_text())
    assert document["schema"] == "ikz-inbox/personal/1"
    [mail] = document["messages"]
    assert mail["from_name"] == "Katrin Oberhoff" and "4710-214" in mail["raw"]
    assert len(mail["questions"]) == 2

    output = cli("forget", "--sender", ADDRESS, "--by", "datenschutz")
    assert "1 Nachrichten" in output

    stored = _stored_text(db_url)
    for term in PERSONAL:
        assert term not in stored, term
    assert "tourismus-gmbh gegründet" in stored  # the questions stay, anonymous
    entries = json.loads(cli("audit", "--json"))
    assert entries[0]["action"] == "forget" and entries[0]["actor"] == "datenschutz"
    assert len(entries[0]["target_id"]) == 64 and entries[0]["target_type"] == "sender"
    assert ADDRESS not in json.dumps(entries)
    cli("export", "--personal", ADDRESS, "--output", str(export))
    assert json.loads(export.read_text())["messages"] == []
    assert "unverändert" in cli("audit", "--verify")


def test_audit_rows_cannot_be_changed(cli: CliRunnerCall, db_url: str) -> None:
    cli("import", str(INBOX))
    cli("forget", "--sender", ADDRESS)
    cli("forget", "--sender", "niemand@example.org")
    database = open_database(db_url)
    try:
        if db_url.startswith("postgresql"):
            for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
                with pytest.raises(DBAPIError, match="append-only"):
                    with database.engine.begin() as connection:
                        connection.execute(text(statement))
            return
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET actor = 'x' WHERE id = 1"))
    finally:
        database.engine.dispose()
    output = cli("audit", "--verify", code=1)
    assert "Eintrag 1: Inhalt nachträglich verändert" in output


def test_service_purges_daily_what_retention_allows(
    cli: CliRunnerCall, config_path: Path, db_url: str
) -> None:
    cli("import", str(INBOX))
    assert "0 Nachrichten" in cli("purge")  # just received: nothing is due
    application = open_app(config_path, db_url)
    try:
        later = datetime.now(UTC) + timedelta(days=181)
        assert run_scheduled_purge(application, later) == 35
        assert run_scheduled_purge(application, later) == 0
    finally:
        application.close()
    stored = _stored_text(db_url)
    for term in PERSONAL:
        assert term not in stored, term
    [entry] = json.loads(cli("audit", "--json"))
    assert (entry["action"], entry["actor"]) == ("purge", SERVICE_ACTOR)
    assert entry["details"]["after"] == {"raw_removed": 0, "personal_removed": 35}


def _stored_text(db_url: str) -> str:
    """Everything the database holds, lower-cased: the SQLite file's bytes (with its log),
    or every row of every table on PostgreSQL (bytea as text and decoded)."""
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return data.decode("latin-1").lower() + data.decode("utf-8", "replace").lower()
    database = open_database(db_url)
    parts: list[str] = []
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for (row,) in connection.execute(text(f"SELECT t::text FROM {table.name} t")):
                parts.append(row)
            if table.name == "messages":
                parts.extend(
                    bytes(raw).decode("utf-8", "replace")
                    for (raw,) in connection.execute(text("SELECT raw FROM messages"))
                )
    database.engine.dispose()
    return "\n".join(parts).lower()
