"""ikz_inbox.app: worker process count, open_app on a throwaway SQLite, processor_for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ikz_inbox.app import (
    AUTO_PROCESSES_MAX,
    POOL_FROM_MESSAGES,
    App,
    open_app,
    worker_processes,
)
from ikz_inbox.config import load_events
from ikz_inbox.errors import ConfigError
from ikz_inbox.processing import InlineProcessor, PoolProcessor

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO / "config" / "ikz-inbox.toml"
EVENT = (
    '[[event]]\nid = "eigene-2025"\ntitle = "Eigene"\nstarts_at = 2025-03-01T10:00:00+01:00\n'
    "ends_at = 2025-03-01T11:00:00+01:00\nquestions_from = 2025-02-01\n"
    "questions_until = 2025-03-01\nthemes = []\nkeywords = []\n"
)


def write_config(folder: Path, extra: str = "") -> Path:
    config = folder / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\nlock_dir = "{folder}"\nreport_dir = "{folder}/out"\n'
        f'cache_dir = "{folder}/cache"\n{extra}'
    )
    return config


@pytest.fixture
def sample_app(tmp_path: Path) -> Iterator[App]:
    app = open_app(SAMPLE_CONFIG, f"sqlite:///{tmp_path}/app.sqlite3")
    yield app
    app.close()


@pytest.mark.parametrize(
    ("configured", "cpus", "expected"),
    [
        (None, None, 0),
        (None, 1, 0),
        (None, 2, 2),
        (None, 3, 3),
        (None, 64, AUTO_PROCESSES_MAX),
        (0, 8, 0),
        (6, 1, 6),
    ],
)
def test_worker_processes(configured: int | None, cpus: int | None, expected: int) -> None:
    assert worker_processes(configured, cpus) == expected


def test_open_app_migrates_and_mirrors_the_events(sample_app: App, tmp_path: Path) -> None:
    configured = load_events(REPO / "config" / "events.toml")
    assert [event.id for event in sample_app.events] == [event.id for event in configured]
    with sample_app.database.engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text("SELECT id FROM events"))}
    assert stored == {event.id for event in configured}
    assert (tmp_path / "app.sqlite3").is_file()
    assert "organisation" in sample_app.topic_ids
    assert set(sample_app.topic_labels) == set(sample_app.topic_ids)


def test_open_app_takes_the_largest_message_limit_of_all_mailboxes(tmp_path: Path) -> None:
    mailboxes = (
        '[imap]\nhost = "imap.example.org"\nusername = "ikz"\npassword_env = "X"\n'
        "max_message_bytes = 1000\n"
        '[[mailboxes]]\nname = "zwei"\nhost = "imap.example.org"\nusername = "b"\n'
        'password_env = "X"\nmax_message_bytes = 3000\n'
    )
    app = open_app(write_config(tmp_path, mailboxes), f"sqlite:///{tmp_path}/a.sqlite3")
    try:
        assert app.pipeline_spec.max_message_bytes == 3000
    finally:
        app.close()


def test_open_app_without_mailboxes_keeps_the_default_limit(tmp_path: Path) -> None:
    app = open_app(write_config(tmp_path), f"sqlite:///{tmp_path}/a.sqlite3")
    try:
        assert app.pipeline_spec.max_message_bytes == 25_000_000
    finally:
        app.close()


def test_open_app_with_its_own_events_file(tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text(EVENT)
    config = write_config(tmp_path, f'events = "{tmp_path}/fehlt.toml"\n')
    with pytest.raises(ConfigError, match="events"):
        open_app(config, f"sqlite:///{tmp_path}/a.sqlite3")
    app = open_app(config, f"sqlite:///{tmp_path}/a.sqlite3", events_path=events)
    try:
        assert [event.id for event in app.events] == ["eigene-2025"]
    finally:
        app.close()


def test_processor_for_stays_in_process_when_processes_are_off(tmp_path: Path) -> None:
    app = open_app(write_config(tmp_path, "[worker]\nprocesses = 0\n"), "sqlite://")
    try:
        assert app.pool_processor is None
        processor = app.processor_for(10 * POOL_FROM_MESSAGES)
        assert isinstance(processor, InlineProcessor)
        assert processor is app.inline_processor
    finally:
        app.close()


def test_processor_for_uses_the_pool_only_from_a_batch_size_on(tmp_path: Path) -> None:
    app = open_app(write_config(tmp_path, "[worker]\nprocesses = 2\n"), "sqlite://")
    try:
        assert app.processor_for(POOL_FROM_MESSAGES - 1) is app.inline_processor
        pool = app.processor_for(POOL_FROM_MESSAGES)
        assert isinstance(pool, PoolProcessor)
        assert not pool.started  # choosing the pool starts no process yet
    finally:
        app.close()
