"""Parse stage: raw RFC 5322 bytes in, one decoded :class:`ParsedMail` out.

``parse_message(raw)`` takes the bytes of one message exactly as received and returns its
decoded headers, the readable body text, attachments, forwarded messages and the text of a
delivery-status part; ``ParseError`` is raised only when nothing usable can be decoded.
``read_attachment(attachment)`` reads the text of a listed .txt/.pdf/.docx attachment on
demand (a PDF costs more than the rest of the mail); the wiring hands it to the extract
stage.

The modules, each importing only those listed before it:

* ``charset``: text bytes and a declared charset in, ``str`` and a defect note out.
* ``headers``: header fields in, decoded values, Message-ID, Date, From and To out.
* ``tree``: raw bytes in, the compat32 MIME tree out (a fast path for plain mail).
* ``attachments``: a MIME part in, an ``Attachment`` out; later its text, bounded.
* ``mime``: raw bytes in, ``ParsedMail`` out (walks the tree, picks the body text).
"""

from ikz_inbox.parse.attachments import read_attachment
from ikz_inbox.parse.mime import parse_message

__all__ = ["parse_message", "read_attachment"]
