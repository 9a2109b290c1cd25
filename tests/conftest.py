"""Shared fixtures: paths, the shared data folder, and the database URL for store tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import REQUIRE_POSTGRES, unavailable
from tests.postgres import private_postgres

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db-url",
        default=None,
        help="run store tests against this database URL (e.g. postgresql+psycopg://...)",
    )
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/data/golden instead of comparing",
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): corpus and evaluation tests skipped")
    return SHARED


@pytest.fixture(scope="session")
def config_dir() -> Path:
    return REPO_ROOT / "config"


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real PostgreSQL: --db-url if given, else a private server; skip when impossible
    (fail instead when IKZ_REQUIRE_POSTGRES=1, see tests/components.py)."""
    given = request.config.getoption("--db-url")
    if given and given.startswith("postgresql"):
        yield given
        return
    try:
        with private_postgres() as url:
            yield url
    except (RuntimeError, OSError) as exc:
        unavailable(REQUIRE_POSTGRES, "PostgreSQL", str(exc))
    except subprocess.SubprocessError as exc:  # initdb or pg_ctl failed or timed out
        unavailable(REQUIRE_POSTGRES, "PostgreSQL", f"could not be started: {exc}")
