"""The parse stage's MIME walk: raw RFC 5322 bytes in, one decoded :class:`ParsedMail` out.

``parse_message(raw)`` takes the bytes of one message exactly as received, builds its
compat32 tree (``tree.read_tree``), walks it and returns its decoded headers (``headers``),
the readable body text, attachments (listed by ``attachments.make_attachment``; their text
is read on demand by ``attachments.read_attachment``), forwarded messages
(``message/rfc822`` parts, recursively) and the text of an RFC 3464 delivery-status part.
Problems are recorded in ``ParsedMail.defects``; ``ParseError`` is raised only when nothing
usable can be decoded, and no other exception escapes.

Bounces: for ``multipart/report`` the text of the ``message/delivery-status`` part goes
to ``delivery_status``; the returned original (``message/rfc822`` or
``text/rfc822-headers``) is neither merged into ``body_text`` nor put in ``embedded`` (it
is not the sender's text, so no question may ever be extracted from it); a defect notes
that it was left out. Forwarded messages attached elsewhere go to ``embedded`` (up to
``MAX_EMBED_DEPTH`` levels) and are not repeated in ``attachments``.

Body text: a real text/plain part wins; a missing, empty or stub plain alternative ("Ihr
E-Mail-Programm kann keine HTML ...") gives way to the HTML rendered as text by inscriptis
(paragraphs and list items kept). Line ends become "\\n" and format=flowed is unflowed
(DelSp respected). ``to`` holds the lower-cased addresses of the To header only.
"""

from __future__ import annotations

import email.message
import html
import logging
import re
from dataclasses import dataclass, field

from ikz_inbox.errors import ParseError
from ikz_inbox.parse.attachments import make_attachment
from ikz_inbox.parse.charset import decode_bytes, unify_line_ends
from ikz_inbox.parse.headers import (
    decode_words,
    first_indexes,
    header_fields,
    parse_date,
    parse_from,
    parse_message_id,
    parse_to,
    value_at,
)
from ikz_inbox.parse.tree import read_tree
from ikz_inbox.types import Attachment, ParsedMail

logger = logging.getLogger(__name__)

# HTML rendered to text at most; inscriptis takes seconds on multi-megabyte newsletters.
MAX_HTML_CHARS = 1_000_000
# Forwarded-in-forwarded-in-forwarded is the deepest anyone does on purpose.
MAX_EMBED_DEPTH = 3
# Deeper MIME nesting is only ever an attack on the parser.
MAX_MIME_DEPTH = 30
# A text/plain alternative shorter than this may be a "this is an HTML message" stub
# (the longest real stubs, e.g. "This is a multi-part message in MIME format ...", are ~150).
STUB_MAX_CHARS = 250

_TAG = re.compile(r"<[^>]*>")
_BLANK_RUN = re.compile(r"\n{3,}")
_INVISIBLE = re.compile(r"<(head|style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
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
        message = read_tree(data)
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


def _has_words(text: str) -> bool:
    """Tell whether decoded text holds any letter or digit at all."""
    return any(char.isalnum() for char in text)


def _build_mail(message: email.message.Message, depth: int) -> ParsedMail:
    """Turn one parsed message (top level or embedded) into a ParsedMail."""
    defects: list[str] = []
    fields = header_fields(message, defects)
    headers = tuple(
        (name.lower(), decode_words(value) if "=?" in value else value) for name, value in fields
    )
    first = first_indexes(headers)
    found = _Collected()
    _walk(message, found, depth=depth, mime_depth=0)
    body_text, body_html = _choose_body(found)
    from_name, from_address = parse_from(
        value_at(fields, first.get("from")), value_at(headers, first.get("from")), defects
    )
    return ParsedMail(
        message_id=parse_message_id(value_at(headers, first.get("message-id"))),
        subject=value_at(headers, first.get("subject")) or "",
        from_name=from_name,
        from_address=from_address,
        to=parse_to(value_at(fields, first.get("to"))),
        date=parse_date(value_at(headers, first.get("date")), defects),
        headers=headers,
        body_text=body_text,
        body_html=body_html,
        attachments=tuple(found.attachments),
        embedded=tuple(found.embedded),
        delivery_status="\n\n".join(found.delivery),
        defects=tuple(dict.fromkeys(defects + found.defects)),
    )


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
        found.attachments.append(make_attachment(part, info.ctype, info.charset, found.defects))


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
            fields = header_fields(block, defects)
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
    text, defect = decode_bytes(data, info.charset)
    if defect:
        defects.append(f"{info.ctype}: {defect}")
    if "\ufffd\ufffd" in text:
        defects.append(f"{info.ctype}: undecodable byte runs")
    if "\r" in text:
        text = unify_line_ends(text)
    return text.replace("\x00", "") if "\x00" in text else text


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
        inner = read_tree(data)
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
    # inscriptis (with lxml) may raise any exception type on hostile markup; the tags are
    # then stripped instead, so the body text is never lost.
    except Exception as exc:  # noqa: BLE001
        logger.debug("inscriptis failed (%s), stripping tags instead", exc)
        text = html.unescape(_TAG.sub(" ", markup))
    text = text.replace("\xa0", " ").replace("\u200b", "")
    return _BLANK_RUN.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n")))
