from __future__ import annotations

from ikz_inbox.fingerprint import content_sha256, raw_sha256

MESSAGE = (
    b"Received: from a by b; Mon, 1 Jan 2024 10:00:00 +0100\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"Subject: =?UTF-8?Q?F=C3=B6rderquote?=\r\n"
    b"X-Spam-Status: No, score=-1.0\r\n"
    b"\tautolearn=ham\r\n"
    b"\r\n"
    b"Wie hoch ist die F\xc3\xb6rderquote?\r\n"
)


def test_resend_with_extra_trace_header_has_same_content_fingerprint() -> None:
    resent = b"Received: from c by d; Tue, 2 Jan 2024 10:00:00 +0100\r\n" + MESSAGE
    assert content_sha256(resent) == content_sha256(MESSAGE)
    assert raw_sha256(resent) != raw_sha256(MESSAGE)


def test_line_endings_do_not_matter() -> None:
    assert content_sha256(MESSAGE.replace(b"\r\n", b"\n")) == content_sha256(MESSAGE)


def test_changed_body_or_header_changes_fingerprint() -> None:
    assert content_sha256(MESSAGE.replace(b"hoch", b"niedrig")) != content_sha256(MESSAGE)
    assert content_sha256(MESSAGE.replace(b"<1@", b"<2@")) != content_sha256(MESSAGE)


def test_message_without_body_separator() -> None:
    assert len(content_sha256(b"Subject: x")) == 64
    assert content_sha256(b"") == content_sha256(b"")
