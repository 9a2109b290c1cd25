"""ikz_inbox.mailbox against the in-memory IMAP server of tests/fakeimap.py.

Fast checks of what the Dovecot tests (tests/integration/test_mailbox.py) cover against a
real server: select, new mail by UID, fetch batches, post-actions, quarantine, UIDVALIDITY,
oversize mail, IDLE and the errors a broken login or connection gives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from ikz_inbox.errors import ConfigError, MailboxError
from ikz_inbox.mailbox import Credentials, Mailbox, MailboxConfig
from tests.fakeimap import HOST, FakeImapServer

FLAG = b"$IKZProcessed"


@pytest.fixture
def server() -> Iterator[FakeImapServer]:
    with FakeImapServer() as fake:
        yield fake


def make_config(server: FakeImapServer, **changes: Any) -> MailboxConfig:
    config = MailboxConfig(
        name="test",
        host=HOST,
        port=server.port,
        security="plain",
        username=server.username,
        ca_file=None,
        folder="INBOX",
        post_action="none",
        move_to=None,
        timeout=5.0,
    )
    return replace(config, **changes)


def open_mailbox(server: FakeImapServer, password: str | None = None, **changes: Any) -> Mailbox:
    credentials = Credentials(server.username, password=password or server.password)
    return Mailbox(make_config(server, **changes), credentials)


def message(number: int, padding: int = 0) -> bytes:
    return (
        f"From: Kommune {number} <kommune{number}@example.org>\r\n"
        f"Subject: Frage {number}\r\nMessage-ID: <{number}@kommune.example>\r\n\r\n"
        f"Wie hoch ist die Förderquote? ({number})\r\n{'x' * padding}\r\n"
    ).encode()


def test_select_returns_the_folders_uidvalidity(server: FakeImapServer) -> None:
    server.set_uid_validity(4711)
    with open_mailbox(server) as mailbox:
        assert mailbox.uidvalidity is None
        assert mailbox.select() == 4711
        assert mailbox.uidvalidity == 4711


def test_new_uids_are_those_above_the_high_water_uid(server: FakeImapServer) -> None:
    uids = [server.append(message(n)) for n in range(5)]
    with open_mailbox(server) as mailbox:
        mailbox.select()
        assert mailbox.new_uids(0) == uids
        assert mailbox.new_uids(uids[2]) == uids[3:]
        # "UID n:*" names the highest UID too when nothing is newer: filtered out.
        assert mailbox.new_uids(uids[-1]) == []


def test_new_uids_rejects_a_negative_uid(server: FakeImapServer) -> None:
    with open_mailbox(server) as mailbox:
        mailbox.select()
        with pytest.raises(ValueError, match="after_uid"):
            mailbox.new_uids(-1)


def test_reading_before_select_is_an_error(server: FakeImapServer) -> None:
    with open_mailbox(server) as mailbox, pytest.raises(MailboxError, match="select"):
        mailbox.new_uids(0)


def test_fetch_yields_raw_bytes_with_source_and_does_not_set_seen(
    server: FakeImapServer,
) -> None:
    raws = [message(n) for n in range(3)]
    uids = [server.append(raw) for raw in raws]
    with open_mailbox(server, name="haupt") as mailbox:
        validity = mailbox.select()
        fetched = list(mailbox.fetch(list(reversed(uids))))
    assert [mail.uid for mail in fetched] == uids
    assert [mail.raw.raw for mail in fetched] == raws
    assert fetched[0].raw.source == f"imap:haupt/INBOX;UIDVALIDITY={validity};UID={uids[0]}"
    assert [mail.size for mail in fetched] == [len(raw) for raw in raws]
    assert not any(mail.too_large for mail in fetched)
    assert all(b"\\Seen" not in server.flags(uid) for uid in uids)


def test_fetch_batches_hold_at_most_batch_size_messages(server: FakeImapServer) -> None:
    uids = [server.append(message(n)) for n in range(7)]
    with open_mailbox(server, batch_size=3) as mailbox:
        mailbox.select()
        batches = [[mail.uid for mail in batch] for batch in mailbox.fetch_batches(uids)]
    assert batches == [uids[0:3], uids[3:6], uids[6:]]
    assert server.commands.count("UID FETCH") == 1 + 3  # sizes once, then one per batch


def test_vanished_uid_is_skipped(server: FakeImapServer) -> None:
    uids = [server.append(message(n)) for n in range(3)]
    with open_mailbox(server) as mailbox:
        mailbox.select()
        server.expunge(uids[1])
        assert [mail.uid for mail in mailbox.fetch(uids)] == [uids[0], uids[2]]


def test_oversize_message_is_fetched_but_marked_too_large(server: FakeImapServer) -> None:
    small = server.append(message(1))
    big = server.append(message(2, padding=5_000))
    with open_mailbox(server, max_message_bytes=1_000) as mailbox:
        mailbox.select()
        verdicts = {mail.uid: mail.too_large for mail in mailbox.fetch([small, big])}
    assert verdicts == {small: False, big: True}


def test_post_action_flag_stores_the_keyword(server: FakeImapServer) -> None:
    uids = [server.append(message(n)) for n in range(3)]
    with open_mailbox(server, post_action="flag") as mailbox:
        mailbox.select()
        mailbox.apply_post_action(uids[:2])
    assert [FLAG in server.flags(uid) for uid in uids] == [True, True, False]


def test_post_action_none_changes_nothing(server: FakeImapServer) -> None:
    uid = server.append(message(1))
    with open_mailbox(server) as mailbox:
        mailbox.select()
        mailbox.apply_post_action([uid])
    assert server.flags(uid) == set()
    assert "UID STORE" not in server.commands


def test_flag_refused_when_permanentflags_lack_it() -> None:
    with FakeImapServer(permanent_flags=(b"\\Seen", b"\\Deleted")) as fake:
        with open_mailbox(fake, post_action="flag") as mailbox:
            with pytest.raises(MailboxError, match="does not allow the flag"):
                mailbox.select()


@pytest.mark.parametrize(
    ("capabilities", "command"),
    [
        (("IMAP4rev1", "MOVE", "UIDPLUS"), "UID MOVE"),
        (("IMAP4rev1", "UIDPLUS"), "UID EXPUNGE"),
    ],
)
def test_post_action_move_moves_exactly_those_uids(
    capabilities: tuple[str, ...], command: str
) -> None:
    with FakeImapServer(capabilities=capabilities) as fake:
        uids = [fake.append(message(n)) for n in range(3)]
        fake.append(message(9), flags=[b"\\Deleted"])  # someone else's: must stay
        with open_mailbox(fake, post_action="move", move_to="Erledigt") as mailbox:
            mailbox.select()
            mailbox.apply_post_action(uids[:2])
        assert [m.raw for m in fake.folders["Erledigt"].messages] == [message(0), message(1)]
        assert [m.raw for m in fake.folders["INBOX"].messages] == [message(2), message(9)]
        assert command in fake.commands


def test_move_without_move_or_uidplus_is_refused_at_select() -> None:
    with FakeImapServer(capabilities=("IMAP4rev1",)) as fake:
        with open_mailbox(fake, post_action="move", move_to="Erledigt") as mailbox:
            with pytest.raises(MailboxError, match="neither MOVE nor UIDPLUS"):
                mailbox.select()


def test_quarantine_moves_to_its_folder_created_when_missing(server: FakeImapServer) -> None:
    uids = [server.append(message(n)) for n in range(2)]
    with open_mailbox(server, post_action="flag", quarantine_to="Quarantaene") as mailbox:
        mailbox.select()
        mailbox.apply_quarantine_action([uids[0]])
    assert "CREATE" in server.commands
    assert [m.raw for m in server.folders["Quarantaene"].messages] == [message(0)]
    assert [m.uid for m in server.folders["INBOX"].messages] == [uids[1]]


def test_quarantine_without_folder_gets_the_post_action(server: FakeImapServer) -> None:
    uid = server.append(message(1))
    with open_mailbox(server, post_action="flag") as mailbox:
        mailbox.select()
        mailbox.apply_quarantine_action([uid])
    assert FLAG in server.flags(uid)
    assert set(server.folders) == {"INBOX"}


def test_uidvalidity_change_is_seen_on_the_next_select(
    server: FakeImapServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.append(message(1))
    with open_mailbox(server) as mailbox:
        first = mailbox.select()
        server.set_uid_validity(first + 1)
        with caplog.at_level(logging.WARNING, logger="ikz_inbox.mailbox"):
            assert mailbox.select() == first + 1
    assert f"changed from {first} to {first + 1}" in caplog.text


def test_wrong_password_raises_mailbox_error_without_the_password(
    server: FakeImapServer,
) -> None:
    with pytest.raises(MailboxError, match="log in failed") as caught:
        with open_mailbox(server, password="falsch-9876"):
            pass
    assert "falsch-9876" not in str(caught.value)
    assert server.username in str(caught.value)


def test_oauth2_token_logs_in(server: FakeImapServer) -> None:
    credentials = Credentials(server.username, oauth2_token=server.password)
    with Mailbox(make_config(server), credentials) as mailbox:
        assert mailbox.select() == server.folders["INBOX"].uidvalidity
    assert "AUTHENTICATE" in server.commands


def test_nobody_listening_raises_mailbox_error() -> None:
    with FakeImapServer() as fake:
        config = make_config(fake)
    with pytest.raises(MailboxError, match="connect failed"):
        with Mailbox(config, Credentials(config.username, password="x")):
            pass


def test_cut_connection_during_fetch_raises_mailbox_error(server: FakeImapServer) -> None:
    uid = server.append(message(1))
    with open_mailbox(server) as mailbox:
        mailbox.select()
        server.drop_on = "UID FETCH"
        with pytest.raises(MailboxError, match="fetch"):
            list(mailbox.fetch([uid]))


def test_credentials_for_another_user_are_a_config_error(server: FakeImapServer) -> None:
    with pytest.raises(ConfigError, match="credentials are for"):
        Mailbox(make_config(server), Credentials("jemand", password="x"))


def test_has_capabilities_reports_the_servers_list() -> None:
    with FakeImapServer(capabilities=("IMAP4rev1", "UIDPLUS")) as fake:
        with open_mailbox(fake) as mailbox:
            assert mailbox.has_capabilities(["MOVE", "UIDPLUS"]) == {
                "MOVE": False,
                "UIDPLUS": True,
            }


def test_idle_wait_returns_true_when_mail_arrives(server: FakeImapServer) -> None:
    with open_mailbox(server) as mailbox:
        mailbox.select()
        timer = threading.Timer(0.2, server.append, args=(message(1),))
        timer.start()
        start = time.monotonic()
        try:
            assert mailbox.idle_wait(timeout=5.0) is True
        finally:
            timer.cancel()
        assert time.monotonic() - start < 4.0
        assert "IDLE" in server.commands
        assert mailbox.new_uids(0) == [1]


def test_idle_wait_returns_false_at_the_timeout(server: FakeImapServer) -> None:
    with open_mailbox(server) as mailbox:
        mailbox.select()
        start = time.monotonic()
        assert mailbox.idle_wait(timeout=0.3) is False
        assert time.monotonic() - start >= 0.3


def test_idle_wait_sees_mail_that_arrived_before_it(server: FakeImapServer) -> None:
    with open_mailbox(server) as mailbox:
        mailbox.select()
        server.append(message(1))
        assert mailbox.idle_wait(timeout=0.3) is True
        assert "IDLE" not in server.commands  # the first NOOP already told
