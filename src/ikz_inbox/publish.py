"""Write report files atomically (temporary file + rename), for the CLI and the worker."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from ikz_inbox.report import render_briefing
from ikz_inbox.types import Briefing

BRIEFING_FORMATS = ("html", "md")


def write_atomically(path: Path, text: str) -> None:
    """Write a file via a temporary file and a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, prefix=f".{path.name}.", suffix=".tmp"
    ) as handle:
        handle.write(text)
        temporary = Path(handle.name)
    temporary.chmod(0o644)
    temporary.replace(path)


def write_briefing_files(
    briefing: Briefing, report_dir: Path, topic_labels: Mapping[str, str]
) -> list[Path]:
    """Write briefing.html and briefing.md into ``report_dir``; return their paths."""
    paths = []
    for fmt in BRIEFING_FORMATS:
        path = report_dir / f"briefing.{fmt}"
        write_atomically(
            path, render_briefing(briefing, "md" if fmt == "md" else "html", dict(topic_labels))
        )
        paths.append(path)
    return paths
