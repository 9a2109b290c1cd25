"""Personal data in the store: find a sender's messages, remove raw bytes and contact data,
and compact the database so removed data is gone from the file too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, or_, select, text, update
from sqlalchemy.orm import Session, undefer

from ikz_inbox.store.chunks import chunks
from ikz_inbox.store.database import Database
from ikz_inbox.store.models import MessageRow, QuestionRow
from ikz_inbox.types import MessageKind, MessageStatus


@dataclass(frozen=True)
class PersonalQuestion:
    """A stored question's text and span, as forget and retention rewrite them."""

    id: int
    text: str
    span_start: int
    span_end: int


@dataclass(frozen=True)
class PersonalMessage:
    """What a message stores that may name its sender."""

    id: int
    message_id: str | None
    from_name: str
    from_address: str
    subject: str
    new_text: str
    error: str | None
    event_id: str | None
    received_at: datetime
    sent_at: datetime | None
    sender_org: str | None
    kind: MessageKind | None
    status: MessageStatus
    raw: bytes | None  # None: not loaded (messages_from without with_raw, messages_by_ids)
    raw_purged_at: datetime | None
    personal_purged_at: datetime | None
    questions: tuple[PersonalQuestion, ...]


@dataclass(frozen=True)
class RetentionCandidate:
    """A message that still holds raw bytes or personal data, with its dates."""

    id: int
    event_id: str | None
    received_at: datetime
    raw_left: bool
    personal_left: bool


@dataclass(frozen=True)
class ScrubbedMessage:
    """The new contents of a message after its personal data was removed."""

    id: int
    subject: str
    new_text: str
    error: str | None
    message_id: str | None
    questions: Mapping[int, tuple[str, int, int]]  # question id -> (text, start, end)
    clear_sender: bool  # True: address and display name removed too


def messages_from(
    session: Session, address: str, *, with_raw: bool = False
) -> list[PersonalMessage]:
    """Every message whose sender address is ``address`` (compared case-insensitively);
    their raw bytes only ``with_raw`` (the personal export)."""
    query = (
        select(MessageRow)
        .where(func.lower(MessageRow.from_address) == address.casefold())
        .order_by(MessageRow.id)
    )
    if with_raw:
        query = query.options(undefer(MessageRow.raw))
    return [_personal(row, with_raw=with_raw) for row in session.scalars(query)]


def messages_by_ids(session: Session, ids: Sequence[int]) -> list[PersonalMessage]:
    """The messages with these primary keys, in key order (without their raw bytes)."""
    found: list[PersonalMessage] = []
    for chunk in chunks(sorted(set(ids))):
        query = select(MessageRow).where(MessageRow.id.in_(chunk)).order_by(MessageRow.id)
        found.extend(_personal(row, with_raw=False) for row in session.scalars(query))
    return found


def messages_mentioning(session: Session, needle: str) -> list[int]:
    """Keys of messages whose subject, new text or questions contain ``needle`` (any case)."""
    # autoescape: "_" and "%" in an address are literal characters, no LIKE wildcards
    # (else forgetting max_muster@x would also scrub the messages naming max.muster@x).
    needle = needle.casefold()
    in_questions = select(QuestionRow.message_pk).where(
        func.lower(QuestionRow.text).contains(needle, autoescape=True)
    )
    query = select(MessageRow.id).where(
        or_(
            func.lower(MessageRow.subject).contains(needle, autoescape=True),
            func.lower(MessageRow.new_text).contains(needle, autoescape=True),
            func.lower(MessageRow.error).contains(needle, autoescape=True),
            MessageRow.id.in_(in_questions),
        )
    )
    return sorted(session.scalars(query))


def retention_candidates(session: Session) -> list[RetentionCandidate]:
    """Messages that still hold raw bytes or personal data (without loading the bytes)."""
    query = (
        select(
            MessageRow.id,
            MessageRow.event_id,
            MessageRow.received_at,
            MessageRow.raw_purged_at,
            MessageRow.personal_purged_at,
        )
        .where(or_(MessageRow.raw_purged_at.is_(None), MessageRow.personal_purged_at.is_(None)))
        .order_by(MessageRow.id)
    )
    return [
        RetentionCandidate(
            id=key,
            event_id=event_id,
            received_at=received_at,
            raw_left=raw_purged is None,
            personal_left=personal_purged is None,
        )
        for key, event_id, received_at, raw_purged, personal_purged in session.execute(query)
    ]


def remove_raw(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Drop the raw bytes of these messages, keeping what the pipeline derived (no commit).
    One UPDATE per chunk of keys: the bytes are never loaded."""
    purged_at = func.coalesce(MessageRow.raw_purged_at, literal(now, MessageRow.raw_purged_at.type))
    for chunk in chunks(sorted(set(ids))):
        session.execute(
            update(MessageRow)
            .where(MessageRow.id.in_(chunk))
            .values(raw=b"", raw_purged_at=purged_at)
            .execution_options(synchronize_session=False)
        )


def apply_scrub(session: Session, scrubbed: ScrubbedMessage, now: datetime) -> None:
    """Write a scrubbed message: new texts and spans, no raw bytes; no commit (the old
    bytes are never loaded: the column is deferred)."""
    row = session.get(MessageRow, scrubbed.id)
    if row is None:
        return
    row.subject = scrubbed.subject
    row.new_text = scrubbed.new_text
    row.error = scrubbed.error
    row.message_id = scrubbed.message_id
    row.raw = b""
    row.raw_purged_at = row.raw_purged_at or now
    if scrubbed.clear_sender:
        row.from_address = ""
        row.from_name = ""
        row.personal_purged_at = now
    for question in row.questions:
        if question.id in scrubbed.questions:
            question.text, question.span_start, question.span_end = scrubbed.questions[question.id]
    session.flush()


def compact(database: Database) -> None:
    """Rewrite the database so deleted data leaves the file: VACUUM (SQLite: and empty the
    write-ahead log; PostgreSQL: VACUUM FULL of the tables that hold mail)."""
    backend = database.engine.url.get_backend_name()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if backend == "sqlite":
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif backend == "postgresql":
            conn.execute(text("VACUUM FULL messages, questions"))


def _personal(row: MessageRow, *, with_raw: bool) -> PersonalMessage:
    return PersonalMessage(
        id=row.id,
        message_id=row.message_id,
        from_name=row.from_name,
        from_address=row.from_address,
        subject=row.subject,
        new_text=row.new_text,
        error=row.error,
        event_id=row.event_id,
        received_at=row.received_at,
        sent_at=row.sent_at,
        sender_org=row.sender_org,
        kind=MessageKind(row.kind) if row.kind is not None else None,
        status=MessageStatus(row.status),
        raw=row.raw if with_raw else None,
        raw_purged_at=row.raw_purged_at,
        personal_purged_at=row.personal_purged_at,
        questions=tuple(
            PersonalQuestion(q.id, q.text, q.span_start, q.span_end) for q in row.questions
        ),
    )
