"""Header decoding for the parse stage.

In: a compat32 message (its raw header fields) or one header value. Out: the fields as
(name, unfolded value) pairs with raw 8-bit bytes decoded (``header_fields``), RFC 2047
encoded words decoded (``decode_words``), and the parsed Message-ID, Date, From (display
name, lower-cased address) and To addresses; whatever was odd is appended to the caller's
``defects`` list. Nothing here raises on bad input.

* Subject and every other header are decoded with ``email.header.decode_header`` after
  unfolding, because mail-parser drops the space between folded RFC 2047 words; each
  encoded word's bytes then go through the same tolerant charset decoder as the bodies
  (``charset.decode_bytes``).
* mail-parser is used where it is better than the stdlib: its structural address
  recovery (``mailparser.utils.get_addresses``) resolves From values the stdlib misreads,
  such as the display-name trap ``alice@example.com <bob@example.com>`` (Python 3.11's
  ``getaddresses`` returns two mailboxes there). The cheap stdlib result is kept when it
  is unambiguous.
* A Date without a zone (or with -0000) is taken as UTC and noted as a defect, so the
  parsed date is always timezone-aware or None.
"""

from __future__ import annotations

import binascii
import email.errors
import email.header
import email.message
import email.utils
import functools
import re
from datetime import UTC, datetime

from ikz_inbox.parse.charset import decode_bytes

# Decoded header values are cached (thread-safe, bounded): replies and reminders repeat the
# same Subject and the same senders write again. Longer values are decoded uncached so that
# a hostile header cannot fill the cache with megabytes.
HEADER_CACHE_SIZE = 4096
CACHED_HEADER_CHARS = 1000

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
# "Name <a@b.de>", "<a@b.de>" or "a@b.de" with a plain name (no quotes, comments, specials):
# the stdlib address parser would give the same answer, only slower.
_SIMPLE_MAILBOX = re.compile(
    r"(?:([^\"<>()@,;:\\\[\]]*?)\s*<([^<>\s\"(),;:@]+@[^<>\s\"(),;:@]+)>"
    r"|([^<>\s\"(),;:@]+@[^<>\s\"(),;:@]+))\s*\Z"
)
_BETWEEN_WORDS = re.compile(r"\?=\s+=\?")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def header_fields(message: email.message.Message, defects: list[str]) -> list[tuple[str, str]]:
    """Return the header fields as (stripped name, unfolded value, 8-bit bytes decoded).

    RFC 2047 encoded words are still encoded here: addresses are split before their
    display names are decoded, so that an encoded comma (``=2C``) cannot split a mailbox.
    """
    return [
        (name.strip(), _raw_value(name, value, defects))
        if type(value) is not str or "\n" in value or not value.isascii()
        else (name.strip(), value.strip())  # the common case, without a call
        for name, value in message.raw_items()
    ]


def _raw_value(name: str, value: object, defects: list[str]) -> str:
    """Unfold one header value and decode raw 8-bit bytes; encoded words stay as they are."""
    text = str(value)
    if not text.isascii():
        text = _unescape_8bit(text, defects, "header " + name.lower())
    if "\n" in text:
        text = _FOLD.sub("", text)
    return text.strip()


def first_indexes(headers: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """Map each lower-cased header name to the index of its first occurrence."""
    first: dict[str, int] = {}
    for index, (key, _) in enumerate(headers):
        first.setdefault(key, index)
    return first


def value_at(
    pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...], index: int | None
) -> str | None:
    """Return the value of the (name, value) pair at ``index``, or None for no index.

    ``fields`` and ``headers`` are parallel, so an index into one is valid for the other:
    the raw value of a field is in ``fields``, the decoded one in ``headers``.
    """
    return None if index is None else pairs[index][1]


