from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from ikz_inbox.errors import IkzInboxError
from ikz_inbox.sources import batched_mails, iter_raw_mails

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


def test_missing_path_is_refused_before_any_message_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(MAIL % (1, 1))
    with pytest.raises(IkzInboxError, match="fehlt"):
        iter_raw_mails([tmp_path / "a.eml", tmp_path / "fehlt"])  # no message consumed yet


def test_messages_are_read_only_as_the_batches_are_asked_for(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"{i}.eml").write_bytes(MAIL % (i, i))
    batches = batched_mails(iter_raw_mails([tmp_path]), 2)
    assert [m.raw for m in next(batches)] == [MAIL % (0, 0), MAIL % (1, 1)]
    (tmp_path / "4.eml").write_bytes(MAIL % (44, 44))  # not read yet: the change shows
    assert [[m.raw for m in batch] for batch in batches] == [
        [MAIL % (2, 2), MAIL % (3, 3)],
        [MAIL % (44, 44)],
    ]
    assert list(batched_mails([], 3)) == []


def test_last_batch_holds_the_rest(tmp_path: Path) -> None:
    for i in range(7):
        (tmp_path / f"{i}.eml").write_bytes(MAIL % (i, i))
    sizes = [len(batch) for batch in batched_mails(iter_raw_mails([tmp_path]), 3)]
    assert sizes == [3, 3, 1]
