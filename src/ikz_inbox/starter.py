"""``ikz-inbox init``: write a commented starter config and events file.

In: a folder. Out: the starter files written there, never over an existing file. The
templates are package data (``ikz_inbox/starter_files/``), read with ``importlib.resources``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

# The files `init` writes, by name; the same names as the templates in the package.
STARTER_FILES = ("ikz-inbox.toml", "events.toml")


@dataclass(frozen=True)
class StarterFile:
    """One starter file and whether `init` wrote it (False: it existed and was kept)."""

    path: Path
    written: bool


def write_starter_files(directory: Path) -> list[StarterFile]:
    """Write the starter files into ``directory`` (created if missing); keep existing ones."""
    directory.mkdir(parents=True, exist_ok=True)
    return [_write_new(directory / name, _template(name)) for name in STARTER_FILES]


def _template(name: str) -> str:
    return (files("ikz_inbox") / "starter_files" / name).read_text(encoding="utf-8")


def _write_new(path: Path, text: str) -> StarterFile:
    try:
        # "x": fails when the file exists, so nothing is ever overwritten, even in a race.
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return StarterFile(path, written=False)
    return StarterFile(path, written=True)
