from __future__ import annotations

from pathlib import Path

import pytest

from ikz_inbox.config import (
    ORIGIN_DEFAULT,
    ORIGIN_FILE,
    PACKAGED_PATHS,
    check_required_files,
    effective_settings,
    load_events,
    load_settings,
)
from ikz_inbox.defaults import defaults_root, state_root
from ikz_inbox.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert settings.config_path is None
    state = tmp_path / "data" / "ikz-inbox"
    assert settings.database_url == f"sqlite:///{state / 'ikz-inbox.sqlite3'}"
    assert (settings.report_dir, settings.lock_dir) == (state, state)
    assert settings.cache_dir == state / "cache"
    assert settings.origins["database.url"] == settings.origins["paths.report_dir"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"STATE_DIRECTORY": "/var/lib/ikz-inbox:/var/lib/other", "XDG_DATA_HOME": "/x"},
            Path("/var/lib/ikz-inbox"),
        ),
        ({"XDG_DATA_HOME": "/srv/data"}, Path("/srv/data/ikz-inbox")),
        (
            {"XDG_DATA_HOME": "relative", "HOME": "/home/anna"},
            Path("/home/anna/.local/share/ikz-inbox"),
        ),
        ({"HOME": "/home/anna"}, Path("/home/anna/.local/share/ikz-inbox")),
    ],
)
def test_state_folder(environ: dict[str, str], expected: Path) -> None:
    assert state_root(environ) == expected


def test_unset_paths_fall_back_to_the_packaged_defaults(tmp_path: Path) -> None:
    events = write(tmp_path / "own-events.toml", "")
    path = write(tmp_path / "c.toml", f'[paths]\nevents = "{events}"\n')
    settings = load_settings(path, environ={"XDG_DATA_HOME": str(tmp_path)})
    assert settings.events_path == events
    assert settings.origins["paths.events"] == ORIGIN_FILE
    root = defaults_root()
    for key, relative in PACKAGED_PATHS.items():
        if key != "events":
            assert settings.path_of(key) == root / relative
            assert settings.origins[f"paths.{key}"] == ORIGIN_DEFAULT
            assert settings.path_of(key).exists(), key
    check_required_files(settings)


def test_a_missing_configured_events_file_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[paths]\nevents = "nirgends.toml"\n')
    settings = load_settings(path, environ={})
    with pytest.raises(ConfigError) as caught:
        check_required_files(settings)
    message = str(caught.value)
    assert "'[paths] events'" in message and str(tmp_path / "nirgends.toml") in message
    assert "\n" not in message


def test_effective_settings_name_origins_and_mask_passwords(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[database]\nurl = "postgresql+psycopg://ikz:geheim@db/ikz"\n'
        "[worker]\npoll_interval = 60\n"
        '[imap]\nhost = "imap.example.org"\nusername = "ikz"\npassword_env = "PW"\n',
    )
    rows = {
        key: (value, origin)
        for key, value, origin in effective_settings(
            load_settings(path, environ={"XDG_DATA_HOME": str(tmp_path)})
        )
    }
    assert rows["database.url"] == ("postgresql+psycopg://ikz:***@db/ikz", ORIGIN_FILE)
    assert rows["worker.poll_interval"] == ("60", ORIGIN_FILE)
    assert rows["worker.stale_after"][1] == "Vorgabe"
    assert rows["imap[default/INBOX].host"] == ("imap.example.org", ORIGIN_FILE)
    assert rows["paths.lexicon"][1] == ORIGIN_DEFAULT
    assert not any("geheim" in value for value, _ in rows.values())
    from_env = load_settings(path, environ={"IKZ_INBOX_DATABASE_URL": "sqlite:///e.db"})
    assert from_env.origins["database.url"] == "Umgebung $IKZ_INBOX_DATABASE_URL"
    assert load_settings(path, "sqlite:///o.db", environ={}).origins["database.url"] == (
        "Option --db"
    )


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


def test_secret_and_ca_files_resolve_against_the_config_file(tmp_path: Path) -> None:
    text = (
        '[imap]\nhost = "h"\nusername = "u"\npassword_file = "secrets/imap"\n'
        'ca_file = "ca.pem"\n'
        '[[mailboxes]]\nname = "o"\nhost = "h"\nusername = "u"\n'
        'oauth2_token_file = "token"\nca_file = "/etc/ca.pem"\n'
        '[delivery]\nhost = "smtp"\nsender = "a@b.c"\nrecipients = ["d@e.f"]\n'
        'password_file = "secrets/smtp"\n'
    )
    folder = tmp_path / "conf"
    folder.mkdir()
    settings = load_settings(write(folder / "c.toml", text), environ={})
    other, default = settings.mailboxes
    assert (default.password_file, default.ca_file) == (
        str(folder / "secrets" / "imap"),
        str(folder / "ca.pem"),
    )
    assert (other.oauth2_token_file, other.ca_file) == (str(folder / "token"), "/etc/ca.pem")
    assert settings.delivery is not None
    assert settings.delivery.password_file == str(folder / "secrets" / "smtp")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[worker]\npoll_interval = -5\n", "worker.poll_interval"),
        ("[worker]\npoll_intervall = 5\n", "worker.poll_intervall"),
        ('[imap]\nhost = "h"\nusername = "u"\nsecurity = "ssl"\n', "imap.security"),
        ('[imap]\nhost = "h"\n', "imap.username"),
        ('[imap]\nhost = "h"\nusername = "u"\npost_action = "move"\n', "imap.move_to"),
        ("[classify]\nreview_threshold = 2\n", "classify.review_threshold"),
        ("[retention]\nraw_days = 0\n", "retention.raw_days"),
        ('[retention]\npurge_cron = "daily"\n', "retention.purge_cron"),
        ('[grouping]\nsimilarity = "magic"\n', "grouping.similarity"),
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


def test_grouping_uses_the_lexicon_unless_the_learned_model_is_chosen(tmp_path: Path) -> None:
    default = load_settings(write(tmp_path / "a.toml", "[worker]\nprocesses = 0\n"), environ={})
    assert default.grouping.similarity == "lexicon"
    assert default.trained_grouping_dir is None
    learned = load_settings(
        write(tmp_path / "b.toml", '[grouping]\nsimilarity = "learned"\n'), environ={}
    )
    assert learned.trained_grouping_dir == learned.grouping_model_dir
