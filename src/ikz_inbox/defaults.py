"""Where the packaged defaults and the per-user state live.

In: nothing but the environment. Out: folders.

- ``defaults_root()`` is the folder holding ``config/`` (taxonomy, gazetteer, lexicon,
  training data, spaCy config, the sample events) and ``models/`` (the trained models).
  In an installed wheel that is ``ikz_inbox/defaults/``, put there by the build hook in
  ``setup.py`` and found with ``importlib.resources``; in an editable install of a checkout
  it is the checkout itself, whose top-level ``config/`` and ``models/`` are the source.
- ``state_root(environ)`` is where the database, reports, locks and caches go when no
  configuration names a place: ``$STATE_DIRECTORY`` under systemd, else
  ``$XDG_DATA_HOME/ikz-inbox``, else ``~/.local/share/ikz-inbox``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from ikz_inbox.errors import ConfigError

# The folder below the package that the build hook fills.
PACKAGED_FOLDER = "defaults"
# A file every complete set of defaults has; marks a checkout as one.
MARKER = Path("config") / "taxonomy.toml"
APP_FOLDER = "ikz-inbox"


def defaults_root() -> Path:
    """Return the folder that holds the packaged ``config/`` and ``models/``."""
    package = files("ikz_inbox")
    packaged = package / PACKAGED_FOLDER
    if isinstance(packaged, Path) and (packaged / MARKER).is_file():
        return packaged
    # Editable install: the package is src/ikz_inbox inside the checkout.
    if isinstance(package, Path) and (package.parents[1] / MARKER).is_file():
        return package.parents[1]
    raise ConfigError(
        f"Paketdaten fehlen / packaged defaults missing: no {MARKER} in {packaged} "
        "(install the wheel, not a bare copy of the sources)"
    )


def packaged(relative: str) -> Path:
    """Return a packaged default file or folder, e.g. ``packaged("config/taxonomy.toml")``."""
    return defaults_root() / relative


def state_root(environ: Mapping[str, str]) -> Path:
    """Return the per-user (or per-service) folder for the database, reports and locks."""
    systemd = environ.get("STATE_DIRECTORY", "")
    if systemd:
        # systemd lists one folder per StateDirectory= entry, separated by colons.
        return Path(systemd.split(":")[0])
    xdg = environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP_FOLDER
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".local" / "share" / APP_FOLDER
