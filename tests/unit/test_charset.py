"""Unit tests of the parse stage's charset decoder (``ikz_inbox.parse.charset``)."""

from __future__ import annotations

import pytest

from ikz_inbox.parse.charset import decode_bytes, unify_line_ends


@pytest.mark.parametrize(
    ("data", "declared", "text", "defect"),
    [
        (b"Gruss", None, "Gruss", None),
        (b"Gr\xc3\xbc\xc3\x9fe", None, "Grüße", None),
        # valid UTF-8 wins over a declared us-ascii / iso-8859-1
        (b"Gr\xc3\xbc\xc3\x9fe", "us-ascii", "Grüße", "declared 'us-ascii' but bytes are UTF-8"),
        (
            b"Gr\xc3\xbc\xc3\x9fe",
            "iso-8859-1",
            "Grüße",
            "declared 'iso-8859-1' but bytes are UTF-8",
        ),
        # iso-8859-1 is read as windows-1252 (0x80 is the euro sign there), quietly
        (b"Gr\xfc\xdfe \x80", "iso-8859-1", "Grüße €", None),
        (b"Gr\xfc\xdfe", '"ISO-8859-1"', "Grüße", None),
        (b"Gr\xfc\xdfe", "iso-8859-1*de", "Grüße", None),
        # undeclared or lying UTF-8: cp1252, with a defect
        (b"Gr\xfc\xdfe", None, "Grüße", "8-bit bytes declared 'nothing', read as cp1252"),
        (b"Gr\xfc\xdfe", "utf-8", "Grüße", "invalid UTF-8 bytes read as cp1252"),
        (b"\xc3\xbc\xfc", "utf-8", "üü", "invalid UTF-8 bytes read as cp1252"),
        # unknown and refused charsets fall back, with a defect
        (b"Gr\xfc\xdfe", "x-unbekannt", "Grüße", "unknown charset 'x-unbekannt'"),
        (b"abc", "idna", "abc", "unknown charset 'idna'"),
        # a subset charset is read with its superset
        (b"\xc4\xe3", "gb2312", "你", None),
        (b"\x81\x8d", "cp1252", "\ufffd\ufffd", "invalid bytes for charset 'cp1252'"),
    ],
)
def test_decode_bytes(data: bytes, declared: str | None, text: str, defect: str | None) -> None:
    assert decode_bytes(data, declared) == (text, defect)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a\r\nb\rc\n", "a\nb\nc\n"), ("ohne", "ohne"), ("\r\r\n", "\n\n")],
)
def test_unify_line_ends(text: str, expected: str) -> None:
    assert unify_line_ends(text) == expected


@pytest.mark.parametrize(
    "declared", ["unicode_escape", "raw-unicode-escape", "Unicode_Escape", "punycode", "idna"]
)
def test_escape_decoding_codecs_are_refused(declared: str) -> None:
    # "\u0041" declared as unicode_escape must not become "A": such a charset is no mail
    # charset, only a way to smuggle characters past the text a filter sees.
    text, defect = decode_bytes(b"Wie hoch ist die F\\u00f6rderquote?", declared)
    assert text == "Wie hoch ist die F\\u00f6rderquote?"
    assert defect is not None
