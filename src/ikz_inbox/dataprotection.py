"""Data protection jobs (DSGVO) shared by the CLI and the service.

``purge`` applies the retention of ``[retention]`` (Art. 5(1)(e)), ``forget_sender``
erases one sender's data (Art. 17), ``personal_export`` gives everything stored about one
sender (Art. 15). Each writes an audit entry; ``forget`` records a keyed hash of the
address, never the address. Afterwards the database is compacted so the removed bytes
leave the file as well.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox.config import RetentionSection
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.privacy import (
    PersonalTerms,
    address_hash,
    mentions,
    normalize_address,
    personal_terms,
    relocate_span,
    scrub_text,
)
from ikz_inbox.store import Database, repository, session_scope
from ikz_inbox.store.personal import (
    PersonalMessage,
    ScrubbedMessage,
    apply_scrub,
    compact,
    messages_by_ids,
    messages_from,
    messages_mentioning,
    remove_raw,
    retention_candidates,
)
from ikz_inbox.store.records import StoredQuestion
from ikz_inbox.types import Event

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ikz_inbox.app import App

logger = logging.getLogger(__name__)

PERSONAL_EXPORT_SCHEMA = "ikz-inbox/personal/1"
# The key of the audit's address hashes: a systemd credential, else this file in lock_dir.
AUDIT_KEY_NAME = "audit-key"
# 256 bits, the HMAC-SHA256 block-size-independent recommendation (RFC 2104: >= hash length).
AUDIT_KEY_BYTES = 32


@dataclass(frozen=True)
class PurgePlan:
    """What retention removes: raw bytes only, or raw bytes and the sender's data."""

    raw_only: tuple[int, ...]
    personal: tuple[int, ...]

    @property
    def empty(self) -> bool:
        return not self.raw_only and not self.personal


@dataclass(frozen=True)
class ForgetResult:
    """What ``forget`` changed: the sender's messages and other messages naming the address."""

    messages: int
    mentions: int
    questions: int
    address_hash: str


# --- retention --------------------------------------------------------------------------


def plan_purge(
    session: Session, events: Sequence[Event], retention: RetentionSection, now: datetime
) -> PurgePlan:
    """The messages whose retention ran out (nothing is changed)."""
    ends = {event.id: event.ends_at for event in events}
    raw_only: list[int] = []
    personal: list[int] = []
    for candidate in retention_candidates(session):
        reference = ends.get(candidate.event_id or "", candidate.received_at)
        reference = max(reference, candidate.received_at)
        if candidate.personal_left and now - reference > timedelta(days=retention.personal_days):
            personal.append(candidate.id)
        elif candidate.raw_left and now - reference > timedelta(days=retention.raw_days):
            raw_only.append(candidate.id)
    return PurgePlan(raw_only=tuple(raw_only), personal=tuple(personal))


