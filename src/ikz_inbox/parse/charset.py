"""Charset detection and decoding for the parse stage, with no other module of ours.

In: text bytes and the charset their part or encoded word declares (or None). Out: the
text as ``str`` and, where the declaration was wrong or unknown, a defect note
(``decode_bytes``); ``unify_line_ends`` turns CRLF and lone CR into "\\n".

Mail often lies about its charset: valid UTF-8 wins over a declared us-ascii/iso-8859-1,
iso-8859-1 is read as windows-1252 (the WHATWG mapping), an unknown or wrong charset falls
back to UTF-8, then cp1252; decoding never raises.
"""

from __future__ import annotations

import codecs

# Names under which mail declares windows-1252 while meaning it (the WHATWG mapping).
_LATIN1_NAMES = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1"})
_ASCII_NAMES = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "646", "us"})
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
# Charsets whose bytes are a subset of a more complete codec that decodes the same text.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}
# Text codecs that turn escape sequences into characters: never a real mail charset.
# (Spelled as ``codecs.lookup(...).name`` reports them, which the check compares with.)
_REFUSED_CODECS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode"})


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode text bytes whatever the declared charset; return (text, defect or None).

    Valid UTF-8 wins over a declared us-ascii/iso-8859-1; iso-8859-1 is read as cp1252;
    an unknown or wrong charset falls back to UTF-8, then cp1252, and yields a defect.
    """
    name = _normalise_charset(declared)
    if name is None or name in _ASCII_NAMES or name in _LATIN1_NAMES or name in _UTF8_NAMES:
        if data.isascii():
            return data.decode("ascii"), None
        return _decode_guessing(data, name)
    codec = _lookup_codec(name)
    if codec is None:
        text, _ = _decode_guessing(data, None)
        return text, f"unknown charset {name!r}"
    try:
        return data.decode(codec), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("utf-8"), f"declared {name!r} but bytes are UTF-8"
    except UnicodeDecodeError:
        return data.decode(codec, "replace"), f"invalid bytes for charset {name!r}"


def _normalise_charset(declared: str | None) -> str | None:
    """Lower-case a charset label and drop quotes and an RFC 2231 language suffix."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").lower().split("*", 1)[0]
    return name or None


def _lookup_codec(name: str) -> str | None:
    """Return a Python codec name for a mail charset, or None when unusable."""
    name = _SUPERSETS.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in _REFUSED_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _decode_guessing(data: bytes, name: str | None) -> tuple[str, str | None]:
    """Decode non-ASCII bytes labelled utf-8/ascii/latin-1/nothing: UTF-8 first, then cp1252."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        lying = name is not None and name not in _UTF8_NAMES
        return text, f"declared {name!r} but bytes are UTF-8" if lying else None
    if name in _UTF8_NAMES:
        return _decode_utf8_mixed(data), "invalid UTF-8 bytes read as cp1252"
    text = _decode_cp1252(data)
    if name in _LATIN1_NAMES:
        return text, None
    return text, f"8-bit bytes declared {name or 'nothing'!r}, read as cp1252"


def _decode_cp1252(data: bytes) -> str:
    """Decode as windows-1252, with latin-1 for the five bytes cp1252 leaves undefined."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return "".join(_decode_cp1252_byte(byte) for byte in data)


def _decode_cp1252_byte(byte: int) -> str:
    """Decode one byte as cp1252, falling back to latin-1."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


def _decode_utf8_mixed(data: bytes) -> str:
    """Decode mostly-UTF-8 bytes, reading each invalid stretch as cp1252."""
    pieces: list[str] = []
    rest = data
    while rest:
        try:
            pieces.append(rest.decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            pieces.append(rest[: exc.start].decode("utf-8"))
            pieces.append(_decode_cp1252(rest[exc.start : exc.end]))
            rest = rest[exc.end :]
    return "".join(pieces)


def unify_line_ends(text: str) -> str:
    """Turn CRLF and lone CR line ends into "\\n"."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")
