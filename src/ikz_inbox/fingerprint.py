"""Content fingerprints that identify a message however often it is delivered.

A resent or re-delivered message differs from the first copy only in trace headers that
servers add on the way (Received, Return-Path, Delivered-To, spam-check results). The
fingerprint hashes the message without those headers, so the store keeps one copy.
"""

from __future__ import annotations

import hashlib
import re

# Headers added or rewritten in transit; they do not change what the sender wrote.
TRACE_HEADERS = frozenset(
    {
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "x-delivered-to",
        "envelope-to",
        "x-envelope-to",
        "authentication-results",
        "received-spf",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
        "x-received",
        "x-virus-scanned",
        "x-spam-checker-version",
        "x-spam-status",
        "x-spam-level",
        "x-spam-flag",
        "x-spam-score",
    }
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def raw_sha256(raw: bytes) -> str:
    """Return the hex sha256 of the exact bytes."""
    return hashlib.sha256(raw).hexdigest()


def content_sha256(raw: bytes) -> str:
    """Return the hex sha256 of the message without trace headers and with LF line ends."""
    normalised = raw.replace(b"\r\n", b"\n")
    match = _HEADER_END.search(normalised)
    head, body = (
        (normalised[: match.start()], normalised[match.end() :])
        if match
        else (
            normalised,
            b"",
        )
    )
    kept = [field for field in _header_fields(head) if _field_name(field) not in TRACE_HEADERS]
    digest = hashlib.sha256()
    digest.update(b"\n".join(kept))
    digest.update(b"\n\n")
    digest.update(body)
    return digest.hexdigest()


def _header_fields(head: bytes) -> list[bytes]:
    """Split a header block into fields, keeping folded continuation lines with their field."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    return fields


def _field_name(field: bytes) -> str:
    name, _, _ = field.partition(b":")
    return name.strip().lower().decode("ascii", errors="replace")
