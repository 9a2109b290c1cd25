"""Parse stage: raw RFC 5322 bytes in, one decoded :class:`ParsedMail` out.

``parse_message(raw)`` takes the bytes of one message exactly as received and returns its
decoded headers, the readable body text, attachments (their .txt/.pdf/.docx text is read on
demand by ``read_attachment``, as a PDF costs more than the rest of the mail), forwarded
messages (``message/rfc822`` parts, recursively) and the text of an RFC 3464 delivery-status
part. Problems are recorded in ``ParsedMail.defects``; ``ParseError`` is
raised only when nothing usable can be decoded, and no other exception escapes.

Library choice (measured with ``bench/bench_parse.py``):

* The MIME tree is the standard library's compat32 one, walked here. Plainly written mail
  (single-part, or a multipart of single-part children, with clean ASCII header blocks)
  is split by ``_simple_tree`` into the very tree the feed parser would build, at a
  fraction of its cost; everything else goes through ``email.message_from_bytes``.
  ``mailparser.parse_from_bytes`` costs about 7x and ``email.policy.default`` about 4x the
  time of a compat32 parse, so neither can meet the stage's "within 2x of stdlib" budget,
  and both decide charsets in ways we must override anyway (lying ``iso-8859-1``/
  ``us-ascii`` declarations, unknown charsets).
* Subject and every other header are decoded with ``email.header.decode_header`` after
  unfolding, because mail-parser drops the space between folded RFC 2047 words; each
  encoded word's bytes then go through the same tolerant charset decoder as the bodies.
* mail-parser is used where it is better than the stdlib: its structural address
  recovery (``mailparser.utils.get_addresses``) resolves From values the stdlib misreads,
  such as the display-name trap ``alice@example.com <bob@example.com>`` (Python 3.11's
  ``getaddresses`` returns two mailboxes there). The cheap stdlib result is kept when it
  is unambiguous.

Bounces: for ``multipart/report`` the text of the ``message/delivery-status`` part goes
to ``delivery_status``; the returned original (``message/rfc822`` or
``text/rfc822-headers``) is neither merged into ``body_text`` nor put in ``embedded`` (it
is not the sender's text, so no question may ever be extracted from it); a defect notes
that it was left out. Forwarded messages attached elsewhere go to ``embedded`` (up to
``MAX_EMBED_DEPTH`` levels) and are not repeated in ``attachments``.

Body text: a real text/plain part wins; a missing, empty or stub plain alternative ("Ihr
E-Mail-Programm kann keine HTML ...") gives way to the HTML rendered as text by inscriptis
(paragraphs and list items kept). Line ends become "\\n" and format=flowed is unflowed
(DelSp respected). ``to`` holds the lower-cased addresses of the To header only. A Date
without a zone (or with -0000) is taken as UTC and noted as a defect, so ``date`` is always
timezone-aware or None.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.header
import email.message
import email.utils
import functools
import html
import io
import logging
import re
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ikz_inbox.errors import ParseError
from ikz_inbox.types import Attachment, AttachmentText, ParsedMail

logger = logging.getLogger(__name__)

# Attachments larger than this are listed but not read: no real question PDF is that big.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Text kept per attachment; far more than any question needs, small enough for the store.
MAX_TEXT_CHARS = 100_000
# pypdf can be slow on hostile PDFs: read at most this many pages ...
MAX_PDF_PAGES = 50
# A .docx is a zip whose XML python-docx holds in memory whole; zipfile never unpacks a
# member beyond its declared size, so the declared sizes bound that memory. Far more than
# any list of questions; a docx bomb declares gigabytes.
MAX_DOCX_UNPACKED_BYTES = 20 * 1024 * 1024
# ... and stop reading further pages after this many seconds.
MAX_PDF_SECONDS = 5.0
# HTML rendered to text at most; inscriptis takes seconds on multi-megabyte newsletters.
MAX_HTML_CHARS = 1_000_000
# Forwarded-in-forwarded-in-forwarded is the deepest anyone does on purpose.
MAX_EMBED_DEPTH = 3
# Deeper MIME nesting is only ever an attack on the parser.
MAX_MIME_DEPTH = 30
# A text/plain alternative shorter than this may be a "this is an HTML message" stub
# (the longest real stubs, e.g. "This is a multi-part message in MIME format ...", are ~150).
STUB_MAX_CHARS = 250
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
_TAG = re.compile(r"<[^>]*>")
_BLANK_RUN = re.compile(r"\n{3,}")
_INVISIBLE = re.compile(r"<(head|style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BETWEEN_WORDS = re.compile(r"\?=\s+=\?")
# Objects, the trailer's root and a catalog object, to rebuild a missing PDF xref table.
_PDF_OBJECT = re.compile(rb"(?<![0-9])([0-9]{1,7})\s+0\s+obj\b")
_PDF_ROOT = re.compile(rb"/Root\s+([0-9]{1,7})\s+0\s+R")
_PDF_CATALOG = re.compile(rb"([0-9]{1,7})\s+0\s+obj\s*<<\s*/Type\s*/Catalog")
# A header block the feed parser reads without defects: "Name: value" fields and folded
# continuation lines, each ending in LF or CRLF (a lone CR also ends a line there).
_SIMPLE_LINE = r"[^\r\n]*\r?\n"
_SIMPLE_FIELD = re.compile(
    rf"([\x21-\x39\x3b-\x7e]+):[ \t]*({_SIMPLE_LINE}(?:[ \t]{_SIMPLE_LINE})*)"
)
# Header blocks naming these types are left to the feed parser unread (top level: message
# types; parts of a multipart: also nested multiparts).
_MESSAGE_TYPE = re.compile(r"message/", re.IGNORECASE)
_NESTED_TYPE = re.compile(r"multipart/|message/", re.IGNORECASE)
_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_PARAM = re.compile(r';\s*([\w*.-]+)\s*=\s*("[^"]*"|[^;\s]*)')
_STUB = re.compile(
    r"this is an? (html|multi-?part)"
    r"|(e-?mail|mail)[- ]?(programm|client|reader|software).{0,60}"
    r"(kann keine|nicht|unterst|does ?n.?t|cannot|can.?t|not support)"
    r"|to view this (message|e-?mail)"
    r"|(diese|die) (nachricht|e-?mail|mail) (ist|wurde) .{0,30}html"
    r"|(use|enable|switch to) (an )?html|html[- ]?(version|ansicht|darstellung)"
    r"|ihr e-?mail-?programm",
    re.IGNORECASE,
)
# Every stub phrase above holds one of these; the regex runs only when one is present.
_STUB_WORDS = ("html", "mail", "view")
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
_REFUSED_CODECS = frozenset({"unicode_escape", "raw_unicode_escape", "idna", "punycode"})


@dataclass
class _Collected:
    """Everything the MIME walk finds in one message (one per message, never shared)."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    embedded: list[ParsedMail] = field(default_factory=list)
    delivery: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def parse_message(raw: bytes) -> ParsedMail:
    """Decode one raw message into a ParsedMail.

    In: the message bytes as received (CRLF or LF line ends). Out: a ParsedMail with
    decoded headers, body text, attachments, embedded messages and defects. Raises
    ParseError when the input holds nothing decodable; never raises anything else.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ParseError(f"input is not bytes: {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise ParseError("empty message")
    try:
        message = _read_tree(data)
        parsed = _build_mail(message, depth=0)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"unexpected {type(exc).__name__} while parsing: {exc}") from exc
    if not parsed.headers and not parsed.attachments and not _has_words(parsed.body_text):
        raise ParseError("no headers and no decodable text")
    if parsed.defects:
        logger.debug("%s parsed with %s defects", parsed.message_id, len(parsed.defects))
    return parsed


def _read_tree(data: bytes) -> email.message.Message:
    """Build the compat32 message tree of raw bytes, skipping the feed parser when we can."""
    simple = _simple_tree(data)
    return simple if simple is not None else email.message_from_bytes(data)


def _simple_tree(data: bytes) -> email.message.Message | None:
    """Build the tree of a plainly written message without the feed parser, else None.

    The result equals what ``email.message_from_bytes`` builds (the same raw header
    values, payloads, preamble and epilogue, no defects) whenever this returns a message.
    It reads single-part mail and multiparts of single-part children: every header block
    must be ASCII, each line a ``Name: value`` field or a folded continuation, followed by
    an empty line; line ends are LF or CRLF; boundaries open and close every multipart.
    Anything else (nested multiparts, message parts, unix From line, header defects, lone
    CR, 8-bit header bytes, digests, missing boundaries) is left to the feed parser.
    """
    text = data.decode("ascii", "surrogateescape")
    head = _simple_headers(text, _MESSAGE_TYPE)
    if head is None:
        return None
    message, body = head
    if message.get_content_maintype() == "multipart":
        return message if _fill_multipart(message, body) else None
    message.set_payload(body)
    return message


def _simple_headers(
    text: str, refused: re.Pattern[str]
) -> tuple[email.message.Message, str] | None:
    """Read a plain header block into a new message; return it with the body text after."""
    block_end = _header_block_end(text)
    block = text[:block_end]
    if not block or not block.isascii() or refused.search(block):
        return None
    message = email.message.Message()
    position = 0
    for field_match in _SIMPLE_FIELD.finditer(block):
        if field_match.start() != position:
            return None
        message.set_raw(field_match.group(1), field_match.group(2).rstrip("\r\n"))
        position = field_match.end()
    if position != block_end or message.get_content_maintype() == "message":
        return None
    return message, text[block_end + (1 if text.startswith("\n", block_end) else 2) :]


def _header_block_end(text: str) -> int:
    """Return where the empty line after the header block starts (0 when there is none)."""
    ends = [index + 1 for index in (text.find("\n\n"), text.find("\n\r\n")) if index >= 0]
    return min(ends, default=0)


def _fill_multipart(message: email.message.Message, body: str) -> bool:
    """Attach the single-part children of a plain multipart body; False when it is not plain."""
    boundary = message.get_boundary()
    if boundary is None or message.get_content_subtype() == "digest":
        return False
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if encoding not in {"7bit", "8bit", "binary"} or body.count("\r") != body.count("\r\n"):
        return False
    split = _split_parts(body, boundary)
    if split is None:
        return False
    preamble, parts, epilogue = split
    children = []
    for lines in parts:
        child = _simple_part("".join(lines))
        if child is None:
            return False
        children.append(child)
    if preamble:
        message.preamble = _strip_line_end("".join(preamble))
    for child in children:
        message.attach(child)
    message.epilogue = "".join(epilogue)
    return True


def _split_parts(body: str, boundary: str) -> tuple[list[str], list[list[str]], list[str]] | None:
    """Split a multipart body into (preamble, part lines, epilogue) lines, the feed parser's way.

    None when the close boundary is missing, no part opens, or two boundaries meet.
    """
    separator = "--" + boundary
    lines = _LINE.findall(body)
    preamble: list[str] = []
    parts: list[list[str]] = []
    current: list[str] | None = None
    for index, line in enumerate(lines):
        found = boundary_line(line, separator)
        if found is None:
            (preamble if current is None else current).append(line)
        elif current is not None and not current:
            return None
        elif found == "close":
            return (preamble, parts, lines[index + 1 :]) if parts else None
        else:
            current = []
            parts.append(current)
    return None


# What may follow a boundary after its blanks: an optional line end (\r\n, \r or \n), and
# then the end of the line or one more \n (where the feed parser's "$" also matches).
_BOUNDARY_TAILS = frozenset({"", "\n", "\n\n", "\r", "\r\n", "\r\n\n"})


def boundary_line(line: str, separator: str) -> str | None:
    """ "open" or "close" when ``line`` is the boundary ``separator`` ("--" + boundary), else None.

    The same decision as the feed parser's per-message regex
    ``(--boundary)(--)?[ \t]*(\r\n|\r|\n)?$``, without compiling one regex per message
    (that compile was a third of the parse time of a multipart mail).
    """
    if not line.startswith(separator):
        return None
    rest = line[len(separator) :]
    if rest.startswith("--") and rest[2:].lstrip(" \t") in _BOUNDARY_TAILS:
        return "close"
    return "open" if rest.lstrip(" \t") in _BOUNDARY_TAILS else None


def _simple_part(text: str) -> email.message.Message | None:
    """Build one single-part child of a plain multipart, else None."""
    head = _simple_headers(text, _NESTED_TYPE)
    if head is None:
        return None
    message, body = head
    if message.get_content_maintype() == "multipart":
        return None
    message.set_payload(_strip_line_end(body))
    return message


def _strip_line_end(text: str) -> str:
    """Drop one final line end: it belongs to the boundary that follows (RFC 2046)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _has_words(text: str) -> bool:
    """Tell whether decoded text holds any letter or digit at all."""
    return any(char.isalnum() for char in text)