def purge(
    session: Session,
    database: Database,
    plan: PurgePlan,
    retention: RetentionSection,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Carry out a purge plan, audit it and compact the database. Commits."""
    if plan.empty:
        return
    remove_raw(session, plan.raw_only, now)
    for message in messages_by_ids(session, plan.personal):
        terms = personal_terms(message.from_address, [message.from_name])
        apply_scrub(session, _scrubbed(message, terms, own=True), now)
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="purge",
        target_type="messages",
        target_id="retention",
        details={
            "before": {"raw_removed": 0, "personal_removed": 0},
            "after": {"raw_removed": len(plan.raw_only), "personal_removed": len(plan.personal)},
            "raw_days": retention.raw_days,
            "personal_days": retention.personal_days,
        },
    )
    session.commit()
    compact(database)
    logger.info(
        "purge: raw bytes of %d messages, personal data of %d messages removed",
        len(plan.raw_only),
        len(plan.personal),
    )


# Who the audit names for the service's own daily purge.
SERVICE_ACTOR = "ikz-inbox-dienst"


def run_scheduled_purge(app: App, now: datetime) -> int:
    """The retention job: apply ``[retention]``; return how many messages lost data."""
    retention = app.settings.retention
    with session_scope(app.database) as session:
        plan = plan_purge(session, app.events, retention, now)
        purge(session, app.database, plan, retention, now, actor=SERVICE_ACTOR)
    return len(plan.raw_only) + len(plan.personal)


# --- erasure (Art. 17) ------------------------------------------------------------------


def forget_sender(
    session: Session,
    database: Database,
    address: str,
    key: bytes,
    now: datetime,
    *,
    actor: str,
    note: str | None = None,
) -> ForgetResult:
    """Remove one sender's raw messages, address, display name, and names, phone numbers
    and addresses inside stored texts and spans; questions stay as anonymous text.
    Other messages naming the address lose it too. Audited with a keyed hash. Commits."""
    normalized = _checked_address(address)
    own = messages_from(session, normalized)
    terms = personal_terms(normalized, {m.from_name for m in own if m.from_name})
    own_ids = {message.id for message in own}
    others = [
        message
        for message in messages_by_ids(session, messages_mentioning(session, normalized))
        if message.id not in own_ids
    ]
    address_only = PersonalTerms(address=terms.address, names=())
    for message in own:
        apply_scrub(session, _scrubbed(message, terms, own=True), now)
    for message in others:
        apply_scrub(session, _scrubbed(message, address_only, own=False), now)
    digest = address_hash(normalized, key)
    result = ForgetResult(
        messages=len(own),
        mentions=len(others),
        questions=sum(len(m.questions) for m in own),
        address_hash=digest,
    )
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="forget",
        target_type="sender",
        target_id=digest,
        details={
            "before": {"messages": result.messages, "mentions": result.mentions},
            "after": {"messages": 0, "mentions": 0, "questions_kept_anonymous": result.questions},
            "target": "HMAC-SHA256 of the address (key: audit-key)",
        },
        note=note,
    )
    session.commit()
    compact(database)
    return result


def _checked_address(address: str) -> str:
    normalized = normalize_address(address)
    if "@" not in normalized or len(normalized) < 3:
        raise IkzInboxError(f"Keine E-Mail-Adresse: {address!r}")
    return normalized


def _scrubbed(message: PersonalMessage, terms: PersonalTerms, *, own: bool) -> ScrubbedMessage:
    new_text = scrub_text(message.new_text, terms, contacts=own)
    questions: dict[int, tuple[str, int, int]] = {}
    for question in message.questions:
        text = scrub_text(question.text, terms, contacts=own)
        start, end = relocate_span(new_text, text)
        if (start, end) == (0, 0):  # not verbatim in the new text: keep the old span
            start, end = (
                min(question.span_start, len(new_text)),
                min(question.span_end, len(new_text)),
            )
        questions[question.id] = (text, start, end)
    message_id = message.message_id
    if message_id is not None and (mentions(message_id, terms) or own):
        message_id = None
    return ScrubbedMessage(
        id=message.id,
        subject=scrub_text(message.subject, terms, contacts=own),
        new_text=new_text,
        error=scrub_text(message.error, terms, contacts=own) if message.error else message.error,
        message_id=message_id,
        questions=questions,
        clear_sender=own,
    )


def load_audit_key(lock_dir: Path, environ: Mapping[str, str]) -> bytes:
    """The audit's HMAC key: ``$CREDENTIALS_DIRECTORY/audit-key`` under systemd, else
    ``audit-key`` in ``lock_dir``, created (mode 0600) on first use."""
    credentials = environ.get("CREDENTIALS_DIRECTORY", "")
    if credentials and (Path(credentials) / AUDIT_KEY_NAME).is_file():
        return (Path(credentials) / AUDIT_KEY_NAME).read_bytes().strip()
    path = lock_dir / AUDIT_KEY_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(AUDIT_KEY_BYTES))
    return path.read_bytes()


# --- access (Art. 15) -------------------------------------------------------------------


def personal_export(session: Session, address: str, now: datetime) -> dict[str, object]:
    """Everything stored about one sender, as JSON-ready data (schema ikz-inbox/personal/1)."""
    normalized = _checked_address(address)
    own = messages_from(session, normalized, with_raw=True)
    own_ids = {message.id for message in own}
    topics = {
        question.id: question
        for question in repository.list_questions(session)
        if question.message_pk in own_ids
    }
    return {
        "schema": PERSONAL_EXPORT_SCHEMA,
        "subject": normalized,
        "generated_at": now.isoformat(),
        "note": (
            "Alle zu dieser Absenderadresse gespeicherten Daten (Art. 15 DSGVO). "
            "Rohnachrichten fehlen, wo die Aufbewahrungsfrist sie schon entfernt hat."
        ),
        "messages": [_personal_message_json(message, topics) for message in own],
    }


def _personal_message_json(
    message: PersonalMessage, stored: Mapping[int, StoredQuestion]
) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "from_address": message.from_address,
        "from_name": message.from_name,
        "subject": message.subject,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "received_at": message.received_at.isoformat(),
        "sender_org": message.sender_org,
        "kind": message.kind,
        "event": message.event_id,
        "status": message.status,
        "new_text": message.new_text,
        "raw": message.raw.decode("utf-8", errors="replace") if message.raw else None,
        "raw_removed_at": message.raw_purged_at.isoformat() if message.raw_purged_at else None,
        "questions": [
            {
                "text": question.text,
                "topic": stored[question.id].topic if question.id in stored else None,
                "cluster_id": stored[question.id].cluster_id if question.id in stored else None,
            }
            for question in message.questions
        ],
    }
