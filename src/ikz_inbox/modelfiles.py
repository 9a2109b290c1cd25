"""Write a model folder so that readers see the old one or the new one, never half of each.

In: the target folder. Out: a fresh temporary folder beside it (``replacing_folder``), which
replaces the target when the ``with`` block ends without an error and is removed otherwise.
Used by every trainer (topics, kinds, grouping).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# mkdtemp creates 0700; the worker may run as another user than the trainer.
MODEL_DIR_MODE = 0o755


@contextmanager
def replacing_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` that takes its place on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    temp_dir.chmod(MODEL_DIR_MODE)
    try:
        yield temp_dir
        _swap_into_place(temp_dir, target)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _swap_into_place(temp_dir: Path, target: Path) -> None:
    old_dir = target.with_name(f".{target.name}-old")
    shutil.rmtree(old_dir, ignore_errors=True)
    if target.exists():
        target.rename(old_dir)
    temp_dir.rename(target)
    shutil.rmtree(old_dir, ignore_errors=True)
