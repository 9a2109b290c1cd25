"""The worker against a real private Dovecot: exactly once, resilience, post-actions, locks."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ikz_inbox.app import App, open_app
from ikz_inbox.config import ImapSection
from ikz_inbox.errors import MailboxError
from ikz_inbox.polling import collect_status, poll_mailbox
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import MessageStatus
from tests.integration.dovecot import DovecotServer, ImapUser
from tests.mailfactory import question_mails

pytestmark = pytest.mark.dovecot

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_ENV = "IKZ_TEST_IMAP_PASSWORD"


def write_config(path: Path, dovecot: DovecotServer, user: ImapUser, **imap: object) -> Path:
    poll_interval = imap.pop("poll_interval", 120)
    mode = imap.pop("mode", "poll")
    processes = imap.pop("processes", None)
    settings = {
        "host": "127.0.0.1",
        "port": dovecot.imaps_port,
        "security": "tls",
        "username": user.username,
        "password_env": PASSWORD_ENV,
        "ca_file": str(dovecot.ca_file),
        "folder": "INBOX",
        "post_action": "flag",
        "batch_size": 50,
        **imap,
    }
    lines = ["[paths]"]
    for key in ("events", "taxonomy", "gazetteer", "lexicon", "training", "spacy_config"):
        default = {
            "events": "events.toml",
            "taxonomy": "taxonomy.toml",
            "gazetteer": "gazetteer/nrw-kommunen.csv",
            "lexicon": "lexicon.toml",
            "training": "training",
            "spacy_config": "spacy/topics.cfg",
        }[key]
        lines.append(f'{key} = "{ROOT / "config" / default}"')
    lines += [
        f'topic_model = "{ROOT / "models" / "topics"}"',
        f'report_dir = "{path.parent}"',
        f'lock_dir = "{path.parent}"',
        f'cache_dir = "{path.parent / "cache"}"',
        "[worker]",
        f"poll_interval = {poll_interval}",
        f'mode = "{mode}"',
        *([f"processes = {processes}"] if processes is not None else []),
        "[imap]",
    ]
    for key, value in settings.items():
        lines.append(f"{key} = {value!r}" if not isinstance(value, str) else f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_app(
    tmp_path: Path, dovecot: DovecotServer, imap_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., App]]:
    monkeypatch.setenv(PASSWORD_ENV, imap_user.password)
    apps: list[App] = []

    def build(db_url: str | None = None, **imap: object) -> App:
        config = write_config(tmp_path / f"ikz-{len(apps)}.toml", dovecot, imap_user, **imap)
        app = open_app(config, db_url or f"sqlite:///{tmp_path}/worker.sqlite3")
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.close()


def section(app: App) -> ImapSection:
    return app.settings.mailboxes[0]


def stored_count(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as connection:
        total, distinct = connection.execute(
            "SELECT COUNT(*), COUNT(DISTINCT content_sha256) FROM messages"
        ).fetchone()
    return int(total), int(distinct)


def test_500_messages_stored_once_and_second_poll_stores_nothing(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(500, seed=1))
    app = make_app()
    first = poll_mailbox(app, section(app))
    assert first.summary.stored + first.summary.quarantined == 500
    assert stored_count(tmp_path / "worker.sqlite3") == (500, 500)
    second = poll_mailbox(app, section(app))
    assert (second.summary.stored, second.summary.duplicates) == (0, 0)
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["KEYWORD", "$IKZProcessed"])) == 500
    assert collect_status(app, datetime.now(UTC)).healthy


def test_worker_processes_and_in_process_store_the_same(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(150, seed=21))
    contents = []
    for processes in (0, 2):
        db = tmp_path / f"p{processes}.sqlite3"
        app = make_app(f"sqlite:///{db}", processes=processes, post_action="none", batch_size=40)
        assert poll_mailbox(app, section(app)).summary.stored == 150
        contents.append(database_content(db))
    assert contents[0] == contents[1]


def database_content(db: Path) -> tuple[object, ...]:
    """What the pipeline made of the mail, without ids and times."""
    with sqlite3.connect(db) as connection:
        messages = connection.execute(
            "SELECT content_sha256, kind, status, sender_org, event_id, new_text FROM messages "
            "ORDER BY content_sha256"
        ).fetchall()
        questions = connection.execute(
            "SELECT m.content_sha256, q.position, q.text, q.topic, q.confidence FROM questions q "
            "JOIN messages m ON m.id = q.message_pk ORDER BY m.content_sha256, q.position"
        ).fetchall()
        groups = connection.execute(
            "SELECT group_concat(q.text, ' | ') FROM (SELECT q.text, q.cluster_id FROM questions q "
            "JOIN messages m ON m.id = q.message_pk ORDER BY m.content_sha256, q.position) q "
            "GROUP BY q.cluster_id"
        ).fetchall()
    return tuple(messages), tuple(questions), tuple(sorted(groups))


def test_stop_request_commits_the_current_batch_and_leaves_the_rest(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(120, seed=22))
    app = make_app(processes=2, batch_size=50)
    stop = threading.Event()
    stop.set()
    first = poll_mailbox(app, section(app), stop=stop)
    assert first.summary.stored + first.summary.quarantined == 50
    assert first.remaining == 70
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["KEYWORD", "$IKZProcessed"])) == 50
    second = poll_mailbox(app, section(app))
    assert second.summary.stored + second.summary.quarantined == 70
    assert stored_count(tmp_path / "worker.sqlite3") == (120, 120)


def test_quarantined_mail_is_moved_to_the_quarantine_folder(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append_many(imap_user, question_mails(6, seed=23))
    oversized = b"From: a@lemgo.de\r\nSubject: Anhang\r\n\r\n" + b"x" * 120_000 + b"\r\n"
    dovecot.append(imap_user, oversized)
    app = make_app(max_message_bytes=100_000, quarantine_to="Quarantäne")
    result = poll_mailbox(app, section(app))
    assert (result.summary.stored, result.summary.quarantined) == (6, 1)
    assert dovecot.message_count(imap_user, "INBOX") == 6
    assert dovecot.message_count(imap_user, "Quarantäne") == 1
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["KEYWORD", "$IKZProcessed"])) == 6
    with session_scope(app.database) as session:
        [quarantined] = repository.list_messages(session, status=MessageStatus.QUARANTINED)
    assert quarantined.error is not None and "zu groß" in quarantined.error


def test_reading_the_mailbox_in_a_client_does_not_hide_mail(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append_many(imap_user, question_mails(5, seed=2))
    with dovecot.client(imap_user) as client:
        client.select_folder("INBOX")
        client.add_flags(client.search(["ALL"]), [b"\\Seen"])
    app = make_app(post_action="none")
    assert poll_mailbox(app, section(app)).summary.stored == 5


def test_post_action_move_keeps_every_message(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append_many(imap_user, question_mails(30, seed=3))
    app = make_app(post_action="move", move_to="Verarbeitet")
    assert poll_mailbox(app, section(app)).summary.stored == 30
    assert dovecot.message_count(imap_user, "INBOX") == 0
    assert dovecot.message_count(imap_user, "Verarbeitet") == 30


def test_uidvalidity_change_resyncs_without_duplicates(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(20, seed=4))
    app = make_app(post_action="none")
    poll_mailbox(app, section(app))
    dovecot.set_uid_validity(imap_user, dovecot.uid_validity(imap_user) + 1000)
    dovecot.append_many(imap_user, question_mails(3, seed=5))
    result = poll_mailbox(app, section(app))
    assert result.resynced
    assert (result.summary.stored, result.summary.duplicates) == (3, 20)
    assert stored_count(tmp_path / "worker.sqlite3") == (23, 23)


def test_untrusted_certificate_is_refused(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append(imap_user, next(question_mails(1, seed=6)))
    app = make_app(ca_file="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(MailboxError, match="(?i)certificate"):
        poll_mailbox(app, section(app))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_concurrent_polls_store_each_message_once(
    backend: str,
    make_app: Callable[..., App],
    dovecot: DovecotServer,
    imap_user: ImapUser,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    dovecot.append_many(imap_user, question_mails(120, seed=7))
    db_url = None
    if backend == "postgres":
        db_url = request.getfixturevalue("postgres_url")
        reset_postgres(db_url)
    app_a = make_app(post_action="none", db_url=db_url)
    app_b = make_app(post_action="none", db_url=db_url)
    errors: list[BaseException] = []

    def run(app: App) -> None:
        try:
            poll_mailbox(app, section(app))
        # LockError is expected for one of them; any other error of the thread must reach the
        # assertion below (an exception escaping a thread is only printed).
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in (app_a, app_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(type(e).__name__ == "LockError" for e in errors), errors
    poll_mailbox(app_a, section(app_a))
    with session_scope(app_a.database) as session:
        messages = repository.list_messages(session)
    assert len(messages) == 120


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    from ikz_inbox.store.models import Base

    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def start_cli(config: Path, db: Path, *command: str) -> subprocess.Popen[bytes]:
    """Start the console script; its log goes to a file beside the database."""
    binary = str(Path(sys.executable).parent / "ikz-inbox")
    with (db.parent / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [binary, "-v", "--config", str(config), "--db", f"sqlite:///{db}", *command],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=os.environ.copy(),
            start_new_session=True,
        )


def cli_poll(config: Path, db: Path) -> subprocess.Popen[bytes]:
    return start_cli(config, db, "poll", "--once")


def log_of(db: Path) -> str:
    path = db.parent / "worker.log"
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return stored_count(db)[0]
    except sqlite3.Error:
        return 0


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
@pytest.mark.slow
def test_sigkill_mid_poll_then_restart_stores_every_message_once(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(2000, seed=8))
    app = make_app()
    config, db = app.settings.config_path, tmp_path / "worker.sqlite3"
    assert config is not None
    process = cli_poll(config, db)
    wait_until(lambda: rows(db) >= 300, timeout=300)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = rows(db)
    assert 300 <= killed_at < 2000
    restarted = cli_poll(config, db)
    assert restarted.wait(timeout=900) == 0, log_of(db)
    assert stored_count(db) == (2000, 2000)


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
@pytest.mark.slow
def test_service_survives_dovecot_restart_and_stops_cleanly_on_sigterm(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    dovecot.append_many(imap_user, question_mails(600, seed=9))
    app = make_app(poll_interval=2)
    config, db = app.settings.config_path, tmp_path / "worker.sqlite3"
    assert config is not None
    service = start_cli(config, db, "run")
    try:
        wait_until(lambda: rows(db) >= 50, timeout=300)
        dovecot.stop()
        time.sleep(3)
        assert service.poll() is None, "the service must not exit when the server goes away"
        dovecot.start()
        dovecot.append(imap_user, next(question_mails(1, seed=10)))
        wait_until(lambda: rows(db) >= 601, timeout=600)
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=120)
    assert code == 0
    assert stored_count(db) == (601, 601)


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
@pytest.mark.slow
def test_idle_mode_delivers_new_mail_without_waiting_for_the_poll_interval(
    make_app: Callable[..., App], dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    app = make_app(mode="idle", poll_interval=3600)
    config, db = app.settings.config_path, tmp_path / "worker.sqlite3"
    assert config is not None
    service = start_cli(config, db, "run")
    try:
        wait_until(lambda: db.exists() and rows(db) == 0, timeout=120)
        time.sleep(8)  # the first (startup) poll is done and IDLE is waiting
        dovecot.append(imap_user, next(question_mails(1, seed=11)))
        # poll_interval is an hour: only IDLE can bring the message in
        wait_until(lambda: rows(db) == 1, timeout=30)
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=120)
    assert code == 0
