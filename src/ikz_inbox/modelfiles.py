"""Write a model folder so that readers see the old one or the new one, never half of each.

In: the target folder. Out: a fresh temporary folder beside it (``replacing_folder``), which
replaces the target when the ``with`` block ends without an error (its folders made 0755
and its files 0644 first) and is removed otherwise.
Used by every trainer (topics, kinds, grouping). Also the fold of a paraphrase ask
(``ask_fold``, ``is_held_out_ask``), so that the topic and the grouping trainer hold out the
same asks and neither trains on the other's test asks.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# mkdtemp creates 0700; the worker may run as another user than the trainer.
MODEL_DIR_MODE = 0o755
MODEL_FILE_MODE = 0o644
# Paraphrase asks fall into crc32(id) % ASK_FOLDS; fold 0 (a fifth of the asks) is held out.
ASK_FOLDS = 5


def ask_fold(ask_id: str) -> int:
    """The fold of a paraphrase ask, 0 to ASK_FOLDS - 1 (stable across runs and machines)."""
    return zlib.crc32(ask_id.encode("utf-8")) % ASK_FOLDS


def is_held_out_ask(ask_id: str) -> bool:
    """Whether a paraphrase ask belongs to the held-out fold of every trainer."""
    return ask_fold(ask_id) == 0


@contextmanager
def replacing_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` that takes its place on success, readable
    by every user."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    temp_dir.chmod(MODEL_DIR_MODE)
    try:
        yield temp_dir
        _make_readable(temp_dir)
        _swap_into_place(temp_dir, target)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    for path in folder.rglob("*"):
        path.chmod(MODEL_DIR_MODE if path.is_dir() else MODEL_FILE_MODE)


def _swap_into_place(temp_dir: Path, target: Path) -> None:
    old_dir = target.with_name(f".{target.name}-old")
    shutil.rmtree(old_dir, ignore_errors=True)
    if target.exists():
        target.rename(old_dir)
    temp_dir.rename(target)
    shutil.rmtree(old_dir, ignore_errors=True)
