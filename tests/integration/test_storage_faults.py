"""Storage faults under a poll against the private Dovecot: a full disk stores nothing and
acknowledges nothing on the server, and the next poll picks the batch up (issue #18).

The disk is made full by SQLite itself (`PRAGMA max_page_count` a few pages above the
current size): the real SQLITE_FULL error path, without a loop-mounted filesystem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from ikz_inbox.app import App, open_app
from ikz_inbox.errors import StoreError
from ikz_inbox.polling import poll_mailbox
from ikz_inbox.store import repository, session_scope
from tests.integration.dovecot import DovecotServer, ImapUser
from tests.integration.test_worker import PASSWORD_ENV, write_config
from tests.mailfactory import question_mails

pytestmark = pytest.mark.dovecot

PROCESSED_FLAG = "$IKZProcessed"


@pytest.fixture
def app(
    tmp_path: Path, dovecot: DovecotServer, imap_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.setenv(PASSWORD_ENV, imap_user.password)
    config = write_config(tmp_path / "ikz.toml", dovecot, imap_user, processes=0)
    application = open_app(config, f"sqlite:///{tmp_path}/faults.sqlite3")
    yield application
    application.close()


def _flagged(dovecot: DovecotServer, user: ImapUser) -> int:
    with dovecot.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        return len(client.search(["KEYWORD", PROCESSED_FLAG]))


def _disk_full(app: App) -> Callable[[object, object], None]:
    """From now on every new connection may grow the file by two pages only."""
    with app.database.engine.connect() as connection:
        pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar() or 0)

    def limit(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA max_page_count = {pages + 2}")
        cursor.close()

    event.listen(app.database.engine, "connect", limit)
    app.database.engine.dispose()
    return limit


def test_disk_full_stores_and_acknowledges_nothing_and_the_next_poll_catches_up(
    app: App, dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append_many(imap_user, question_mails(30, seed=18))
    limit = _disk_full(app)
    with pytest.raises(StoreError, match="full"):
        poll_mailbox(app, app.settings.mailboxes[0])
    assert _flagged(dovecot, imap_user) == 0

    event.remove(app.database.engine, "connect", limit)
    app.database.engine.dispose()
    with session_scope(app.database) as session:
        assert repository.list_messages(session) == []
    result = poll_mailbox(app, app.settings.mailboxes[0])
    assert result.summary.stored + result.summary.quarantined == 30
    assert _flagged(dovecot, imap_user) == 30
