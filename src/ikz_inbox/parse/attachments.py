"""Attachments for the parse stage: listed while parsing, their text read on demand.

In: a leaf MIME part that is not body text (``make_attachment``, called by the MIME walk),
later the resulting ``Attachment`` (``read_attachment``). Out: an ``Attachment`` that keeps
the decoded bytes of a readable .txt/.pdf/.docx attachment within ``MAX_ATTACHMENT_BYTES``,
and, on demand, its ``AttachmentText``: the text, bounded in size, pages and time, and what
was odd about the file. Reading a PDF costs more than parsing the whole mail, so parsing
only lists attachments; the extract stage reads them when a mail points to them. PDFs
without a cross-reference table are repaired, encrypted ones yield "", and a .docx that
unpacks beyond ``MAX_DOCX_UNPACKED_BYTES`` (a zip bomb) is not opened. Nothing here raises
on bad files.
"""

from __future__ import annotations

import email.message
import io
import logging
import re
import time
import zipfile

from ikz_inbox.parse.charset import decode_bytes, unify_line_ends
from ikz_inbox.parse.headers import decode_words
from ikz_inbox.types import Attachment, AttachmentText

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

# Objects, the trailer's root and a catalog object, to rebuild a missing PDF xref table.
_PDF_OBJECT = re.compile(rb"(?<![0-9])([0-9]{1,7})\s+0\s+obj\b")
_PDF_ROOT = re.compile(rb"/Root\s+([0-9]{1,7})\s+0\s+R")
_PDF_CATALOG = re.compile(rb"([0-9]{1,7})\s+0\s+obj\s*<<\s*/Type\s*/Catalog")


def make_attachment(
    part: email.message.Message, ctype: str, charset: str | None, defects: list[str]
) -> Attachment:
    """Describe one attachment; keep the bytes of one whose text can be read later."""
    filename = decode_words(str(part.get_filename() or ""))
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    kind = _text_kind(filename, ctype)
    if kind and len(data) > MAX_ATTACHMENT_BYTES:
        defects.append(f"attachment {filename!r} too large to read ({len(data)} bytes)")
        kind = None
    return Attachment(
        filename=filename,
        content_type=ctype,
        size=len(data),
        text_kind=kind,
        charset=charset,
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
            text = decode_bytes(data, charset)[0]
    # pypdf and python-docx raise almost any exception type on broken or hostile files; an
    # unreadable attachment is a defect of the mail, never a reason to lose the mail.
    except Exception as exc:  # noqa: BLE001
        defects.append(f"attachment {filename!r}: text not readable ({type(exc).__name__})")
        return ""
    return unify_line_ends(text)[:MAX_TEXT_CHARS]


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
