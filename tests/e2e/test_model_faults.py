"""A missing or corrupt topic model: a clear error in the log, the keyword rules classify
instead, and `status` and `doctor` say so (issue #18)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ikz_inbox.cli import app

REPO = Path(__file__).resolve().parents[2]
MAIL = REPO / "examples" / "inbox" / "0001.eml"


def _break(model: Path, how: str) -> None:
    if how == "missing":
        shutil.rmtree(model)
    elif how == "corrupt":
        (model / "textcat" / "model").write_bytes(bytes(range(256)) * 20)
    elif how == "truncated":
        with (model / "textcat" / "model").open("r+b") as file:
            file.truncate(100)
    else:  # broken metadata
        (model / "meta.json").write_text("{")


@pytest.mark.parametrize("how", ["missing", "corrupt", "truncated", "meta"])
def test_broken_topic_model_falls_back_to_rules_and_is_reported(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "topics"
    shutil.copytree(REPO / "models" / "topics", model)
    _break(model, how)
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\ntopic_model = "{model}"\nlock_dir = "{tmp_path}"\n'
        f'report_dir = "{tmp_path}"\n[worker]\nprocesses = 0\n'
    )
    options = ["--config", str(config), "--db", f"sqlite:///{tmp_path}/ikz.sqlite3"]
    runner = CliRunner()

    with caplog.at_level(logging.ERROR, logger="ikz_inbox.classify"):
        imported = runner.invoke(app, [*options, "import", str(MAIL)], catch_exceptions=False)
    assert imported.exit_code == 0 and "1 gespeichert" in imported.output
    assert any("falling back to keyword rules" in r.getMessage() for r in caplog.records)

    questions = runner.invoke(app, [*options, "questions", "list", "--json"])
    assert {q["model_version"] for q in json.loads(questions.output)} == {"rules-fallback"}

    status = runner.invoke(app, [*options, "status", "--json"])
    assert json.loads(status.output)["model_fallback"] is True
    assert "Stichwortregeln" in runner.invoke(app, [*options, "status"]).output

    doctor = runner.invoke(app, [*options, "doctor"])
    assert doctor.exit_code == 1
    [line] = [line for line in doctor.output.splitlines() if "Themenmodell" in line]
    assert line.startswith("FEHLER") and "Ersatz wären Stichwortregeln" in line
