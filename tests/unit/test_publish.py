"""ikz_inbox.publish: briefing files written atomically, "new" marks across briefings, mail."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ikz_inbox import ingest as flow
from ikz_inbox.app import App, open_app
from ikz_inbox.errors import ConfigError
from ikz_inbox.publish import (
    STATE_FORMAT,
    briefing_stem,
    publish_briefing,
    read_previous_briefing,
    write_atomically,
)
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import PreviousBriefing, RawMail

EVENT = "sprechstunde-2024-10-09"
FIRST = datetime(2024, 10, 7, 6, 0, tzinfo=UTC)
SECOND = datetime(2024, 10, 8, 6, 0, tzinfo=UTC)


def question_mail(number: int, body: str) -> RawMail:
    raw = (
        f"From: Kommune {number} <info@kommune{number}.de>\r\nTo: IKZ@Interkommunales.NRW\r\n"
        f"Subject: Frage zur Sprechstunde am 9.10.\r\nMessage-ID: <{number}@kommune.de>\r\n"
        "Date: Tue, 01 Oct 2024 10:00:00 +0200\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"Guten Tag,\r\n\r\n{body}\r\n\r\nViele Grüße\r\nKommune {number}\r\n"
    )
    return RawMail(raw=raw.encode(), source=f"test:{number}")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        f'[paths]\nlock_dir = "{tmp_path}"\nreport_dir = "{tmp_path}/out"\n'
        f'cache_dir = "{tmp_path}/cache"\n[worker]\nprocesses = 0\n'
    )
    application = open_app(config, f"sqlite:///{tmp_path}/p.sqlite3")
    yield application
    application.close()


def ingest(app: App, *mails: RawMail) -> None:
    """Store and group the mails as a poll does."""
    with session_scope(app.database) as session:
        flow.ingest(session, app, flow.MailSource(mails), now=lambda: FIRST)


def publish(app: App, now: datetime) -> tuple[frozenset[int], datetime | None, list[Path]]:
    with session_scope(app.database) as session:
        published = publish_briefing(session, app, EVENT, now, formats=("html", "md"))
        session.commit()
    briefing = published.briefing
    assert not published.mailed
    return briefing.new_question_ids, briefing.previous_at, list(published.paths)


def event_question_ids(app: App) -> set[int]:
    with session_scope(app.database) as session:
        return {q.id for q in repository.list_questions(session, event_id=EVENT)}


@pytest.mark.parametrize(
    ("event_id", "stem"),
    [
        (EVENT, f"briefing-{EVENT}"),
        ("a/b c:ä", "briefing-a_b_c__"),
        ("../x", "briefing-.._x"),
        (None, "briefing-alle"),
    ],
)
def test_briefing_stem_keeps_only_file_name_characters(event_id: str | None, stem: str) -> None:
    assert briefing_stem(event_id) == stem


@pytest.mark.parametrize("content", ["Grüße\n", b"%PDF-1.7\x00\xff"])
def test_write_atomically_replaces_the_file_and_leaves_no_temporary(
    tmp_path: Path, content: str | bytes
) -> None:
    target = tmp_path / "neu" / "briefing.md"
    write_atomically(target, "alt")
    write_atomically(target, content)
    expected = content.encode() if isinstance(content, str) else content
    assert target.read_bytes() == expected
    assert target.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in target.parent.iterdir()] == ["briefing.md"]


def test_previous_briefing_is_none_without_state(tmp_path: Path) -> None:
    assert read_previous_briefing(tmp_path, EVENT) is None
    assert read_previous_briefing(tmp_path, None) is None


@pytest.mark.parametrize("state", ["{kaputt", '{"generated_at": "gestern", "questions": []}', "{}"])
def test_unreadable_previous_state_marks_nothing_and_warns(
    tmp_path: Path, state: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / f".briefing-{EVENT}.json").write_text(state)
    with caplog.at_level(logging.WARNING, logger="ikz_inbox.publish"):
        assert read_previous_briefing(tmp_path, EVENT) is None
    assert "unreadable" in caplog.text


def test_publish_writes_the_files_and_marks_only_later_questions_new(app: App) -> None:
    report_dir = app.settings.report_dir
    ingest(
        app,
        question_mail(
            1,
            "wie hoch ist die Förderquote für ein gemeinsames Bauhofprojekt? "
            "Und bis wann muss der Antrag bei der Bezirksregierung sein?",
        ),
    )
    first_ids = event_question_ids(app)
    assert len(first_ids) == 2

    new, previous_at, paths = publish(app, FIRST)
    assert (new, previous_at) == (frozenset(), None)  # the first briefing compares nothing
    assert paths == [report_dir / f"briefing-{EVENT}.html", report_dir / f"briefing-{EVENT}.md"]
    assert "Förderquote" in paths[1].read_text(encoding="utf-8")
    state = json.loads((report_dir / f".briefing-{EVENT}.json").read_text())
    assert state["format"] == STATE_FORMAT and len(state["questions"]) == 2
    assert read_previous_briefing(report_dir, EVENT) == PreviousBriefing(
        FIRST, frozenset(state["questions"])
    )

    ingest(app, question_mail(2, "Ist eine Personalstelle für das Projektmanagement förderfähig?"))
    later_ids = event_question_ids(app) - first_ids
    assert len(later_ids) == 1
    new, previous_at, _ = publish(app, SECOND)
    assert new == later_ids
    assert previous_at == FIRST


def test_publish_with_mail_but_no_delivery_section_is_a_config_error(app: App) -> None:
    with session_scope(app.database) as session, pytest.raises(ConfigError, match="delivery"):
        publish_briefing(session, app, EVENT, FIRST, formats=("md",), mail=True, environ={})
    # the files were written before the mail failed
    assert (app.settings.report_dir / f"briefing-{EVENT}.md").is_file()
