"""Plain records the store returns; ORM objects never leave the store package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ikz_inbox.types import MessageKind, MessageStatus, TopicSource


@dataclass(frozen=True)
class StoredMessage:
    """A stored message without its raw bytes."""

    id: int
    message_id: str | None
    subject: str
    from_name: str
    from_address: str
    sent_at: datetime | None
    received_at: datetime
    sender_org: str | None
    kind: MessageKind | None
    event_id: str | None
    status: MessageStatus
    error: str | None
    message_id_collision: bool
    source: str


@dataclass(frozen=True)
class StoredQuestion:
    """A stored question with its message's context."""

    id: int
    message_pk: int
    message_id: str | None
    position: int
    text: str
    topic: str
    secondary_topics: tuple[str, ...]
    confidence: float
    topic_source: TopicSource
    model_version: str
    needs_review: bool
    cluster_id: int | None
    event_id: str | None
    sender_org: str | None
    from_address: str
    received_at: datetime
    sent_at: datetime | None

    @property
    def asker_name(self) -> str:
        """Who asked, as shown: the organisation, else the address, else the message."""
        return self.sender_org or self.from_address or f"Nachricht {self.message_pk}"

    @property
    def asker(self) -> str:
        """Who asked, as a key: one asker counts once however it is capitalised."""
        return self.asker_name.casefold()


@dataclass(frozen=True)
class StoredCluster:
    """A stored cluster with its staff flags and last ranking."""

    id: int
    event_id: str | None
    topic: str
    representative_question_id: int | None
    rank: int | None
    score: float
    reason: str
    pinned: bool
    excluded: bool
    answered: bool
    question_ids: tuple[int, ...]


@dataclass(frozen=True)
class AuditEntry:
    """One staff action."""

    id: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, object]
    note: str | None


@dataclass(frozen=True)
class MailboxState:
    """Sync state of one mailbox folder (the defaults: never polled)."""

    mailbox: str
    folder: str
    uidvalidity: int | None = None
    last_uid: int = 0
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    backlog: int = 0
