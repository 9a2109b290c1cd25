from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from ikz_inbox.errors import IkzInboxError
from ikz_inbox.sources import iter_raw_mails

MAIL = b"From: a@example.org\r\nSubject: Test %d\r\nMessage-ID: <%d@example.org>\r\n\r\nText\r\n"


def test_eml_files_and_folders_in_stable_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.eml").write_bytes(MAIL % (2, 2))
    (tmp_path / "a.eml").write_bytes(MAIL % (1, 1))
    (tmp_path / "sub" / "c.eml").write_bytes(MAIL % (3, 3))
    (tmp_path / "notes.md").write_text("kein Mail")
    found = list(iter_raw_mails([tmp_path]))
    assert [m.source.rsplit("/", 1)[-1] for m in found] == ["a.eml", "b.eml", "c.eml"]
    assert found[0].raw == MAIL % (1, 1)


def test_mbox_and_maildir(tmp_path: Path) -> None:
    box = mailbox.mbox(str(tmp_path / "archiv.mbox"))
    for i in range(3):
        box.add(MAIL % (i, i))
    box.close()
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"))
    maildir.add(MAIL % (9, 9))
    found = list(iter_raw_mails([tmp_path / "archiv.mbox", tmp_path / "Maildir"]))
    assert len(found) == 4
    assert found[0].source.startswith("mbox:") and found[3].source.startswith("maildir:")
    assert b"Subject: Test 9" in found[3].raw


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IkzInboxError, match="nicht gefunden"):
        list(iter_raw_mails([tmp_path / "fehlt"]))
