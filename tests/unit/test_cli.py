"""The CLI's commands in-process (CliRunner) on a real SQLite file in a temp dir: argument
parsing, German messages, ``--json`` shapes, exit codes for bad input (through ``main``,
the console entry point) and that every staff action lands in the audit."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from ikz_inbox import ingest
from ikz_inbox.app import open_app
from ikz_inbox.cli import app, main
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import MessageResult
from tests.unit.test_service import MAILS, mail
from tests.unit.test_store import NOW, unsure_question

REPO = Path(__file__).resolve().parents[2]
SPRECHSTUNDE = "sprechstunde-2024-10-09"
GESUNDHEIT = "spotlight-gesundheit-2024-11-06"


class Cli:
    """``ikz-inbox`` with the test's config and database, in-process."""

    def __init__(self, config: Path, db_url: str) -> None:
        self.options = ["--config", str(config), "--db", db_url]
        self.db_url = db_url
        self.config = config

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(app, [*self.options, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def fails(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
    ) -> tuple[int, str]:
        """Exit code and stderr of the console entry point (which turns errors into 2)."""
        monkeypatch.setattr(sys, "argv", ["ikz-inbox", *self.options, *args])
        code = main()
        return code, capsys.readouterr().err

    def questions(self) -> dict[str, int]:
        return {q["text"]: q["id"] for q in self.json("questions", "list")}

    def cluster_of(self, asked: str) -> int:
        cluster_id: int = self.json("questions", "show", str(self.questions()[asked]))["cluster_id"]
        return cluster_id

    def actions(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.json("audit")
        return entries


def configured_event(new: MessageResult) -> MessageResult:
    """The message with the id of an event in config/events.toml."""
    return replace(new, event_id=SPRECHSTUNDE if new.event_id == SPRECHSTUNDE else GESUNDHEIT)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """Six questions of six senders (as in test_service), two events, five clusters."""
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\nevents = "{REPO / "config" / "events.toml"}"\n'
        f'lock_dir = "{tmp_path / "state"}"\nreport_dir = "{tmp_path / "reports"}"\n'
        f'cache_dir = "{tmp_path / "cache"}"\n[worker]\nprocesses = 0\n'
    )
    db_url = f"sqlite:///{tmp_path}/cli.sqlite3"
    application = open_app(config, db_url)
    try:
        with session_scope(application.database) as session:
            ingest.store_results(session, [configured_event(mail(*row)) for row in MAILS])
            ids = [q.id for q in repository.list_questions(session)]
            repository.apply_clustering(session, {q: q for q in ids} | {ids[2]: ids[1]}, NOW)
            session.commit()
    finally:
        application.close()
    yield Cli(config, db_url)


# --- setup ------------------------------------------------------------------------------


def test_init_writes_the_starter_files_once(tmp_path: Path) -> None:
    target = tmp_path / "neu"
    first = CliRunner().invoke(app, ["init", str(target)])
    assert first.exit_code == 0
    assert f"geschrieben: {target / 'ikz-inbox.toml'}" in first.stdout
    assert f"'ikz-inbox --config {target / 'ikz-inbox.toml'} doctor'" in first.stdout
    (target / "ikz-inbox.toml").write_text("# eigene Einstellungen\n")
    again = CliRunner().invoke(app, ["init", str(target)])
    assert f"vorhanden, nicht überschrieben: {target / 'ikz-inbox.toml'}" in again.stdout
    assert "geschrieben: " not in again.stdout.replace("nicht überschrieben", "")
    assert (target / "ikz-inbox.toml").read_text() == "# eigene Einstellungen\n"


def test_config_shows_origins_and_no_secrets(cli: Cli, tmp_path: Path) -> None:
    rows = cli.json("config")
    assert rows and all(row.keys() == {"key", "value", "origin"} for row in rows)
    origins = {row["key"]: row["origin"] for row in rows}
    assert any(origin != origins[next(iter(origins))] for origin in origins.values())
    report_dir = [row for row in rows if str(tmp_path / "reports") in str(row["value"])]
    assert report_dir and report_dir[0]["origin"] != "Vorgabe"
    text_lines = cli("config").stdout.splitlines()
    assert len(text_lines) == len(rows) and all(" = " in line for line in text_lines)


def test_migrate_names_the_database(cli: Cli) -> None:
    assert cli("migrate").stdout == f"Datenbank ist aktuell: {cli.db_url}\n"


def test_train_refuses_an_unknown_model(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stderr = cli.fails(monkeypatch, capsys, "train", "--model", "alles")
    assert code == 2
    assert "Unbekanntes Modell 'alles': topics, kinds, grouping oder all." in stderr
    assert cli.actions() == []  # nothing retrained, nothing audited


# --- questions --------------------------------------------------------------------------


def test_questions_list_filters_and_json_shape(cli: Cli) -> None:
    rows = cli.json("questions", "list")
    assert [row["text"] for row in rows] == [row[4] for row in MAILS]
    assert rows[0].keys() == {
        "id",
        "message_id",
        "text",
        "topic",
        "topics",
        "confidence",
        "topic_source",
        "model_version",
        "needs_review",
        "cluster_id",
        "event",
        "sender_org",
    }
    by_topic = cli.json("questions", "list", "--topic", "foerderung")
    assert [row["sender_org"] for row in by_topic] == ["Stadt Lemgo", "Stadt Detmold"]
    assert [row["event"] for row in cli.json("questions", "list", "--event", GESUNDHEIT)] == [
        GESUNDHEIT
    ]
    assert cli.json("questions", "list", "--topic", "gibtsnicht") == []
    assert cli("questions", "list").stdout.endswith("\n6 Fragen.\n")
    assert cli("questions", "list", "--topic", "gibtsnicht").stdout.endswith("\n0 Fragen.\n")


def test_questions_review_lists_the_unsure_ones(cli: Cli) -> None:
    assert cli.json("questions", "review") == []
    application = open_app(cli.config, cli.db_url)
    try:
        with session_scope(application.database) as session:
            unsure = unsure_question("Was gilt?", 0.31)
            ingest.store_results(
                session, [replace(mail(*MAILS[1][:3], SPRECHSTUNDE, "x", "foerderung"),
                                  content_sha256="u" * 64, questions=(unsure,))]
            )  # fmt: skip
    finally:
        application.close()
    [row] = cli.json("questions", "review")
    assert (row["text"], row["confidence"], row["needs_review"]) == ("Was gilt?", 0.31, True)
    assert cli("questions", "review").stdout.endswith("\n1 Fragen.\n")


def test_questions_show(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = cli.json("questions", "list")[0]
    assert cli.json("questions", "show", str(first["id"])) == first
    lines = cli("questions", "show", str(first["id"])).stdout.splitlines()
    assert lines[0] == f"{'id':18s} {first['id']}"
    assert f"{'text':18s} Wird aufgezeichnet?" in lines
    code, stderr = cli.fails(monkeypatch, capsys, "questions", "show", "999")
    assert code == 2 and "Frage 999 nicht gefunden" in stderr and "Traceback" not in stderr
    assert cli("questions", "show", "x", code=2).stderr.startswith("Usage: ")


def test_reclassify_is_audited_and_refuses_bad_input(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qid = cli.questions()["Wer prüft den Verwendungsnachweis?"]
    done = cli("questions", "reclassify", str(qid), "foerderung", "--by", "anna", "--note", "n")
    assert done.stdout == f"Frage {qid}: Thema finanzen → foerderung (protokolliert).\n"
    shown = cli.json("questions", "show", str(qid))
    assert (shown["topic"], shown["topic_source"]) == ("foerderung", "staff")
    [entry] = cli.actions()
    assert (entry["action"], entry["actor"], entry["note"]) == ("reclassify", "anna", "n")
    assert entry["details"] == {"from": "finanzen", "to": "foerderung"}
    code, stderr = cli.fails(monkeypatch, capsys, "questions", "reclassify", str(qid), "quatsch")
    assert code == 2 and "Unbekanntes Thema 'quatsch'. Erlaubt: " in stderr
    code, stderr = cli.fails(monkeypatch, capsys, "questions", "reclassify", "999", "personal")
    assert code == 2 and "Frage 999 nicht gefunden" in stderr
    assert len(cli.actions()) == 1


# --- clusters ---------------------------------------------------------------------------


def test_clusters_list_json_ranked_first_and_per_event(cli: Cli) -> None:
    clusters = cli.json("clusters", "list")
    assert len(clusters) == 5
    assert {
        "id",
        "event_id",
        "topic",
        "representative_question_id",
        "rank",
        "score",
        "reason",
        "pinned",
        "excluded",
        "answered",
        "question_ids",
        "representative",
    } == clusters[0].keys()
    ranks = [c["rank"] for c in clusters]
    assert ranks == [1, 2, 3, 4, None]
    assert clusters[-1]["topic"] == "organisation"
    assert clusters[-1]["representative"] == "Wird aufgezeichnet?"
    [gesundheit] = cli.json("clusters", "list", "--event", GESUNDHEIT)
    assert gesundheit["representative"] == "Gibt es Geld für Praxen?"
    assert gesundheit["event_id"] == GESUNDHEIT
    rows = [line.split("│") for line in cli("clusters", "list").stdout.splitlines()]
    ranks_shown = [row[1].strip() for row in rows if len(row) > 2 and row[1].strip()]
    assert ranks_shown == ["1", "2", "3", "4", "-"]


def test_clusters_show(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = cli.cluster_of("Wie hoch ist die Förderquote?")
    cli("clusters", "list")  # ranks it
    questions = cli.questions()
    lines = cli("clusters", "show", str(shared)).stdout.splitlines()
    assert lines[0].startswith(f"Gruppe {shared} · Rang 1 · foerderung · ")
    assert lines[1:] == [
        f"  [{questions['Wie hoch ist die Förderquote?']}] Wie hoch ist die Förderquote? "
        "(Stadt Lemgo)",
        f"  [{questions['Förderquote für Kreise?']}] Förderquote für Kreise? (Stadt Detmold)",
    ]
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "show", "999")
    assert code == 2 and "Gruppe 999 nicht gefunden" in stderr


@pytest.mark.parametrize(
    ("action", "message", "flag", "value"),
    [
        ("pin", "Gruppe {} angeheftet (protokolliert).", "pinned", True),
        ("exclude", "Gruppe {} aus dem Briefing ausgeschlossen (protokolliert).", "excluded", True),
        ("answered", "Gruppe {} als beantwortet markiert (protokolliert).", "answered", True),
    ],
)
def test_cluster_flags_are_set_and_audited(
    cli: Cli, action: str, message: str, flag: str, *, value: bool
) -> None:
    target = cli.cluster_of("Ist ein Zweckverband nötig?")
    result = cli("clusters", action, str(target), "--by", "mod", "--note", "warum")
    assert result.stdout == message.format(target) + "\n"
    listed = {c["id"]: c for c in cli.json("clusters", "list")}
    assert listed[target][flag] is value
    assert (listed[target]["rank"] == 1) is (action == "pin")
    [entry] = cli.actions()
    assert (entry["action"], entry["actor"], entry["note"]) == (action, "mod", "warum")
    assert (entry["target_type"], entry["target_id"]) == ("cluster", str(target))
    assert entry["details"] == {flag: value, "before": False}


def test_cluster_flags_are_undone_and_unknown_clusters_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = cli.cluster_of("Ist ein Zweckverband nötig?")
    cli("clusters", "pin", str(target))
    cli("clusters", "exclude", str(target))
    assert cli("clusters", "unpin", str(target)).stdout == (
        f"Gruppe {target} nicht mehr angeheftet (protokolliert).\n"
    )
    assert cli("clusters", "include", str(target)).stdout == (
        f"Gruppe {target} wieder im Briefing (protokolliert).\n"
    )
    listed = {c["id"]: c for c in cli.json("clusters", "list")}
    assert not listed[target]["pinned"] and not listed[target]["excluded"]
    actions = [entry["action"] for entry in cli.actions()]
    assert actions == ["include", "unpin", "exclude", "pin"]
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "pin", "999")
    assert code == 2 and "Gruppe 999 nicht gefunden" in stderr
    assert len(cli.actions()) == 4


def test_answered_is_undone(cli: Cli) -> None:
    target = cli.cluster_of("Ist ein Zweckverband nötig?")
    cli("clusters", "answered", str(target))
    assert cli("clusters", "unanswered", str(target)).stdout == (
        f"Gruppe {target} wieder als offen markiert (protokolliert).\n"
    )
    assert not {c["id"]: c for c in cli.json("clusters", "list")}[target]["answered"]
    assert [entry["action"] for entry in cli.actions()] == ["unanswered", "answered"]


def test_merge_and_split_are_audited(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = cli.cluster_of("Wer prüft den Verwendungsnachweis?")
    second = cli.cluster_of("Ist ein Zweckverband nötig?")
    result = cli("clusters", "merge", str(first), str(second), "--by", "mod")
    assert result.stdout == f"Gruppen {first}, {second} zusammengeführt (protokolliert).\n"
    merged = cli.cluster_of("Ist ein Zweckverband nötig?")
    assert merged == cli.cluster_of("Wer prüft den Verwendungsnachweis?")
    moved = cli.questions()["Ist ein Zweckverband nötig?"]
    result = cli("clusters", "split", str(merged), str(moved), "--note", "anderes Anliegen")
    assert result.stdout == f"Fragen {moved} aus Gruppe {merged} gelöst (protokolliert).\n"
    assert cli.cluster_of("Ist ein Zweckverband nötig?") != merged
    split, merge = cli.actions()
    assert (split["action"], split["note"], merge["action"], merge["actor"]) == (
        "split",
        "anderes Anliegen",
        "merge",
        "mod",
    )
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "merge", str(first))
    assert code == 2 and "mindestens zwei verschiedene Gruppen" in stderr
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "split", str(merged), "999")
    assert code == 2 and f"gehören nicht alle zu Gruppe {merged}" in stderr
    assert len(cli.actions()) == 2


def test_suggestions_are_decided_and_audited(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suggestions = cli.json("clusters", "suggest", "--limit", "50")
    assert all(
        s.keys() == {"key", "action", "question_id", "other_question_id", "similarity", "texts"}
        for s in suggestions
    )
    questions = cli.questions()
    soest, hamm = (
        questions["Wer prüft den Verwendungsnachweis?"],
        questions["Ist ein Zweckverband nötig?"],
    )
    key = f"merge:{soest}:{hamm}"
    accepted = cli("clusters", "accept", key, "--by", "mod")
    assert accepted.stdout == f"Vorschlag {key}: zusammengeführt (protokolliert).\n"
    assert cli.cluster_of("Ist ein Zweckverband nötig?") == cli.cluster_of(
        "Wer prüft den Verwendungsnachweis?"
    )
    lemgo = questions["Wie hoch ist die Förderquote?"]
    other = f"merge:{lemgo}:{soest}"
    assert cli("clusters", "reject", other).stdout == (
        f"Vorschlag {other}: getrennt gehalten (protokolliert).\n"
    )
    assert [e["action"] for e in cli.actions()] == ["suggestion-reject", "suggestion-accept"]
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "accept", "merge:eins:zwei")
    assert code == 2 and "Unbekannter Vorschlag 'merge:eins:zwei'" in stderr
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "reject", f"merge:{lemgo}:999")
    assert code == 2 and "Frage 999 nicht gefunden" in stderr
    assert len(cli.actions()) == 2


def test_suggest_without_uncertain_decisions(cli: Cli) -> None:
    output = cli("clusters", "suggest", "--event", "gibtsnicht").stdout
    assert output == "Keine unsicheren Entscheidungen.\n"
    assert cli.json("clusters", "suggest", "--event", "gibtsnicht") == []


# --- audit ------------------------------------------------------------------------------


def test_audit_limit_since_and_table(cli: Cli) -> None:
    target = cli.cluster_of("Ist ein Zweckverband nötig?")
    for action in ("pin", "unpin", "exclude"):
        cli("clusters", action, str(target), "--by", "mod")
    assert [e["action"] for e in cli.json("audit", "--limit", "2")] == ["exclude", "unpin"]
    assert len(cli.json("audit", "--limit", "0")) == 3
    assert cli.json("audit", "--since", "2999-01-01") == []
    assert len(cli.json("audit", "--since", "2000-01-01T00:00:00")) == 3
    assert "Zeit" in cli("audit").stdout
    bad = cli("audit", "--since", "gestern", code=2)
    assert "'gestern'" in bad.stderr


def test_audit_verify(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = cli.cluster_of("Ist ein Zweckverband nötig?")
    cli("clusters", "pin", str(target))
    cli("clusters", "unpin", str(target))
    verified = cli("audit", "--verify")
    assert verified.stdout == "Protokoll unverändert: 2 Einträge, Hash-Kette lückenlos.\n"
    application = open_app(cli.config, cli.db_url)
    try:
        with application.database.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET actor = 'x' WHERE action = 'pin'"))
    finally:
        application.close()
    code, stderr = cli.fails(monkeypatch, capsys, "audit", "--verify")
    assert code == 1
    assert "Protokoll manipuliert: 1 Befund(e) in 2 Einträgen." in stderr
    tampered = cli("audit", "--verify", code=1)
    assert "Inhalt nachträglich verändert" in tampered.stdout


# --- reports and export -----------------------------------------------------------------


def test_report_checks_the_format_and_event(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stderr = cli.fails(monkeypatch, capsys, "report", "--format", "docx")
    assert code == 2 and "--format muss 'html', 'pdf' oder 'md' sein." in stderr
    code, stderr = cli.fails(monkeypatch, capsys, "report", "--event", "gibtsnicht")
    assert code == 2 and "Unbekannte Veranstaltung: gibtsnicht" in stderr
    markdown = cli("report", "--event", SPRECHSTUNDE, "--format", "md", "--output", "-").stdout
    assert markdown.startswith("# Fragen-Briefing: Digitale Sprechstunde")
    assert "Wie hoch ist die Förderquote?" in markdown or "Förderquote für Kreise?" in markdown


def test_report_and_briefing_write_files(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "b.md"
    written = cli("report", "--event", GESUNDHEIT, "--format", "md", "--output", str(target))
    assert written.stdout == f"Briefing geschrieben: {target}\n"
    assert "Gibt es Geld für Praxen?" in target.read_text()
    briefing = cli("briefing", "--event", SPRECHSTUNDE).stdout
    reports = tmp_path / "reports"
    for suffix in ("html", "pdf", "md"):
        path = reports / f"briefing-{SPRECHSTUNDE}.{suffix}"
        assert f"Briefing geschrieben: {path}" in briefing and path.is_file()
    assert "\nDie 5 wichtigsten Fragen (Digitale Sprechstunde" in briefing
    assert "  1. " in briefing and "Briefing per E-Mail versandt." not in briefing


def test_export_general_per_event_and_personal(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    assert cli("export", "--output", str(target)).stdout == f"Export geschrieben: {target}\n"
    document = json.loads(target.read_text())
    assert document.keys() == {"schema", "messages", "questions", "clusters"}
    assert document["schema"] == "ikz-inbox/export/1" and len(document["messages"]) == 6
    cli("export", "--output", str(target), "--event", GESUNDHEIT)
    assert [m["event"] for m in json.loads(target.read_text())["messages"]] == [GESUNDHEIT]
    cli("export", "--output", str(target), "--personal", "A@Lemgo.de")
    personal = json.loads(target.read_text())
    assert personal["schema"] == "ikz-inbox/personal/1"
    assert [m["message_id"] for m in personal["messages"]] == ["<m1@example.org>"]


# --- data protection --------------------------------------------------------------------


def test_purge_shows_the_plan_and_deletes_only_with_yes(cli: Cli) -> None:
    # The messages were received in 2024: the default retention (180 days) has run out.
    plan = [
        "Rohnachricht entfernen (älter als 90 Tage): 0 Nachrichten",
        "Absenderdaten entfernen (älter als 180 Tage): 6 Nachrichten",
    ]
    dry = cli("purge").stdout.splitlines()
    assert dry == [*plan, "Nichts gelöscht (Probelauf). Mit --yes ausführen."]
    assert cli.actions() == []
    done = cli("purge", "--yes", "--by", "dsb").stdout.splitlines()
    assert done == [*plan, "Gelöscht und protokolliert."]
    [entry] = cli.actions()
    assert (entry["action"], entry["actor"]) == ("purge", "dsb")
    assert entry["details"]["after"] == {"raw_removed": 0, "personal_removed": 6}
    assert cli("purge", "--yes").stdout.splitlines()[-1] == "Nichts zu löschen."
    assert len(cli.actions()) == 1


def test_forget_is_audited_by_hash(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = cli("forget", "--sender", "a@lemgo.de", "--by", "dsb", "--note", "Antrag")
    [entry] = cli.actions()
    assert result.stdout == (
        "Gelöscht: 1 Nachrichten dieser Adresse (1 Fragen bleiben anonym), Adresse aus 0 "
        f"weiteren Nachrichten entfernt. Protokolliert als HMAC-SHA256 {entry['target_id']}.\n"
    )
    assert (entry["action"], entry["actor"], entry["note"]) == ("forget", "dsb", "Antrag")
    assert "lemgo" not in json.dumps(entry)
    assert (cli.config.parent / "state" / "audit-key").is_file()
    assert "--sender" in cli("forget", code=2).stderr


def test_error_texts_keep_emoji_codes_as_typed(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stderr = cli.fails(monkeypatch, capsys, "clusters", "accept", "merge:x:y")
    assert code == 2 and "merge:x:y" in stderr and "❌" not in stderr
