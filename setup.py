"""Build hook: the wheel carries the top-level ``config/`` and ``models/`` as package data.

``config/`` and ``models/`` stay where the design card puts them, beside ``src/``; this
copies them into ``ikz_inbox/defaults/`` of the build, where ``ikz_inbox.defaults`` finds
them with ``importlib.resources``. An editable install copies nothing: there the package
reads the checkout's own folders. Everything else is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# The folders copied, relative to ROOT and to ikz_inbox/defaults/ in the wheel.
DEFAULT_TREES = ("config", "models")
# The checkout's own configuration names paths below var/; an installed package has none.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "ikz-inbox.toml")


class BuildWithDefaults(build_py):
    """build_py that also copies the default configuration and the trained models."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "ikz_inbox" / "defaults"
        shutil.rmtree(target, ignore_errors=True)  # no stale files from an earlier build
        for name in DEFAULT_TREES:
            shutil.copytree(ROOT / name, target / name, ignore=IGNORED)


setup(cmdclass={"build_py": BuildWithDefaults})
