"""Unit tests of the parse stage's header decoding (``ikz_inbox.parse.headers``)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ikz_inbox.parse.headers import (
    decode_words,
    first_indexes,
    header_fields,
    parse_date,
    parse_from,
    parse_message_id,
    parse_to,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ohne Kodierung", "ohne Kodierung"),
        ("=?utf-8?Q?F=C3=B6rderung?= =?utf-8?Q?_Frage?=", "Förderung Frage"),
        ("=?utf-8?b?RsO2cmRlcnVuZw?=", "Förderung"),  # padding missing
        ("=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"),
        ("=?x-unbekannt?q?Gr=FC=DFe?=", "Grüße"),
        ("Kosten €  =?utf-8?q?f=C3=BCr?= =?utf-8?q?_Kiosk?=", "Kosten €  für Kiosk"),
    ],
)
def test_decode_words(value: str, expected: str) -> None:
    assert decode_words(value) == expected


@pytest.mark.parametrize(
    ("value", "expected", "defects"),
    [
        ("Jürgen Müller <J.Mueller@Kalletal.DE>", ("Jürgen Müller", "j.mueller@kalletal.de"), []),
        ('"Müller, Jürgen" <j@k.de>', ("Müller, Jürgen", "j@k.de"), []),
        # an encoded comma does not split the mailbox
        ("=?utf-8?q?M=C3=BCller=2C_J=C3=BCrgen?= <j@k.de>", ("Müller, Jürgen", "j@k.de"), []),
        # the display-name trap: mail-parser's recovery takes the address in brackets
        (
            "alice@example.com <bob@example.com>",
            ("alice@example.com", "bob@example.com"),
            ["From: invalid-display-name"],
        ),
        (None, ("", ""), ["no From header"]),
    ],
)
def test_parse_from(value: str | None, expected: tuple[str, str], defects: list[str]) -> None:
    found: list[str] = []
    decoded = decode_words(value) if value is not None else None
    assert parse_from(value, decoded, found) == expected
    assert found == defects


def test_unparseable_from_is_a_defect() -> None:
    found: list[str] = []
    assert parse_from("kein Absender", "kein Absender", found) == ("", "")
    assert "unparseable From: 'kein Absender'" in found


@pytest.mark.parametrize(
    ("value", "expected", "defects"),
    [
        (
            "Tue, 17 Sep 2024 09:15:02 +0200",
            datetime(2024, 9, 17, 9, 15, 2, tzinfo=timezone(timedelta(hours=2))),
            [],
        ),
        (
            "Tue, 17 Sep 2024 09:15:02",
            datetime(2024, 9, 17, 9, 15, 2, tzinfo=UTC),
            ["Date without time zone, assumed UTC"],
        ),
        (
            "Tue, 17 Sep 2024 09:15:02 -0000",
            datetime(2024, 9, 17, 9, 15, 2, tzinfo=UTC),
            ["Date without time zone, assumed UTC"],
        ),
        ("gestern", None, ["unparseable Date: 'gestern'"]),
        (None, None, ["no Date header"]),
    ],
)
def test_parse_date(value: str | None, expected: datetime | None, defects: list[str]) -> None:
    found: list[str] = []
    parsed = parse_date(value, found)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None
    assert found == defects


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@b.de, Name <C@D.de>", ("a@b.de", "c@d.de")),
        ('"X, Y" <x@y.de>, z@w.de', ("x@y.de", "z@w.de")),
        ("undisclosed-recipients:;", ()),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_to(value: str | None, expected: tuple[str, ...]) -> None:
    assert parse_to(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(" <a@b>\n ", "<a@b>"), ("  ", None), (None, None)]
)
def test_parse_message_id(value: str | None, expected: str | None) -> None:
    assert parse_message_id(value) == expected


def test_header_fields_unfold_and_decode_8bit_bytes() -> None:
    message = email.message_from_bytes(
        b"Subject: eins\r\n zwei\r\nX-A: Gr\xfc\xdfe\r\nsubject: drei\r\n\r\nx"
    )
    defects: list[str] = []
    fields = header_fields(message, defects)
    assert fields == [("Subject", "eins zwei"), ("X-A", "Grüße"), ("subject", "drei")]
    assert defects == ["header x-a: raw 8-bit bytes"]
    assert first_indexes(tuple((name.lower(), value) for name, value in fields)) == {
        "subject": 0,
        "x-a": 1,
    }
