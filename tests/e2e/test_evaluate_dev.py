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