def _build_mail(message: email.message.Message, depth: int) -> ParsedMail:
    """Turn one parsed message (top level or embedded) into a ParsedMail."""
    defects: list[str] = []
    fields = _fields(message, defects)
    headers = tuple(
        (name.lower(), _decode_words(value) if "=?" in value else value) for name, value in fields
    )
    first = _first_indexes(headers)
    found = _Collected()
    _walk(message, found, depth=depth, mime_depth=0)
    body_text, body_html = _choose_body(found)
    from_name, from_address = _parse_from(
        _value_at(fields, first.get("from")), _value_at(headers, first.get("from")), defects
    )
    return ParsedMail(
        message_id=_message_id(_value_at(headers, first.get("message-id"))),
        subject=_value_at(headers, first.get("subject")) or "",
        from_name=from_name,
        from_address=from_address,
        to=_parse_to(_value_at(fields, first.get("to"))),
        date=_parse_date(_value_at(headers, first.get("date")), defects),
        headers=headers,
        body_text=body_text,
        body_html=body_html,
        attachments=tuple(found.attachments),
        embedded=tuple(found.embedded),
        delivery_status="\n\n".join(found.delivery),
        defects=tuple(dict.fromkeys(defects + found.defects)),
    )


# --- headers -------------------------------------------------------------------------


