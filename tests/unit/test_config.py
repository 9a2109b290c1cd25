from __future__ import annotations

from pathlib import Path

import pytest

from ikz_inbox.config import load_events, load_settings
from ikz_inbox.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.config_path is None
    assert settings.database_url == "sqlite:///var/ikz-inbox.sqlite3"


def test_lookup_order_explicit_then_environment(tmp_path: Path) -> None:
    explicit = write(tmp_path / "a.toml", '[database]\nurl = "sqlite:///a.db"\n')
    from_env = write(tmp_path / "b.toml", '[database]\nurl = "sqlite:///b.db"\n')
    env = {"IKZ_INBOX_CONFIG": str(from_env)}
    assert load_settings(explicit, environ=env).database_url == "sqlite:///a.db"
    assert load_settings(None, environ=env).database_url == "sqlite:///b.db"


def test_database_url_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[database]\nurl = "sqlite:///file.db"\n')
    env = {"IKZ_INBOX_DATABASE_URL": "sqlite:///env.db"}
    assert load_settings(path, environ=env).database_url == "sqlite:///env.db"
    assert load_settings(path, "sqlite:///cli.db", environ=env).database_url == "sqlite:///cli.db"


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[paths]\ntaxonomy = "tax.toml"\n')
    assert load_settings(path, environ={}).taxonomy_path == tmp_path / "tax.toml"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[worker]\npoll_interval = -5\n", "worker.poll_interval"),
        ("[worker]\npoll_intervall = 5\n", "worker.poll_intervall"),
        ('[imap]\nhost = "h"\nusername = "u"\nsecurity = "ssl"\n', "imap.security"),
        ('[imap]\nhost = "h"\n', "imap.username"),
        ('[imap]\nhost = "h"\nusername = "u"\npost_action = "move"\n', "imap.move_to"),
        ("[classify]\nreview_threshold = 2\n", "classify.review_threshold"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert f"'{key}'" in str(caught.value)


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", "[worker\n")
    with pytest.raises(ConfigError, match="TOML"):
        load_settings(path, environ={})


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_imap_section_and_mailboxes_are_collected(tmp_path: Path) -> None:
    text = (
        '[imap]\nhost = "imap.example.org"\nusername = "ikz"\npassword_env = "IMAP_PW"\n'
        '[[mailboxes]]\nname = "weiterleitung"\nhost = "imap.example.org"\nusername = "fwd"\n'
    )
    settings = load_settings(write(tmp_path / "m.toml", text), environ={})
    assert [m.name for m in settings.mailboxes] == ["weiterleitung", "default"]
    assert settings.mailboxes[1].post_action == "flag"


def test_shipped_config_and_events(config_dir: Path) -> None:
    settings = load_settings(config_dir / "ikz-inbox.toml", environ={})
    events = load_events(settings.events_path)
    assert [event.id for event in events] == [
        "erfahrungsaustausch-tourismus-2024-09-11",
        "sprechstunde-2024-10-09",
        "spotlight-gesundheit-2024-11-06",
    ]
    assert all(event.questions_from <= event.questions_until for event in events)
    assert all(event.starts_at.tzinfo is not None for event in events)


def test_event_without_offset_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.toml",
        '[[event]]\nid = "x"\ntitle = "X"\nstarts_at = 2024-01-01T10:00:00\n'
        "ends_at = 2024-01-01T11:00:00\nquestions_from = 2023-12-01\n"
        "questions_until = 2024-01-01\n",
    )
    with pytest.raises(ConfigError, match="UTC offset"):
        load_events(path)


def test_event_missing_title_names_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.toml",
        '[[event]]\nid = "x"\nstarts_at = 2024-01-01T10:00:00+01:00\n'
        "ends_at = 2024-01-01T11:00:00+01:00\nquestions_from = 2023-12-01\n"
        "questions_until = 2024-01-01\n",
    )
    with pytest.raises(ConfigError, match="'event.0.title'"):
        load_events(path)
