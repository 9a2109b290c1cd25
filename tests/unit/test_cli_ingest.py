"""The CLI's ingest commands in-process on a real SQLite file: `import`, `reprocess`,
`evaluate`, `poll` and `status`: their German output, ``--json`` and exit codes. (The
polls themselves run against Dovecot in tests/integration/test_worker.py.)"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ikz_inbox.cli import app, main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "inbox"


@pytest.fixture
def options(tmp_path: Path) -> list[str]:
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\nlock_dir = "{tmp_path / "state"}"\nreport_dir = "{tmp_path / "reports"}"\n'
        f'cache_dir = "{tmp_path / "cache"}"\n[worker]\nprocesses = 0\n'
    )
    return ["--config", str(config), "--db", f"sqlite:///{tmp_path}/cli.sqlite3"]


def run(options: list[str], *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, [*options, *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def entry_point(
    options: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> tuple[int, str]:
    """Exit code and stderr of the console entry point (which turns errors into codes)."""
    monkeypatch.setattr(sys, "argv", ["ikz-inbox", *options, *args])
    code = main()
    return code, " ".join(capsys.readouterr().err.split())  # Rich wraps long lines


def test_import_counts_stored_duplicates_and_quarantined(options: list[str]) -> None:
    first = run(options, "import", str(SAMPLE))
    assert first.stdout == (
        "Importiert: 35 gespeichert, 1 Duplikate übersprungen, 0 in Quarantäne.\n"
    )
    again = run(options, "import", str(SAMPLE / "0001.eml"))
    assert again.stdout == "Importiert: 0 gespeichert, 1 Duplikate übersprungen, 0 in Quarantäne.\n"


def test_import_of_a_missing_path_is_a_german_error_and_stores_nothing(
    options: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    missing = tmp_path / "gibtsnicht"
    code, stderr = entry_point(options, monkeypatch, capsys, "import", str(SAMPLE), str(missing))
    assert code == 2 and f"Pfad nicht gefunden: {missing}" in stderr
    status = json.loads(run(options, "status", "--json").stdout)
    assert status["counts"].get("status:processed", 0) == 0


def test_reprocess_reports_each_message_and_classify_the_changed_topics(
    options: list[str],
) -> None:
    run(options, "import", str(SAMPLE))
    assert run(options, "reprocess", "--by", "test").stdout == "35 Nachrichten neu verarbeitet.\n"
    classified = run(options, "reprocess", "--classify", "--by", "test").stdout
    assert classified == "Themen neu zugeordnet; 0 Fragen haben ein anderes Thema.\n"
    actions = [entry["action"] for entry in json.loads(run(options, "audit", "--json").stdout)]
    assert actions[:2] == ["reprocess-classify", "reprocess"]


def test_status_without_mailboxes_is_healthy_and_counts_messages(options: list[str]) -> None:
    run(options, "import", str(SAMPLE))
    report = json.loads(run(options, "status", "--json").stdout)
    assert report["healthy"] is True and report["overdue"] == []
    assert report["counts"]["status:processed"] == 35
    assert report["model_fallback"] is False
    assert "Nachrichten: 35 verarbeitet, 0 in Quarantäne" in run(options, "status").stdout


def test_poll_without_an_imap_section_is_a_configuration_error(
    options: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stderr = entry_point(options, monkeypatch, capsys, "poll")
    assert code == 2 and "Kein Postfach konfiguriert" in stderr


def test_evaluate_scores_a_labelled_folder_in_a_scratch_database(
    options: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "labelled"
    shutil.copytree(SAMPLE, folder)
    export = tmp_path / "export.json"
    metrics = json.loads(
        run(options, "evaluate", str(folder), "--json", "--export", str(export)).stdout
    )
    assert metrics["messages"] == 35 and metrics["kind_macro_f1"] > 0.9
    assert 0.0 < metrics["dedup_pairwise_f1"] <= 1.0
    assert len(json.loads(export.read_text())["messages"]) == 35
    # the scratch database is not the configured one
    assert json.loads(run(options, "status", "--json").stdout)["counts"] == {}


def test_evaluate_without_labels_is_a_german_error(
    options: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, stderr = entry_point(options, monkeypatch, capsys, "evaluate", str(tmp_path))
    assert code == 2 and "labels.jsonl fehlt." in stderr