def _fields(message: email.message.Message, defects: list[str]) -> list[tuple[str, str]]:
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


def _first_indexes(headers: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """Map each lower-cased header name to the index of its first occurrence."""
    first: dict[str, int] = {}
    for index, (key, _) in enumerate(headers):
        first.setdefault(key, index)
    return first


def _value_at(
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
        return _decode_bytes(text.encode("utf-8", "surrogateescape"), None)[0]
    return text


def _decode_words(value: str) -> str:
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
    except Exception:
        return _decode_words_leniently(value)
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        else:
            parts.append(_decode_bytes(chunk, charset)[0])
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
    return _decode_bytes(data, charset)[0]


def _message_id(value: str | None) -> str | None:
    """Return the Message-ID without whitespace, angle brackets kept; None when empty."""
    if value is None:
        return None
    compact = "".join(value.split())
    return compact or None


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    """Parse the Date header; a date without zone is taken as UTC (with a defect)."""
    if value is None:
        defects.append("no Date header")
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:
        defects.append(f"unparseable Date: {value[:80]!r}")
        return None
    if parsed.tzinfo is None:
        defects.append("Date without time zone, assumed UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _parse_from(value: str | None, decoded: str | None, defects: list[str]) -> tuple[str, str]:
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
        name = _decode_words(name)
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
    return _decode_words(str(name)), str(address)


def _parse_to(value: str | None) -> tuple[str, ...]:
    """Return the lower-cased addresses of the To header."""
    if not value:
        return ()
    if not any(char in value for char in '"(\\'):
        items = [_SIMPLE_MAILBOX.match(item.strip()) for item in value.split(",")]
        if all(items):
            return tuple((m.group(2) or m.group(3)).lower() for m in items if m)
    pairs = email.utils.getaddresses([value])
    return tuple(address.lower() for _, address in pairs if "@" in address)


# --- charsets ------------------------------------------------------------------------


def _decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
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


# --- MIME walk -----------------------------------------------------------------------


@dataclass(frozen=True)
class _PartInfo:
    """What the walk needs from one part's headers, read in one pass over them."""

    ctype: str
    charset: str | None
    params: dict[str, str]
    disposition: str


def _part_info(part: email.message.Message) -> _PartInfo:
    """Read content type, parameters and disposition of a part (first header wins)."""
    content_type = disposition = None
    for name, value in part.raw_items():
        lowered = name.lower()
        if lowered == "content-type" and content_type is None:
            content_type = str(value)
        elif lowered == "content-disposition" and disposition is None:
            disposition = str(value)
    if content_type is None:
        return _PartInfo(part.get_default_type(), None, {}, disposition or "")
    main = content_type.split(";", 1)[0].strip().lower()
    params = {key.lower(): value.strip('"') for key, value in _PARAM.findall(content_type)}
    charset = params.get("charset")
    if any("*" in key for key in params):
        charset = part.get_content_charset()  # RFC 2231 parameters: let the stdlib decode
    ctype = main if main.count("/") == 1 else "text/plain"
    return _PartInfo(ctype, charset, params, disposition or "")


def _walk(part: email.message.Message, found: _Collected, depth: int, mime_depth: int) -> None:
    """Visit one MIME part and file what it holds into ``found``."""
    if part.defects:
        found.defects.extend(type(defect).__name__ for defect in part.defects)
    if mime_depth > MAX_MIME_DEPTH:
        found.defects.append("MIME nesting too deep, rest ignored")
        return
    info = _part_info(part)
    ctype = info.ctype
    if ctype == "message/rfc822":
        _add_embedded(part, found, depth)
    elif ctype == "message/delivery-status":
        found.delivery.append(_delivery_status_text(part, info, found.defects))
    elif part.is_multipart():
        _walk_multipart(part, info, found, depth, mime_depth)
    elif ctype.startswith("multipart/"):
        found.defects.append("multipart without parts, read as text")
        found.plain.append(_part_text(part, info, found.defects))
    elif _is_inline_text(part, info):
        text = _part_text(part, info, found.defects)
        if ctype == "text/html":
            found.html.append(text)
        else:
            found.plain.append(_unflow(info, text))
    else:
        found.attachments.append(_make_attachment(part, info, found.defects))


def _walk_multipart(
    part: email.message.Message, info: _PartInfo, found: _Collected, depth: int, mime_depth: int
) -> None:
    """Visit the children of a multipart: alternatives, reports and plain containers."""
    payload = part.get_payload()
    children = [child for child in payload if isinstance(child, email.message.Message)]
    subtype = info.ctype.partition("/")[2]
    if subtype == "alternative":
        _walk_alternative(children, found, depth, mime_depth)
        return
    for index, child in enumerate(children):
        if subtype == "report" and index > 0 and _is_returned_original(child):
            found.defects.append("bounce: returned original message left out")
            continue
        _walk(child, found, depth, mime_depth + 1)


def _delivery_status_text(part: email.message.Message, info: _PartInfo, defects: list[str]) -> str:
    """Return the field blocks of a message/delivery-status part as text."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _part_text(part, info, defects).strip()
    blocks = []
    for block in payload:
        if isinstance(block, email.message.Message):
            fields = _fields(block, defects)
            blocks.append("\n".join(f"{name}: {value}" for name, value in fields))
    return "\n\n".join(blocks).strip()


def _is_returned_original(part: email.message.Message) -> bool:
    """Tell whether a report's part is the returned original message."""
    return part.get_content_type() in {"message/rfc822", "text/rfc822-headers"}


def _walk_alternative(
    children: list[email.message.Message], found: _Collected, depth: int, mime_depth: int
) -> None:
    """Keep one real plain-text alternative (if any) and the HTML alternative."""
    options = []
    for child in children:
        option = _Collected()
        _walk(child, option, depth, mime_depth + 1)
        options.append(option)
        found.attachments.extend(option.attachments)
        found.embedded.extend(option.embedded)
        found.delivery.extend(option.delivery)
        found.defects.extend(option.defects)
    html_parts = next((o.html for o in reversed(options) if o.html), [])
    plain_parts = next((o.plain for o in options if _is_real_plain(o.plain, html_parts)), [])
    if not plain_parts and not html_parts:
        plain_parts = next((o.plain for o in options if o.plain), [])
    found.plain.extend(plain_parts)
    found.html.extend(html_parts)


def _is_real_plain(plain: list[str], html_parts: list[str]) -> bool:
    """Tell whether a text/plain alternative holds the message rather than a stub."""
    text = "\n".join(plain).strip()
    if not text:
        return False
    if len(text) >= STUB_MAX_CHARS or not html_parts:
        return True
    lowered = text.lower()
    if any(word in lowered for word in _STUB_WORDS) and _STUB.search(text):
        return False
    return _rough_text_length("\n".join(html_parts)) < 10 * max(len(text), 8)


def _rough_text_length(markup: str) -> int:
    """Estimate the visible text length of HTML cheaply (only to spot stub alternatives)."""
    visible = _TAG.sub(" ", _INVISIBLE.sub(" ", markup))
    return len("".join(html.unescape(visible).split()))


def _is_inline_text(part: email.message.Message, info: _PartInfo) -> bool:
    """Tell whether a part is body text rather than an attachment."""
    if info.ctype not in {"text/plain", "text/html"}:
        return False
    if not info.disposition and "name" not in info.params:
        return True
    if part.get_filename():
        return False
    return not info.disposition.strip().lower().startswith("attachment")


def _part_text(part: email.message.Message, info: _PartInfo, defects: list[str]) -> str:
    """Return a leaf part's payload decoded to str with "\\n" line ends."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, str):
        data = payload.encode("utf-8", "surrogateescape")
    elif isinstance(payload, bytes):
        data = payload
    else:
        data = b""
    text, defect = _decode_bytes(data, info.charset)
    if defect:
        defects.append(f"{info.ctype}: {defect}")
    if "\ufffd\ufffd" in text:
        defects.append(f"{info.ctype}: undecodable byte runs")
    if "\r" in text:
        text = _unify_line_ends(text)
    return text.replace("\x00", "") if "\x00" in text else text


def _unify_line_ends(text: str) -> str:
    """Turn CRLF and lone CR line ends into "\\n"."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unflow(info: _PartInfo, text: str) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676), respecting DelSp."""
    if info.params.get("format", "").lower() != "flowed":
        return text
    delsp = info.params.get("delsp", "").lower() == "yes"
    lines: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for raw_line in text.split("\n"):
        stripped = raw_line.lstrip(">")
        depth = len(raw_line) - len(stripped)
        line = stripped[1:] if stripped.startswith(" ") else stripped
        if pending is not None and depth != pending_depth:
            lines.append(_quote(pending, pending_depth))
            pending = None
        content = line if pending is None else pending + line
        if line.endswith(" ") and line != "-- ":
            pending, pending_depth = (content[:-1] if delsp else content), depth
            continue
        lines.append(_quote(content, depth))
        pending = None
    if pending is not None:
        lines.append(_quote(pending, pending_depth))
    return "\n".join(lines)


def _quote(line: str, depth: int) -> str:
    """Put the quote markers of a flowed line back in front of it."""
    return ">" * depth + " " + line if depth else line


def _add_embedded(part: email.message.Message, found: _Collected, depth: int) -> None:
    """Parse a message/rfc822 part into ``found.embedded`` (bounded depth)."""
    if depth >= MAX_EMBED_DEPTH:
        found.defects.append("embedded message nested too deep, left out")
        return
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
        inner = payload[0]
    else:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data.strip():
            found.defects.append("empty message/rfc822 part")
            return
        inner = _read_tree(data)
    found.embedded.append(_build_mail(inner, depth + 1))


def _choose_body(found: _Collected) -> tuple[str, str]:
    """Return (body_text, body_html): real plain text if any, else the HTML as text."""
    body_html = "\n".join(found.html)
    plain = "\n".join(found.plain)
    if plain.strip() or not body_html.strip():
        return plain, body_html
    if len(body_html) > MAX_HTML_CHARS:
        found.defects.append(f"HTML body cut to {MAX_HTML_CHARS} characters before rendering")
    return _html_to_text(body_html[:MAX_HTML_CHARS]), body_html


def _html_to_text(markup: str) -> str:
    """Render HTML as text, keeping paragraphs and list items, entities decoded."""
    if not markup.strip():
        return ""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    try:
        # The strict profile adds no indentation to <div>/<p> (Outlook wraps everything).
        text = str(get_text(markup, ParserConfig(css=CSS_PROFILES["strict"])))
    except Exception as exc:
        logger.debug("inscriptis failed (%s), stripping tags instead", exc)
        text = html.unescape(_TAG.sub(" ", markup))
    text = text.replace("\xa0", " ").replace("\u200b", "")
    return _BLANK_RUN.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n")))


# --- attachments ---------------------------------------------------------------------


def _make_attachment(
    part: email.message.Message, info: _PartInfo, defects: list[str]
) -> Attachment:
    """Describe one attachment; keep the bytes of one whose text can be read later."""
    filename = _decode_words(str(part.get_filename() or ""))
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    kind = _text_kind(filename, info.ctype)
    if kind and len(data) > MAX_ATTACHMENT_BYTES:
        defects.append(f"attachment {filename!r} too large to read ({len(data)} bytes)")
        kind = None
    return Attachment(
        filename=filename,
        content_type=info.ctype,
        size=len(data),
        text_kind=kind,
        charset=info.charset,
        data=data if kind else b"",
    )


def read_attachment(attachment: Attachment) -> AttachmentText:
    """The text of a .txt/.pdf/.docx attachment, bounded in size, pages and time ("" for
    other types); what was odd about it is in ``defects``. Never raises."""
    if attachment.text_kind is None:
        return AttachmentText("")
    defects: list[str] = []
    text = _attachment_text(
        attachment.text_kind, attachment.data, attachment.charset, defects, attachment.filename
    )
    return AttachmentText(text, tuple(defects))


def _text_kind(filename: str, ctype: str) -> str | None:
    """Return "txt", "pdf" or "docx" when we can read text from this attachment."""
    lower = filename.lower()
    if lower.endswith(".pdf") or ctype == "application/pdf":
        return "pdf"
    if lower.endswith(".docx") or ctype.endswith("wordprocessingml.document"):
        return "docx"
    if lower.endswith(".txt") or ctype == "text/plain":
        return "txt"
    return None


def _attachment_text(
    kind: str, data: bytes, charset: str | None, defects: list[str], filename: str
) -> str:
    """Extract the text of a .txt/.pdf/.docx attachment; never raises."""
    try:
        if kind == "pdf":
            text = _pdf_text(data, defects, filename)
        elif kind == "docx":
            text = _docx_text(data, defects, filename)
        else:
            text = _decode_bytes(data, charset)[0]
    except Exception as exc:
        defects.append(f"attachment {filename!r}: text not readable ({type(exc).__name__})")
        return ""
    return _unify_line_ends(text)[:MAX_TEXT_CHARS]


def _pdf_text(data: bytes, defects: list[str], filename: str) -> str:
    """Read text from a PDF in memory, bounded in pages, time and characters."""
    from pypdf import PdfReader

    if b"startxref" not in data[-4096:]:
        defects.append(f"attachment {filename!r}: PDF without cross-reference table, rebuilt")
        data = _with_rebuilt_xref(data)
    _quiet_pypdf_logger()
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        defects.append(f"attachment {filename!r}: encrypted PDF")
        return ""
    return _pdf_pages_text(reader, defects, filename)


def _quiet_pypdf_logger() -> None:
    """Keep pypdf's notes on broken PDFs out of the service log, unless configured.

    pypdf reports what it repaired through the ``pypdf`` logger (``warnings.warn`` only for
    deprecated calls, which we do not make); the defect list already says a PDF was odd.
    Raising that logger's level is thread-safe, unlike ``warnings.catch_warnings``, which
    swaps the process-wide filter list while a scheduler thread may be parsing. A level set
    by the operator's logging configuration is left alone.
    """
    pypdf_logger = logging.getLogger("pypdf")
    if pypdf_logger.level == logging.NOTSET:
        pypdf_logger.setLevel(logging.ERROR)


def _with_rebuilt_xref(data: bytes) -> bytes:
    """Append a cross-reference table for the objects found, for PDFs written without one."""
    offsets: dict[int, int] = {}
    for match in _PDF_OBJECT.finditer(data):
        offsets.setdefault(int(match.group(1)), match.start(1))
    root = _PDF_ROOT.search(data) or _PDF_CATALOG.search(data)
    if not offsets or root is None:
        return data
    size = max(offsets) + 1
    rows = [b"0000000000 65535 f \n"]
    rows += [
        b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
        for n in range(1, size)
    ]
    start = len(data) + 1
    trailer = b"trailer\n<< /Size %d /Root %s 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root.group(1),
        start,
    )
    return data + b"\nxref\n0 %d\n" % size + b"".join(rows) + trailer


def _pdf_pages_text(reader: object, defects: list[str], filename: str) -> str:
    """Collect page texts until a page, time or character bound is hit."""
    pages = getattr(reader, "pages", [])
    deadline = time.monotonic() + MAX_PDF_SECONDS
    texts: list[str] = []
    total = 0
    for number, page in enumerate(pages):
        if number >= MAX_PDF_PAGES or time.monotonic() > deadline or total > MAX_TEXT_CHARS:
            defects.append(f"attachment {filename!r}: PDF read only up to page {number}")
            break
        text = str(page.extract_text() or "")
        texts.append(text)
        total += len(text)
    return "\n".join(texts)


def _docx_text(data: bytes, defects: list[str], filename: str) -> str:
    """Read paragraph and table text from a .docx in memory, unless it unpacks too large."""
    from docx import Document

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        unpacked = sum(member.file_size for member in package.infolist())
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        defects.append(f"attachment {filename!r}: .docx unpacks to {unpacked} bytes, not read")
        return ""
    document = Document(io.BytesIO(data))
    texts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(texts)
