"""Skip or fail when a real component a test talks to is missing.

A developer machine without PostgreSQL, Chromium or Dovecot skips the tests that need
them, with the reason. CI installs all of them (``scripts/install-system-deps.sh``) and
sets ``IKZ_REQUIRE_<COMPONENT>=1`` (see ``.ci/run``), which turns that skip into a failure,
so a broken installation cannot hide behind a green run.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from tests.e2e.cdp import find_chromium

REQUIRE_DOVECOT = "IKZ_REQUIRE_DOVECOT"
REQUIRE_POSTGRES = "IKZ_REQUIRE_POSTGRES"
REQUIRE_CHROMIUM = "IKZ_REQUIRE_CHROMIUM"
# The command-line tools some tests need: systemd-analyze (the unit), openssl (SMTP TLS).
REQUIRE_TOOLS = "IKZ_REQUIRE_TOOLS"


def unavailable(variable: str, component: str, reason: str) -> NoReturn:
    """Skip the test, or fail it when the environment sets ``variable`` to 1."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{component} is required ({variable}=1) but unavailable: {reason}")
    pytest.skip(f"{component} unavailable: {reason}")


def chromium_or_skip() -> str:
    """The path of a headless-capable Chromium; skip (or fail, see REQUIRE_CHROMIUM)."""
    browser = find_chromium()
    if browser is None:
        unavailable(
            REQUIRE_CHROMIUM,
            "Chromium",
            "no chromium, chromium-browser or google-chrome on PATH "
            "(make test installs Debian's chromium as root)",
        )
    return browser


def tool_or_skip(name: str, purpose: str) -> str:
    """The path of the command ``name``; skip (or fail, see REQUIRE_TOOLS) without it."""
    found = shutil.which(name)
    if found is None:
        unavailable(REQUIRE_TOOLS, name, f"not on PATH; needed for {purpose}")
    return found
