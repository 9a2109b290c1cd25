"""replacing_folder: the new folder replaces the old one whole, readable by the worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ikz_inbox.modelfiles import replacing_folder


def test_written_folders_and_files_are_readable_by_every_user(tmp_path: Path) -> None:
    target = tmp_path / "model"
    old_umask = os.umask(0o077)
    try:
        with replacing_folder(target) as folder:
            (folder / "weights.bin").write_bytes(b"1")
            (folder / "vocab").mkdir()
            (folder / "vocab" / "strings.json").write_text("[]", encoding="utf-8")
    finally:
        os.umask(old_umask)
    assert target.stat().st_mode & 0o777 == 0o755
    assert (target / "vocab").stat().st_mode & 0o777 == 0o755
    assert (target / "weights.bin").stat().st_mode & 0o777 == 0o644
    assert (target / "vocab" / "strings.json").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replacing_folder(target) as folder:
        (folder / "new.txt").write_text("new", encoding="utf-8")
        raise RuntimeError("training failed")
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    assert (target / "old.txt").read_text(encoding="utf-8") == "old"