def _unescape_8bit(text: str, defects: list[str], where: str) -> str:
    """Turn raw 8-bit bytes (kept as surrogates by the parser) back into characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        defects.append(f"{where}: raw 8-bit bytes")
        return decode_bytes(text.encode("utf-8", "surrogateescape"), None)[0]
    return text


def decode_words(value: str) -> str:
    """Decode the RFC 2047 encoded words of one unfolded header value."""
    if "=?" not in value:
        return value
    if not value.isascii():
        # decode_header would turn raw non-Latin-1 characters into backslash escapes.
        return _decode_words_leniently(value)
    if len(value) <= CACHED_HEADER_CHARS:
        return _decode_ascii_words_cached(value)
    return _decode_ascii_words(value)


@functools.lru_cache(maxsize=HEADER_CACHE_SIZE)
def _decode_ascii_words_cached(value: str) -> str:
    """Cached :func:`_decode_ascii_words`: Subjects and sender names recur across mails."""
    return _decode_ascii_words(value)


def _decode_ascii_words(value: str) -> str:
    """Decode the encoded words of an ASCII header value with the stdlib, then leniently."""
    try:
        chunks = email.header.decode_header(value)
    except (email.errors.HeaderParseError, ValueError):  # bad base64 in an encoded word
        return _decode_words_leniently(value)
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        else:
            parts.append(decode_bytes(chunk, charset)[0])
    text = "".join(parts)
    return _ENCODED_WORD.sub(_decode_one_word, text) if "=?" in text else text


def _decode_words_leniently(value: str) -> str:
    """Decode encoded words one by one, dropping the whitespace between adjacent ones."""
    return _ENCODED_WORD.sub(_decode_one_word, _BETWEEN_WORDS.sub("?==?", value))


def _decode_one_word(match: re.Match[str]) -> str:
    """Decode one encoded word the stdlib left alone (broken padding, odd charset)."""
    charset, encoding, payload = match.groups()
    try:
        if encoding in "bB":
            data = binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
        else:
            data = binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(data, charset)[0]


def parse_message_id(value: str | None) -> str | None:
    """Return the Message-ID without whitespace, angle brackets kept; None when empty."""
    if value is None:
        return None
    compact = "".join(value.split())
    return compact or None


def parse_date(value: str | None, defects: list[str]) -> datetime | None:
    """Parse the Date header; a date without zone is taken as UTC (with a defect)."""
    if value is None:
        defects.append("no Date header")
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, OverflowError):  # no date, or one out of range (a 20-digit year)
        defects.append(f"unparseable Date: {value[:80]!r}")
        return None
    if parsed.tzinfo is None:
        defects.append("Date without time zone, assumed UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_from(value: str | None, decoded: str | None, defects: list[str]) -> tuple[str, str]:
    """Return (display name, lower-cased address) of the From header.

    ``value`` is the raw header, ``decoded`` the same with encoded words decoded. The
    decoded value is used only when it is a plain ``Name <addr>`` (no specials in the
    name), which saves decoding the name twice; otherwise the raw value is split first.
    """
    if value is None:
        defects.append("no From header")
        return "", ""
    simple = _SIMPLE_MAILBOX.match(decoded or "") if value.count("@") == 1 else None
    if simple:
        name, address = (simple.group(1) or ""), simple.group(2) or simple.group(3)
    else:
        name, address = _stdlib_mailbox(value)
        name = decode_words(name)
    if not address:
        name, address = _recovered_mailbox(value, defects)
    if not address:
        defects.append(f"unparseable From: {value[:80]!r}")
    return name.strip(), address.lower()


def _stdlib_mailbox(value: str) -> tuple[str, str]:
    """Return the stdlib's reading of a From value when it is unambiguous, else ("", "")."""
    if value.count("@") != 1:
        return "", ""
    simple = _SIMPLE_MAILBOX.match(value)
    if simple:
        return (simple.group(1) or "").strip(), simple.group(2) or simple.group(3)
    pairs = [pair for pair in email.utils.getaddresses([value]) if pair[1]]
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        return "", ""
    return pairs[0]


def _recovered_mailbox(value: str, defects: list[str]) -> tuple[str, str]:
    """Use mail-parser's structural recovery (display-name traps, odd lists)."""
    from mailparser.utils import get_addresses

    diagnostics: list[dict[str, object]] = []
    pairs = [pair for pair in get_addresses(value, defects=diagnostics) if "@" in pair[1]]
    defects.extend(f"From: {item.get('reason')}" for item in diagnostics)
    if not pairs:
        return "", ""
    name, address = pairs[0]
    return decode_words(str(name)), str(address)


def parse_to(value: str | None) -> tuple[str, ...]:
    """Return the lower-cased addresses of the To header."""
    if not value:
        return ()
    if not any(char in value for char in '"(\\'):
        items = [_SIMPLE_MAILBOX.match(item.strip()) for item in value.split(",")]
        if all(items):
            return tuple((m.group(2) or m.group(3)).lower() for m in items if m)
    pairs = email.utils.getaddresses([value])
    return tuple(address.lower() for _, address in pairs if "@" in address)
