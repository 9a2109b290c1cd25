"""`ikz-inbox init`: the starter files are valid, commented, and never overwrite anything."""

from __future__ import annotations

from pathlib import Path

from ikz_inbox.config import ORIGIN_FILE, load_events, load_settings
from ikz_inbox.starter import STARTER_FILES, write_starter_files


def test_starter_files_are_written_and_valid(tmp_path: Path) -> None:
    written = write_starter_files(tmp_path / "etc")
    assert [(f.path.name, f.written) for f in written] == [(n, True) for n in STARTER_FILES]
    config = tmp_path / "etc" / "ikz-inbox.toml"
    settings = load_settings(config, environ={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert settings.events_path == tmp_path / "etc" / "events.toml"
    assert settings.origins["paths.events"] == ORIGIN_FILE
    assert [m.host for m in settings.mailboxes] == ["imap.example.org"]
    assert load_events(settings.events_path) == ()  # the example event is commented out
    text = config.read_text()
    assert "password =" not in text and text.count("\n#") > 5


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    own = tmp_path / "events.toml"
    own.write_text("# meine Veranstaltungen\n")
    written = write_starter_files(tmp_path)
    assert {f.path.name: f.written for f in written} == {
        "ikz-inbox.toml": True,
        "events.toml": False,
    }
    assert own.read_text() == "# meine Veranstaltungen\n"
    assert not any(f.written for f in write_starter_files(tmp_path))
