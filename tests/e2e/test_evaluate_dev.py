"""`ikz-inbox evaluate` on the shared dev set prints what the reference scorer prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BINARY = str(Path(sys.executable).parent / "ikz-inbox")


def test_evaluate_equals_reference_scorer(shared_dir: Path, tmp_path: Path) -> None:
    dev = shared_dir / "evalsets" / "dev"
    export = tmp_path / "export.json"
    ours = subprocess.run(
        [BINARY, "evaluate", str(dev), "--json", "--export", str(export)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    reference = subprocess.run(
        [
            sys.executable,
            str(shared_dir / "evalsets" / "score.py"),
            "--labels",
            str(dev / "labels.jsonl"),
            "--export",
            str(export),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ours_metrics = json.loads(ours.stdout)
    reference_metrics = json.loads(reference.stdout)
    assert ours_metrics.keys() == reference_metrics.keys()
    for key, value in reference_metrics.items():
        assert ours_metrics[key] == pytest.approx(value, abs=1e-9), key
    assert ours_metrics["messages_accounted"] == 1.0


EVENTS_TOML = """
[[event]]
id = "spotlight-waermeplanung-2031-03-05"
title = "Online-Spotlight Gemeinsame Wärmeplanung"
starts_at = 2031-03-05T10:00:00+01:00
ends_at = 2031-03-05T11:00:00+01:00
questions_from = 2031-02-01
questions_until = 2031-03-05
themes = ["Wärmeplanung"]
keywords = ["Wärmeplanung"]
"""

MESSAGE = """\
From: Jana Beispiel <j.beispiel@lemgo.de>
To: IKZ@Interkommunales.NRW
Subject: Frage zum Spotlight Wärmeplanung
Message-ID: <waerme-1@lemgo.de>
Date: Mon, 10 Feb 2031 09:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Guten Tag,

dürfen zwei Gemeinden ihre kommunale Wärmeplanung gemeinsam beauftragen?

Mit freundlichen Grüßen
Jana Beispiel
Stadt Lemgo
"""


def test_evaluate_uses_the_folders_own_events(tmp_path: Path) -> None:
    """An evaluation folder with an events.toml is scored with its own events, which no
    configured file knows."""
    (tmp_path / "events.toml").write_text(EVENTS_TOML, encoding="utf-8")
    (tmp_path / "0001.eml").write_text(MESSAGE, encoding="utf-8")
    label = {
        "file": "0001.eml",
        "message_id": "<waerme-1@lemgo.de>",
        "kind": "frage",
        "event": "spotlight-waermeplanung-2031-03-05",
        "sender_org": "Stadt Lemgo",
        "resend_of": None,
        "questions": [
            {
                "text": "dürfen zwei Gemeinden ihre kommunale Wärmeplanung gemeinsam beauftragen?",
                "topic": "rechtsform",
                "topics": ["rechtsform"],
                "group": "G001",
            }
        ],
    }
    (tmp_path / "labels.jsonl").write_text(json.dumps(label) + "\n", encoding="utf-8")
    result = subprocess.run(
        [BINARY, "evaluate", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    metrics = json.loads(result.stdout)
    assert metrics["event_accuracy"] == 1.0
    assert metrics["question_recall"] == 1.0
