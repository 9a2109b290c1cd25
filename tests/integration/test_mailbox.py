"""ikz_inbox.mailbox against a real, private Dovecot (see conftest.py and dovecot.py)."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ikz_inbox.errors import ConfigError, MailboxError
from ikz_inbox.mailbox import (
    Credentials,
    FetchedMail,
    Mailbox,
    MailboxConfig,
    Security,
    is_loopback,
    make_ssl_context,
)
from tests.integration.dovecot import HOST, DovecotServer, ImapUser, ServerFactory

# Post-login capabilities of a server without MOVE and IDLE (but with UIDPLUS), and of
# a bare IMAP4rev1 server: Dovecot still understands the commands, the client must not
# use them.
NO_MOVE_NO_IDLE = "IMAP4rev1 LITERAL+ UIDPLUS MULTIAPPEND"
BARE = "IMAP4rev1 LITERAL+ MULTIAPPEND"


def make_config(
    server: DovecotServer,
    user: ImapUser,
    security: Security = "tls",
    **changes: Any,
) -> MailboxConfig:
    """A MailboxConfig for ``user`` on ``server``; keyword arguments override fields."""
    config = MailboxConfig(
        name="test",
        host=HOST,
        port=server.imaps_port if security == "tls" else server.imap_port,
        security=security,
        username=user.username,
        ca_file=server.ca_file,
        folder="INBOX",
        post_action="none",
        move_to=None,
        timeout=5.0,
    )
    return replace(config, **changes)


def credentials(user: ImapUser) -> Credentials:
    return Credentials(username=user.username, password=user.password)


def message(number: int, padding: int = 0) -> bytes:
    """A small German question mail with 8-bit UTF-8 body bytes and CRLF line ends."""
    lines = [
        f"From: Kommune {number} <kommune{number}@example.org>",
        "To: IKZ@Interkommunales.NRW",
        f"Subject: Frage {number} zur Sprechstunde",
        f"Message-ID: <{number}.frage@kommune.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        f"Wie werden Gebühren bei der IKZ verteilt? (Nr. {number})",
        "x" * padding,
        "",
    ]
    return "\r\n".join(lines).encode()


def flags_of(server: DovecotServer, user: ImapUser, folder: str = "INBOX") -> dict[int, set[bytes]]:
    with server.client(user) as client:
        client.select_folder(folder, readonly=True)
        response = client.fetch(client.search(["ALL"]), ["FLAGS"])
        # \Recent belongs to the session that first sees a message, not to the message.
        return {uid: set(data[b"FLAGS"]) - {b"\\Recent"} for uid, data in response.items()}


# -- configuration, no server needed ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("10.0.0.1", False),
        ("imap.interkommunales.nrw", False),
        ("localhost.evil.example", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, *, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize("host", ["imap.example.org", "192.168.1.5", "localhost.example.org"])
def test_plain_text_refused_for_non_loopback_host(host: str) -> None:
    with pytest.raises(ConfigError, match="plain"):
        MailboxConfig("m", host, 143, "plain", "u", None, "INBOX", "none", None)


@pytest.mark.parametrize(
    "changes",
    [
        {"post_action": "move", "move_to": None},
        {"post_action": "move", "move_to": "INBOX"},
        {"port": 0},
        {"security": "ssl"},
        {"flag": "two words"},
        {"batch_size": 0},
        {"timeout": 0},
        {"quarantine_to": "INBOX"},
        {"quarantine_to": ""},
    ],
)
def test_invalid_config_raises_config_error(changes: dict[str, Any]) -> None:
    base = MailboxConfig("m", "127.0.0.1", 993, "tls", "u", None, "INBOX", "none", None)
    with pytest.raises(ConfigError):
        replace(base, **changes)


def test_credentials_hide_secrets_and_need_exactly_one() -> None:
    creds = Credentials(username="ikz", password="geheim-123")
    token = Credentials(username="ikz", oauth2_token="tok-456")
    assert "geheim-123" not in repr(creds) and "geheim-123" not in str(creds)
    assert "tok-456" not in repr(token)
    with pytest.raises(ConfigError):
        Credentials(username="ikz")
    with pytest.raises(ConfigError):
        Credentials(username="ikz", password="a", oauth2_token="b")


def test_credentials_for_other_user_refused() -> None:
    config = MailboxConfig("m", "127.0.0.1", 993, "tls", "ikz", None, "INBOX", "none", None)
    with pytest.raises(ConfigError, match="other"):
        Mailbox(config, Credentials(username="other", password="x"))


def test_unreadable_ca_file_is_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="CA file"):
        make_ssl_context(bad)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts TCP connections but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen(5)
        yield sock.getsockname()[1]


def test_silent_server_times_out_instead_of_hanging(silent_listener: int) -> None:
    config = MailboxConfig(
        "m", HOST, silent_listener, "plain", "u", None, "INBOX", "none", None, timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(MailboxError, match=f"{HOST}:{silent_listener}"):
        Mailbox(config, Credentials(username="u", password="pw")).__enter__()
    assert time.monotonic() - started < 5


def test_use_before_connect_or_select_raises() -> None:
    config = MailboxConfig("m", HOST, 993, "tls", "u", None, "INBOX", "none", None)
    mailbox = Mailbox(config, Credentials(username="u", password="pw"))
    with pytest.raises(MailboxError, match="not connected"):
        mailbox.select()


# -- connecting -----------------------------------------------------------------------


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls"])
@pytest.mark.parametrize("host", [HOST, "localhost"])
def test_tls_with_fixture_ca_connects(
    dovecot: DovecotServer, imap_user: ImapUser, security: Security, host: str
) -> None:
    config = make_config(dovecot, imap_user, security, host=host)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        assert mailbox.select() == dovecot.uid_validity(imap_user)


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_without_ca_refuses_certificate(
    dovecot: DovecotServer, imap_user: ImapUser, security: Security
) -> None:
    config = make_config(dovecot, imap_user, security, ca_file=None)
    with pytest.raises(MailboxError, match="certificate verify failed"):
        Mailbox(config, credentials(imap_user)).__enter__()


@pytest.mark.dovecot
def test_tls_to_plain_port_fails_without_fallback(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    config = make_config(dovecot, imap_user, "tls", port=dovecot.imap_port)
    with pytest.raises(MailboxError, match=f"{HOST}:{dovecot.imap_port}"):
        Mailbox(config, credentials(imap_user)).__enter__()


@pytest.mark.dovecot
def test_plain_on_loopback_works(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    config = make_config(dovecot, imap_user, "plain")
    with Mailbox(config, credentials(imap_user)) as mailbox:
        assert mailbox.select() > 0


@pytest.mark.dovecot
@pytest.mark.parametrize("security", ["tls", "starttls", "plain"])
def test_wrong_password_is_mailbox_error_without_secret(
    dovecot: DovecotServer, imap_user: ImapUser, security: Security
) -> None:
    config = make_config(dovecot, imap_user, security)
    wrong = Credentials(username=imap_user.username, password="falsch-" + imap_user.password)
    with pytest.raises(MailboxError, match="log in") as caught:
        Mailbox(config, wrong).__enter__()
    assert wrong.password is not None and wrong.password not in str(caught.value)


@pytest.mark.dovecot
def test_oauth2_login_works_and_token_stays_out_of_logs(
    dovecot: DovecotServer, imap_user: ImapUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = imap_user.password  # the fixture's XOAUTH2 accepts the password as token
    config = make_config(dovecot, imap_user)
    with Mailbox(config, Credentials(username=imap_user.username, oauth2_token=token)) as box:
        assert box.select() > 0
    wrong = Credentials(username=imap_user.username, oauth2_token=token + "x")
    with pytest.raises(MailboxError, match="log in") as caught:
        Mailbox(config, wrong).__enter__()
    sasl = base64.b64encode(f"user={imap_user.username}\1auth=Bearer {token}\1\1".encode())
    assert "AUTHENTICATE" in caplog.text  # imapclient's protocol log was captured
    assert token not in caplog.text and token not in str(caught.value)
    assert sasl.decode() not in caplog.text


@pytest.mark.dovecot
def test_password_never_in_debug_logs(
    dovecot: DovecotServer, imap_user: ImapUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dovecot.append(imap_user, message(1))
    config = make_config(dovecot, imap_user, "plain", post_action="flag")
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        list(mailbox.fetch(mailbox.new_uids(0)))
        mailbox.apply_post_action([1])
    wrong = Credentials(username=imap_user.username, password=imap_user.password + "x")
    with pytest.raises(MailboxError):
        Mailbox(config, wrong).__enter__()
    assert "LOGIN" in caplog.text  # imapclient's protocol log was captured
    assert imap_user.password not in caplog.text
    for record in caplog.records:
        assert imap_user.password not in record.getMessage()


# -- reading --------------------------------------------------------------------------


@pytest.mark.dovecot
def test_500_messages_fetched_once_with_exact_bytes(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    sent = [message(n, padding=n % 7 * 100) for n in range(500)]
    dovecot.append_many(imap_user, sent)
    config = make_config(dovecot, imap_user, batch_size=64)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        uidvalidity = mailbox.select()
        uids = mailbox.new_uids(0)
        fetched = list(mailbox.fetch(uids))
    assert uids == sorted(uids) and len(uids) == 500
    assert [mail.uid for mail in fetched] == uids
    assert [mail.raw.raw for mail in fetched] == sent
    assert all(mail.size == len(mail.raw.raw) and not mail.too_large for mail in fetched)
    first = fetched[0]
    assert first.raw.source == f"imap:test/INBOX;UIDVALIDITY={uidvalidity};UID={first.uid}"
    assert all(b"\\Seen" not in flags for flags in flags_of(dovecot, imap_user).values())


@pytest.mark.dovecot
def test_new_uids_after_highest_is_empty(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    dovecot.append_many(imap_user, [message(n) for n in range(3)])
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        uids = mailbox.new_uids(0)
        assert mailbox.new_uids(uids[-1]) == []
        assert mailbox.new_uids(uids[-1] + 100) == []
        assert mailbox.new_uids(uids[0]) == uids[1:]


@pytest.mark.dovecot
def test_missing_folder_is_mailbox_error(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    config = make_config(dovecot, imap_user, folder="Gibt es nicht")
    with Mailbox(config, credentials(imap_user)) as mailbox:
        with pytest.raises(MailboxError, match="select"):
            mailbox.select()
        with pytest.raises(MailboxError, match="select"):
            mailbox.new_uids(0)


@pytest.mark.dovecot
def test_post_action_between_fetched_items(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    """The worker stores and acts per message while iterating over fetch()."""
    dovecot.append_many(imap_user, [message(n) for n in range(5)])
    config = make_config(dovecot, imap_user, post_action="move", move_to="Erledigt", batch_size=2)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        seen = []
        for mail in mailbox.fetch(mailbox.new_uids(0)):
            seen.append(mail.uid)
            mailbox.apply_post_action([mail.uid])
        assert seen == [1, 2, 3, 4, 5]
        assert mailbox.new_uids(0) == []
    assert dovecot.message_count(imap_user, "Erledigt") == 5


@pytest.mark.dovecot
def test_empty_folder_has_no_new_uids(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        assert mailbox.new_uids(0) == []
        assert list(mailbox.fetch([])) == []


@pytest.mark.dovecot
def test_seen_and_flagged_mail_is_still_new(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    dovecot.append(imap_user, message(1), flags=["\\Seen"])
    dovecot.append(imap_user, message(2), flags=["$IKZProcessed"])
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        assert len(mailbox.new_uids(0)) == 2


@pytest.mark.dovecot
def test_vanished_uid_is_skipped(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    dovecot.append_many(imap_user, [message(1), message(2)])
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        fetched = list(mailbox.fetch([1, 2, 999]))
    assert [mail.uid for mail in fetched] == [1, 2]


@pytest.mark.dovecot
def test_too_large_message_is_fetched_and_flagged(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    small, big = message(1), message(2, padding=5000)
    dovecot.append_many(imap_user, [small, big])
    config = make_config(dovecot, imap_user, max_message_bytes=2000)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        fetched: list[FetchedMail] = list(mailbox.fetch(mailbox.new_uids(0)))
    assert [(mail.too_large, mail.raw.raw) for mail in fetched] == [(False, small), (True, big)]
    assert fetched[1].size == len(big)


@pytest.mark.dovecot
def test_uidvalidity_change_detected_by_select(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    dovecot.append(imap_user, message(1))
    config = make_config(dovecot, imap_user)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        before = mailbox.select()
    dovecot.set_uid_validity(imap_user, before + 1000)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        assert mailbox.select() == before + 1000
        assert mailbox.uidvalidity == before + 1000


# -- post-actions ---------------------------------------------------------------------


@pytest.mark.dovecot
def test_post_action_none_changes_nothing(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    dovecot.append_many(imap_user, [message(1), message(2)])
    before = flags_of(dovecot, imap_user)
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        mailbox.apply_post_action(mailbox.new_uids(0))
    assert flags_of(dovecot, imap_user) == before


@pytest.mark.dovecot
@pytest.mark.parametrize("flag", ["$IKZProcessed", "Erledigt"])
def test_post_action_flag_marks_exactly_those_uids(
    dovecot: DovecotServer, imap_user: ImapUser, flag: str
) -> None:
    dovecot.append_many(imap_user, [message(n) for n in range(4)])
    config = make_config(dovecot, imap_user, post_action="flag", flag=flag)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        mailbox.apply_post_action([1, 3])
    flagged = {uid for uid, flags in flags_of(dovecot, imap_user).items() if flag.encode() in flags}
    assert flagged == {1, 3}


def _move_and_count(server: DovecotServer, user: ImapUser, target: str) -> tuple[int, int]:
    """Move UIDs 1 and 3 of five messages, one of them already \\Deleted by a person."""
    server.append_many(user, [message(n) for n in range(4)])
    server.append(user, message(99), flags=["\\Deleted"])
    config = make_config(server, user, post_action="move", move_to=target, batch_size=1)
    with Mailbox(config, credentials(user)) as mailbox:
        mailbox.select()
        mailbox.apply_post_action([1, 3])
        assert mailbox.new_uids(0) == [2, 4, 5]
    return server.message_count(user, "INBOX"), server.message_count(user, target)


@pytest.mark.dovecot
@pytest.mark.parametrize("target", ["Erledigt", "Archiv/IKZ", "Bearbeitet – Frühjahr"])
def test_post_action_move_moves_and_deletes_nothing(
    dovecot: DovecotServer, imap_user: ImapUser, target: str
) -> None:
    assert _move_and_count(dovecot, imap_user, target) == (3, 2)


@pytest.mark.dovecot
def test_move_without_move_capability_copies_and_expunges_only_those(
    dovecot_servers: ServerFactory,
) -> None:
    server = dovecot_servers(NO_MOVE_NO_IDLE)
    user = server.add_user()
    # The message a person marked \Deleted survives: only UIDs 1 and 3 are expunged.
    assert _move_and_count(server, user, "Erledigt") == (3, 2)


@pytest.mark.dovecot
def test_move_refused_before_any_change_without_move_or_uidplus(
    dovecot_servers: ServerFactory,
) -> None:
    server = dovecot_servers(BARE)
    user = server.add_user()
    server.append(user, message(1))
    config = make_config(server, user, post_action="move", move_to="Erledigt")
    with Mailbox(config, credentials(user)) as mailbox, pytest.raises(MailboxError, match="MOVE"):
        mailbox.select()
    assert server.message_count(user, "INBOX") == 1
    assert server.message_count(user, "Erledigt") == 0


# -- waiting and failures -------------------------------------------------------------


def _append_later(server: DovecotServer, user: ImapUser, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, server.append, args=(user, message(7)))
    timer.start()
    return timer


@pytest.mark.dovecot
def test_idle_wait_returns_true_soon_after_append(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        timer = _append_later(dovecot, imap_user, 0.5)
        started = time.monotonic()
        arrived = mailbox.idle_wait(30)
        elapsed = time.monotonic() - started
        timer.join()
        assert arrived and elapsed < 5
        assert mailbox.new_uids(0) == [1]


@pytest.mark.dovecot
def test_idle_wait_times_out_without_mail(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        started = time.monotonic()
        assert mailbox.idle_wait(1.0) is False
        assert 0.9 < time.monotonic() - started < 3


@pytest.mark.dovecot
def test_idle_wait_sees_mail_that_came_before_it(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    with Mailbox(make_config(dovecot, imap_user), credentials(imap_user)) as mailbox:
        mailbox.select()
        dovecot.append(imap_user, message(1))
        assert mailbox.idle_wait(10) is True


@pytest.mark.dovecot
def test_idle_wait_polls_when_server_lacks_idle(dovecot_servers: ServerFactory) -> None:
    server = dovecot_servers(NO_MOVE_NO_IDLE)
    user = server.add_user()
    with Mailbox(make_config(server, user), credentials(user)) as mailbox:
        mailbox.select()
        assert mailbox.idle_wait(0.5) is False
        timer = _append_later(server, user, 0.3)
        assert mailbox.idle_wait(2.0) is True
        timer.join()


@pytest.mark.dovecot
def test_restart_breaks_open_connection_then_reconnect_works(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    dovecot.append(imap_user, message(1))
    config = make_config(dovecot, imap_user)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        dovecot.restart()
        started = time.monotonic()
        with pytest.raises(MailboxError, match=f"{HOST}:{dovecot.imaps_port}"):
            mailbox.new_uids(0)
        assert time.monotonic() - started < config.timeout
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        assert mailbox.new_uids(0) == [1]


@pytest.mark.dovecot
def test_restart_during_idle_raises_instead_of_hanging(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    config = make_config(dovecot, imap_user)
    with Mailbox(config, credentials(imap_user)) as mailbox:
        mailbox.select()
        timer = threading.Timer(0.5, dovecot.restart)
        timer.start()
        started = time.monotonic()
        with pytest.raises(MailboxError, match="IDLE"):
            mailbox.idle_wait(60)
        timer.join()
        assert time.monotonic() - started < 10


@pytest.mark.dovecot
def test_stopped_server_is_mailbox_error(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    config = make_config(dovecot, imap_user)
    dovecot.stop()
    try:
        with pytest.raises(MailboxError, match="connect"):
            Mailbox(config, credentials(imap_user)).__enter__()
    finally:
        dovecot.start()
