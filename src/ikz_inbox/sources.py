"""Read messages from local files: .eml files, folders of them, mbox files and Maildirs.

In: paths. Out: ``RawMail`` objects with the exact bytes and where they came from.
"""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TypeVar

from ikz_inbox.errors import IkzInboxError
from ikz_inbox.types import RawMail

logger = logging.getLogger(__name__)

_MailT = TypeVar("_MailT")

MAIL_SUFFIXES = frozenset({".eml", ".msg", ".txt", ".raw", ""})


def iter_raw_mails(paths: Sequence[Path]) -> Iterator[RawMail]:
    """Every message found under ``paths`` in a stable order, read one at a time.

    A missing path raises IkzInboxError here, before any message is read.
    """
    for path in paths:
        if not path.exists():
            raise IkzInboxError(f"Pfad nicht gefunden: {path}")
    return (mail for path in paths for mail in _from_path(path))


def batched_mails(mails: Iterable[_MailT], size: int) -> Iterator[list[_MailT]]:
    """``mails`` (or stored records of them) in lists of ``size`` (the last may be
    shorter), read as they are needed."""
    iterator = iter(mails)
    while batch := list(islice(iterator, size)):
        yield batch


def _from_path(path: Path) -> Iterator[RawMail]:
    if path.is_dir():
        if _is_maildir(path):
            yield from _from_maildir(path)
        else:
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_dir() or child.suffix.lower() == ".eml":
                    yield from _from_path(child)
                elif child.suffix.lower() in (".mbox", ".mbx"):
                    yield from _from_mbox(child)
    elif _looks_like_mbox(path):
        yield from _from_mbox(path)
    else:
        yield RawMail(raw=path.read_bytes(), source=f"file:{path}")


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def _looks_like_mbox(path: Path) -> bool:
    if path.suffix.lower() in (".mbox", ".mbx"):
        return True
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _from_mbox(path: Path) -> Iterator[RawMail]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.keys()):
            yield RawMail(raw=box.get_bytes(key), source=f"mbox:{path}#{index}")
    finally:
        box.close()


def _from_maildir(path: Path) -> Iterator[RawMail]:
    box = mailbox.Maildir(str(path), create=False)
    for key in sorted(box.keys()):
        yield RawMail(raw=box.get_bytes(key), source=f"maildir:{path}#{key}")
