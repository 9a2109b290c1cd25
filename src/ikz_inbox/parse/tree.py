"""The compat32 MIME tree of raw message bytes, for the parse stage.

In: the bytes of one message (or of one embedded message/rfc822 part). Out: the standard
library's compat32 ``email.message.Message`` tree (``read_tree``), which ``mime`` walks.

Plainly written mail (single-part, or a multipart of single-part children, with clean ASCII
header blocks) is split by ``simple_tree`` into the very tree the feed parser would build,
at a fraction of its cost; everything else goes through ``email.message_from_bytes``
(measured with ``bench/bench_parse.py``). ``mailparser.parse_from_bytes`` costs about 7x and
``email.policy.default`` about 4x the time of a compat32 parse, so neither can meet the
stage's "within 2x of stdlib" budget, and both decide charsets in ways we must override
anyway (lying ``iso-8859-1``/``us-ascii`` declarations, unknown charsets).
"""

from __future__ import annotations

import email
import email.message
import re

# Whether ``read_tree`` tries ``simple_tree`` first. Always on in service; a test or
# benchmark turns it off to compare with the feed parser alone (the results must be equal).
USE_SIMPLE_TREE = True

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


def read_tree(data: bytes) -> email.message.Message:
    """Build the compat32 message tree of raw bytes, skipping the feed parser when we can."""
    simple = simple_tree(data) if USE_SIMPLE_TREE else None
    return simple if simple is not None else email.message_from_bytes(data)


def simple_tree(data: bytes) -> email.message.Message | None:
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
