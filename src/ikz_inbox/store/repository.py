"""Repository functions: take a Session, return plain records. The only SQL of the project."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ikz_inbox.errors import DuplicateContentError, NotFoundError, StoreError
from ikz_inbox.store.chunks import chunks
from ikz_inbox.store.models import (
    AuditRow,
    ClusterConstraintRow,
    ClusterRow,
    EventRow,
    MailboxStateRow,
    MessageRow,
    QuestionRow,
)
from ikz_inbox.store.records import (
    AuditEntry,
    MailboxState,
    StoredCluster,
    StoredMessage,
    StoredQuestion,
)
from ikz_inbox.types import (
    ClassifiedQuestion,
    ClusterConstraints,
    ClusterFlag,
    Event,
    MessageKind,
    MessageResult,
    MessageStatus,
    TopicPrediction,
    TopicSource,
)

_RowT = TypeVar("_RowT")

# --- messages ---------------------------------------------------------------------------


def add_message(session: Session, new: MessageResult, *, collision: bool) -> int:
    """Insert a message with its questions; return its primary key (no commit)."""
    return add_messages(session, [(new, collision)])[0]


def stored_fingerprints(session: Session, fingerprints: Iterable[str]) -> set[str]:
    """The content fingerprints among ``fingerprints`` that are already stored."""
    return set(_message_keys(session, sorted(set(fingerprints))))


def taken_message_ids(session: Session, message_ids: Iterable[str]) -> set[str]:
    """The Message-IDs among ``message_ids`` that some stored message already carries."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(message_ids))):
        query = select(MessageRow.message_id).where(MessageRow.message_id.in_(chunk)).distinct()
        found.update(value for value in session.scalars(query) if value is not None)
    return found


def add_messages(session: Session, batch: Sequence[tuple[MessageResult, bool]]) -> list[int]:
    """Insert many (message, Message-ID collision) pairs with their questions in two
    multi-row statements; return the primary keys in the given order (no commit).
    DuplicateContentError when a content fingerprint is taken (the caller rolls back)."""
    if not batch:
        return []
    # Core inserts on the tables (not ORM bulk inserts): a third of the cost per row. No
    # RETURNING: SQLAlchemy cannot order RETURNING rows of a multi-row insert on SQLite (the
    # key is no AUTOINCREMENT column) and would run one statement per row. The keys are
    # read back by the unique content fingerprint instead.
    messages = MessageRow.metadata.tables[MessageRow.__tablename__]
    try:
        session.execute(
            insert(messages), [_message_values(new, collision=flag) for new, flag in batch]
        )
    except IntegrityError as exc:  # a concurrent writer committed the same content meanwhile
        raise DuplicateContentError(
            f"Inhalt bereits gespeichert / content stored concurrently: {exc.orig}"
        ) from exc
    keys = _message_keys(session, [new.content_sha256 for new, _ in batch])
    ids = [keys[new.content_sha256] for new, _ in batch]
    questions = [
        {"message_pk": pk, **_question_values(question)}
        for pk, (new, _) in zip(ids, batch, strict=True)
        for question in new.questions
    ]
    if questions:
        session.execute(insert(QuestionRow.metadata.tables[QuestionRow.__tablename__]), questions)
    return ids


def _message_keys(session: Session, fingerprints: Sequence[str]) -> dict[str, int]:
    """Primary key by content fingerprint of the stored messages among ``fingerprints``."""
    keys: dict[str, int] = {}
    for chunk in chunks(fingerprints):
        query = select(MessageRow.content_sha256, MessageRow.id).where(
            MessageRow.content_sha256.in_(chunk)
        )
        keys.update((fingerprint, key) for fingerprint, key in session.execute(query))
    return keys


def _message_values(new: MessageResult, *, collision: bool) -> dict[str, object]:
    return {
        "message_id": new.message_id,
        "content_sha256": new.content_sha256,
        "raw_sha256": new.raw_sha256,
        "raw": new.raw.raw,
        "size": len(new.raw.raw),
        "source": new.raw.source,
        "received_at": new.received_at,
        "message_id_collision": collision,
        **_result_values(new),
    }


def _result_values(new: MessageResult) -> dict[str, object]:
    """The columns the pipeline derives (and reprocessing overwrites)."""
    return {
        "subject": new.subject,
        "from_name": new.from_name,
        "from_address": new.from_address,
        "sent_at": new.sent_at,
        "sender_org": new.sender_org,
        "kind": new.kind.value if new.kind is not None else None,
        "event_id": new.event_id,
        "status": new.status.value,
        "error": new.error,
        "new_text": new.new_text,
    }


def _question_values(question: ClassifiedQuestion) -> dict[str, object]:
    return {
        "position": question.span.position,
        "text": question.span.text,
        "span_start": question.span.start,
        "span_end": question.span.end,
        **_topic_values(question),
        "cluster_id": None,
    }


def _topic_values(question: ClassifiedQuestion) -> dict[str, object]:
    """The columns of a question's topic (what a staff topic keeps from reprocessing)."""
    return {
        "topic": question.topic.topic,
        "secondary_topics": list(question.topic.secondary),
        "confidence": question.topic.confidence,
        "topic_source": question.topic.source.value,
        "model_version": question.topic.model_version,
        "needs_review": question.needs_review,
    }


def replace_message_results(session: Session, message_pk: int, new: MessageResult) -> None:
    """Overwrite what the pipeline derived for a stored message.

    A question whose text is unchanged keeps its id, so its cluster, staff topic and staff
    constraints survive; questions that are no longer found are removed, new ones added.
    """
    row = _get(session, MessageRow, message_pk, "Nachricht")
    _copy_results(row, new)
    existing = {question.text: question for question in row.questions}
    for question in row.questions:  # free the (message, position) slots for renumbering
        question.position = -question.id
    session.flush()
    for new_question in new.questions:
        old = existing.pop(new_question.span.text, None)
        if old is None:
            row.questions.append(_question_row(new_question))
        else:
            _update_question(old, new_question)
    for gone in existing.values():
        row.questions.remove(gone)
    session.flush()


def _update_question(row: QuestionRow, new: ClassifiedQuestion) -> None:
    row.position = new.span.position
    row.span_start = new.span.start
    row.span_end = new.span.end
    if row.topic_source == TopicSource.STAFF:
        return
    for column, value in _topic_values(new).items():
        setattr(row, column, value)


def _copy_results(row: MessageRow, new: MessageResult) -> None:
    for column, value in _result_values(new).items():
        setattr(row, column, value)


def _question_row(question: ClassifiedQuestion) -> QuestionRow:
    return QuestionRow(**_question_values(question))


@dataclass(frozen=True)
class RawRecord:
    """The stored raw bytes of a message and their hash, for reprocessing."""

    id: int
    raw: bytes
    raw_sha256: str
    source: str


def count_raw_messages(session: Session) -> int:
    """How many stored messages still have their raw bytes (what reprocessing reads)."""
    query = select(func.count()).select_from(MessageRow).where(MessageRow.raw_purged_at.is_(None))
    return int(session.scalar(query) or 0)


def iter_raw_messages(session: Session, batch_size: int = 200) -> Iterator[RawRecord]:
    """Yield every stored message's raw bytes in primary-key order, a batch at a time
    (messages whose raw bytes retention or ``forget`` removed keep their results)."""
    last_id = 0
    while True:
        query = (
            select(MessageRow.id, MessageRow.raw, MessageRow.raw_sha256, MessageRow.source)
            .where(MessageRow.id > last_id, MessageRow.raw_purged_at.is_(None))
            .order_by(MessageRow.id)
            .limit(batch_size)
        )
        rows = session.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield RawRecord(id=row.id, raw=row.raw, raw_sha256=row.raw_sha256, source=row.source)
        last_id = rows[-1].id


def list_messages(session: Session, *, status: MessageStatus | None = None) -> list[StoredMessage]:
    """Every stored message (without raw bytes), oldest first."""
    query = select(MessageRow).order_by(MessageRow.id)
    if status is not None:
        query = query.where(MessageRow.status == status)
    return [_stored_message(row) for row in session.scalars(query)]


def get_message(session: Session, message_pk: int) -> StoredMessage:
    """One stored message by primary key."""
    return _stored_message(_get(session, MessageRow, message_pk, "Nachricht"))


def count_messages(session: Session) -> dict[str, int]:
    """Number of messages per status and per kind, keyed "status:x" and "kind:y"."""
    counts: dict[str, int] = {}
    for column, prefix in ((MessageRow.status, "status"), (MessageRow.kind, "kind")):
        for value, number in session.execute(select(column, func.count()).group_by(column)):
            counts[f"{prefix}:{value}"] = number
    return counts


def _stored_message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        message_id=row.message_id,
        subject=row.subject,
        from_name=row.from_name,
        from_address=row.from_address,
        sent_at=row.sent_at,
        received_at=row.received_at,
        sender_org=row.sender_org,
        kind=MessageKind(row.kind) if row.kind is not None else None,
        event_id=row.event_id,
        status=MessageStatus(row.status),
        error=row.error,
        message_id_collision=row.message_id_collision,
        source=row.source,
    )


# --- questions --------------------------------------------------------------------------


def list_questions(
    session: Session,
    *,
    event_id: str | None = None,
    topic: str | None = None,
    needs_review: bool | None = None,
    cluster_id: int | None = None,
    unclustered: bool = False,
) -> list[StoredQuestion]:
    """Stored questions with their message context, in id order, optionally filtered."""
    query = select(*_QUESTION_COLUMNS).join(MessageRow).order_by(QuestionRow.id)
    if event_id is not None:
        query = query.where(MessageRow.event_id == event_id)
    if topic is not None:
        query = query.where(QuestionRow.topic == topic)
    if needs_review is not None:
        query = query.where(QuestionRow.needs_review == needs_review)
    if cluster_id is not None:
        query = query.where(QuestionRow.cluster_id == cluster_id)
    if unclustered:
        query = query.where(QuestionRow.cluster_id.is_(None))
    return [_question_from_columns(*row) for row in session.execute(query)]


def get_question(session: Session, question_id: int) -> StoredQuestion:
    """One stored question by id; NotFoundError if there is none."""
    query = select(*_QUESTION_COLUMNS).join(MessageRow).where(QuestionRow.id == question_id)
    row = session.execute(query).first()
    if row is None:
        raise NotFoundError(f"Frage {question_id} nicht gefunden")
    return _question_from_columns(*row)


def set_staff_topic(session: Session, question_id: int, topic: str) -> str:
    """Set a staff topic on a question; return the previous topic."""
    row = _get(session, QuestionRow, question_id, "Frage")
    previous = row.topic
    row.topic = topic
    row.topic_source = TopicSource.STAFF
    row.confidence = 1.0
    row.needs_review = False
    row.model_version = TopicSource.STAFF  # a staff topic comes from no model
    session.flush()
    return previous


def apply_model_topics(
    session: Session, predictions: Mapping[int, TopicPrediction], review_threshold: float
) -> int:
    """Store new model topics on non-staff questions; return how many changed topic."""
    changed = 0
    for question_id, prediction in predictions.items():
        row = _get(session, QuestionRow, question_id, "Frage")
        if row.topic_source == TopicSource.STAFF:
            continue
        changed += row.topic != prediction.topic
        row.topic = prediction.topic
        row.secondary_topics = list(prediction.secondary)
        row.confidence = prediction.confidence
        row.topic_source = prediction.source
        row.model_version = prediction.model_version
        row.needs_review = prediction.confidence < review_threshold
    session.flush()
    return changed


def staff_corrections(session: Session) -> list[tuple[str, str]]:
    """(question text, staff topic) for every question staff classified."""
    query = select(QuestionRow.text, QuestionRow.topic).where(
        QuestionRow.topic_source == TopicSource.STAFF
    )
    return [(text, topic) for text, topic in session.execute(query)]


# The columns of a StoredQuestion, in the order of its fields; selected as plain columns
# (no ORM objects), which matters when all questions are read to rebuild the dedup index.
_QUESTION_COLUMNS = (
    QuestionRow.id,
    MessageRow.id,
    MessageRow.message_id,
    QuestionRow.position,
    QuestionRow.text,
    QuestionRow.topic,
    QuestionRow.secondary_topics,
    QuestionRow.confidence,
    QuestionRow.topic_source,
    QuestionRow.model_version,
    QuestionRow.needs_review,
    QuestionRow.cluster_id,
    MessageRow.event_id,
    MessageRow.sender_org,
    MessageRow.from_address,
    MessageRow.received_at,
    MessageRow.sent_at,
)


def _question_from_columns(*values: Any) -> StoredQuestion:
    fields = list(values)
    fields[6] = tuple(fields[6] or ())  # secondary_topics: JSON list -> tuple
    fields[8] = TopicSource(fields[8])
    return StoredQuestion(*fields)


# --- clusters ---------------------------------------------------------------------------


def apply_clustering(session: Session, groups: Mapping[int, int], now: datetime) -> None:
    """Store a clustering (question id -> group key), keeping cluster ids stable.

    Each group takes over the existing cluster that most of its questions already belong
    to (so staff flags stay with the group); other groups get a new cluster. Clusters left
    without questions are deleted.
    """
    questions = {row.id: row for row in session.scalars(select(QuestionRow))}
    members: dict[int, list[QuestionRow]] = {}
    for question_id, key in groups.items():
        members.setdefault(key, []).append(questions[question_id])
    taken: set[int] = set()
    for key in sorted(members, key=lambda k: (-len(members[k]), k)):
        rows = members[key]
        cluster = _reuse_or_create_cluster(session, rows, taken, now)
        taken.add(cluster.id)
        for row in rows:
            row.cluster_id = cluster.id
        cluster.topic = Counter(row.topic for row in rows).most_common(1)[0][0]
        cluster.event_id = rows[0].message.event_id
        cluster.updated_at = now
    session.flush()
    session.execute(delete(ClusterRow).where(ClusterRow.id.not_in(taken or {-1})))
    session.flush()


def _reuse_or_create_cluster(
    session: Session, rows: Sequence[QuestionRow], taken: set[int], now: datetime
) -> ClusterRow:
    previous = Counter(row.cluster_id for row in rows if row.cluster_id not in (None, *taken))
    for cluster_id, _count in previous.most_common():
        cluster = session.get(ClusterRow, cluster_id)
        if cluster is not None:
            return cluster
    return _new_cluster(session, rows[0].topic, rows[0].message.event_id, now)


def _new_cluster(session: Session, topic: str, event_id: str | None, now: datetime) -> ClusterRow:
    cluster = ClusterRow(**_new_cluster_values(topic, event_id, now))
    session.add(cluster)
    session.flush()
    return cluster


def assign_new_questions(session: Session, keys: Mapping[int, int], now: datetime) -> None:
    """Put unclustered questions into clusters (question id -> cluster key); no commit.

    The key is the smallest question id of the cluster (see the dedup stage): a question
    whose key is its own id opens a cluster; any other joins the cluster of its key. The
    writes are a few multi-row statements, whatever the number of questions.
    """
    if not keys:
        return
    context = _topics_and_events(session, keys)
    outside = [key for key in set(keys.values()) if key not in keys]
    stored = _cluster_ids_of(session, outside)
    target: dict[int, int] = {}  # question id -> index into `slots`
    slots: list[int | None] = []  # a stored cluster id, or None for a cluster to create
    opened: dict[int, tuple[str, str | None]] = {}  # slot -> (topic, event) of a new cluster
    slot_of_key: dict[int, int] = {}
    for question_id in sorted(keys):
        key = keys[question_id]
        if key not in slot_of_key:
            slot_of_key[key] = len(slots)
            existing = stored.get(key) if key != question_id else None
            slots.append(existing)
            if existing is None:
                opened[slot_of_key[key]] = context[question_id]
        target[question_id] = slot_of_key[key]
    created = _insert_clusters(session, list(opened.values()), now)
    for slot, cluster_id in zip(opened, created, strict=True):
        slots[slot] = cluster_id
    cluster_of = {question_id: _slot_cluster(slots, slot) for question_id, slot in target.items()}
    session.execute(
        update(QuestionRow),
        [{"id": question_id, "cluster_id": cluster_of[question_id]} for question_id in cluster_of],
    )
    touched = sorted(set(cluster_of.values()))
    session.execute(update(ClusterRow).where(ClusterRow.id.in_(touched)).values(updated_at=now))
    # A cluster's topic is its members' majority. New members that all share the stored
    # topic cannot change it; only the other clusters are counted again.
    current = _cluster_topics(session, touched)
    mixed = {cluster_of[qid] for qid in keys if context[qid][0] != current[cluster_of[qid]]}
    _refresh_cluster_topics(session, sorted(mixed), now)


def _slot_cluster(slots: list[int | None], slot: int) -> int:
    cluster_id = slots[slot]
    if cluster_id is None:
        raise StoreError(f"cluster slot {slot} was not created")
    return cluster_id


def _topics_and_events(
    session: Session, question_ids: Iterable[int]
) -> dict[int, tuple[str, str | None]]:
    found: dict[int, tuple[str, str | None]] = {}
    for chunk in chunks(sorted(question_ids)):
        query = (
            select(QuestionRow.id, QuestionRow.topic, MessageRow.event_id)
            .join(MessageRow)
            .where(QuestionRow.id.in_(chunk))
        )
        found.update({qid: (topic, event) for qid, topic, event in session.execute(query)})
    return found


def _cluster_ids_of(session: Session, question_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in chunks(sorted(question_ids)):
        query = select(QuestionRow.id, QuestionRow.cluster_id).where(QuestionRow.id.in_(chunk))
        found.update({qid: cid for qid, cid in session.execute(query) if cid is not None})
    return found


def _insert_clusters(
    session: Session, opened: Sequence[tuple[str, str | None]], now: datetime
) -> list[int]:
    if not opened:
        return []
    statement = insert(ClusterRow).returning(ClusterRow.id, sort_by_parameter_order=True)
    values = [_new_cluster_values(topic, event_id, now) for topic, event_id in opened]
    return list(session.scalars(statement, values))


def _new_cluster_values(topic: str, event_id: str | None, now: datetime) -> dict[str, object]:
    """The columns of a cluster just opened: unranked, no staff flags."""
    return {
        "topic": topic,
        "event_id": event_id,
        "score": 0.0,
        "reason": "",
        "updated_at": now,
        "pinned": False,
        "excluded": False,
        "answered": False,
    }


def _cluster_topics(session: Session, cluster_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in chunks(cluster_ids):
        query = select(ClusterRow.id, ClusterRow.topic).where(ClusterRow.id.in_(chunk))
        found.update({cluster_id: topic for cluster_id, topic in session.execute(query)})
    return found


def refresh_cluster_topic_of(session: Session, question_id: int, now: datetime) -> None:
    """Count the topic of the question's cluster again (after a staff topic); no commit."""
    cluster_id = _get(session, QuestionRow, question_id, "Frage").cluster_id
    if cluster_id is not None:
        _refresh_cluster_topics(session, [cluster_id], now)


def _refresh_cluster_topics(session: Session, cluster_ids: Sequence[int], now: datetime) -> None:
    """Each cluster's topic is its members' most common one (ties: the earliest question)."""
    best: dict[int, tuple[int, int, str]] = {}  # cluster -> (count, -first question id, topic)
    for chunk in chunks(cluster_ids):
        query = (
            select(
                QuestionRow.cluster_id, QuestionRow.topic, func.count(), func.min(QuestionRow.id)
            )
            .where(QuestionRow.cluster_id.in_(chunk))
            .group_by(QuestionRow.cluster_id, QuestionRow.topic)
        )
        for cluster_id, topic, count, first in session.execute(query):
            candidate = (int(count), -int(first), str(topic))
            if cluster_id is not None and candidate[:2] > best.get(cluster_id, (0, 0, ""))[:2]:
                best[cluster_id] = candidate
    if best:
        session.execute(
            update(ClusterRow),
            [{"id": cid, "topic": topic, "updated_at": now} for cid, (_, _, topic) in best.items()],
        )


def clustered_question_keys(session: Session) -> dict[int, int]:
    """Question id -> cluster key (smallest question id of its cluster) for stored clusters."""
    query = select(QuestionRow.id, QuestionRow.cluster_id).where(
        QuestionRow.cluster_id.is_not(None)
    )
    rows: list[tuple[int, int]] = [(q, c) for q, c in session.execute(query) if c is not None]
    smallest: dict[int, int] = {}
    for question_id, cluster_id in rows:
        smallest[cluster_id] = min(question_id, smallest.get(cluster_id, question_id))
    return {question_id: smallest[cluster_id] for question_id, cluster_id in rows}


def grouping_marker(session: Session) -> tuple[int, int]:
    """Changes when staff actions or re-groupings happen: (last audit id, clustered count)."""
    last_audit = session.execute(select(func.max(AuditRow.id))).scalar() or 0
    clustered = session.execute(
        select(func.count()).select_from(QuestionRow).where(QuestionRow.cluster_id.is_not(None))
    ).scalar()
    return int(last_audit), int(clustered or 0)


def list_clusters(session: Session) -> list[StoredCluster]:
    """Every cluster with its question ids, in id order."""
    clusters = session.scalars(select(ClusterRow).order_by(ClusterRow.id)).all()
    members: dict[int, list[int]] = {}
    query = select(QuestionRow.cluster_id, QuestionRow.id).order_by(QuestionRow.id)
    for cluster_id, question_id in session.execute(query):
        if cluster_id is not None:
            members.setdefault(cluster_id, []).append(question_id)
    return [_stored_cluster(row, members.get(row.id, [])) for row in clusters]


def get_cluster(session: Session, cluster_id: int) -> StoredCluster:
    """One cluster by id; NotFoundError if there is none."""
    row = _get(session, ClusterRow, cluster_id, "Gruppe")
    return _stored_cluster(row, [question.id for question in row.questions])


def set_cluster_flag(session: Session, cluster_id: int, flag: ClusterFlag, *, value: bool) -> bool:
    """Set one staff flag (pinned, excluded, answered); return its previous value."""
    flag = ClusterFlag(flag)  # refuses any other column name
    row = _get(session, ClusterRow, cluster_id, "Gruppe")
    previous = bool(getattr(row, flag))
    setattr(row, flag, value)
    session.flush()
    return previous


def save_ranking(session: Session, ranking: Iterable[ClusterRanking]) -> None:
    """Store rank, score, reason and representative of each cluster."""
    for entry in ranking:
        row = _get(session, ClusterRow, entry.cluster_id, "Gruppe")
        row.rank = entry.rank
        row.score = entry.score
        row.reason = entry.reason
        row.representative_question_id = entry.representative_question_id
    session.flush()


@dataclass(frozen=True)
class ClusterRanking:
    """What ranking decided for one cluster."""

    cluster_id: int
    rank: int | None
    score: float
    reason: str
    representative_question_id: int


def add_constraint(
    session: Session, question_a: int, question_b: int, *, must_link: bool, now: datetime
) -> None:
    """Record (or overwrite) a decision between two questions: ``must_link`` True keeps them
    in one cluster, False keeps them apart (cannot-link)."""
    low, high = sorted((question_a, question_b))
    _get(session, QuestionRow, low, "Frage")
    _get(session, QuestionRow, high, "Frage")
    query = select(ClusterConstraintRow).where(
        ClusterConstraintRow.question_a == low, ClusterConstraintRow.question_b == high
    )
    row = session.scalars(query).first()
    if row is None:
        session.add(
            ClusterConstraintRow(
                question_a=low, question_b=high, must_link=must_link, created_at=now
            )
        )
    else:
        row.must_link = must_link
        row.created_at = now
    session.flush()


def load_constraints(session: Session) -> ClusterConstraints:
    """All staff constraints as the dedup stage takes them."""
    must: set[tuple[int, int]] = set()
    cannot: set[tuple[int, int]] = set()
    for row in session.scalars(select(ClusterConstraintRow)):
        (must if row.must_link else cannot).add((row.question_a, row.question_b))
    return ClusterConstraints(must_link=frozenset(must), cannot_link=frozenset(cannot))


def _stored_cluster(row: ClusterRow, question_ids: Sequence[int]) -> StoredCluster:
    return StoredCluster(
        id=row.id,
        event_id=row.event_id,
        topic=row.topic,
        representative_question_id=row.representative_question_id,
        rank=row.rank,
        score=row.score,
        reason=row.reason,
        pinned=row.pinned,
        excluded=row.excluded,
        answered=row.answered,
        question_ids=tuple(question_ids),
    )


# --- audit log --------------------------------------------------------------------------


# PostgreSQL advisory lock key of the audit chain (any constant unique in this database).
AUDIT_CHAIN_LOCK = 0x1CB0A0D1


def record_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Mapping[str, object],
    note: str | None = None,
) -> None:
    """Append one staff action to the audit log, chained to the previous entry (no commit)."""
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent staff actions append one after the other, so the chain never forks
        # (SQLite serialises writers anyway); held until this transaction ends.
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    previous = session.execute(
        select(AuditRow.row_hash).order_by(AuditRow.id.desc()).limit(1)
    ).scalar()
    row = AuditRow(
        at=at,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=json.loads(json.dumps(dict(details), default=str)),
        note=note,
        prev_hash=previous or "",
    )
    row.row_hash = audit_hash(row)  # before the insert: PostgreSQL refuses any UPDATE
    session.add(row)
    session.flush()


def audit_hash(row: AuditRow) -> str:
    """The chain hash of an audit row: its content and the previous row's hash."""
    content = {
        "at": row.at.astimezone(UTC).isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "details": row.details,
        "note": row.note,
        "prev": row.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def list_audit(
    session: Session, limit: int | None = 50, since: datetime | None = None
) -> list[AuditEntry]:
    """The newest audit entries first (at most ``limit``; only from ``since`` on)."""
    query = select(AuditRow).order_by(AuditRow.id.desc())
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            details=dict(row.details),
            note=row.note,
        )
        for row in session.scalars(query)
    ]


def verify_audit_chain(session: Session) -> tuple[int, list[str]]:
    """Check every audit row's hash and link; return (rows checked, German problems)."""
    problems: list[str] = []
    previous = ""
    checked = 0
    for row in session.scalars(select(AuditRow).order_by(AuditRow.id)).yield_per(1000):
        checked += 1
        if not row.row_hash:  # written before the chain existed (revision 0001)
            previous = ""
            continue
        if row.prev_hash != previous:
            problems.append(f"Eintrag {row.id}: Verkettung unterbrochen (Eintrag davor fehlt)")
        if audit_hash(row) != row.row_hash:
            problems.append(f"Eintrag {row.id}: Inhalt nachträglich verändert")
        previous = row.row_hash
    return checked, problems


# --- mailbox sync state -----------------------------------------------------------------


def get_mailbox_state(session: Session, mailbox: str, folder: str) -> MailboxState | None:
    """The sync state of one mailbox folder, or None before its first poll."""
    row = _mailbox_row(session, mailbox, folder)
    return _mailbox_state(row) if row else None


def save_mailbox_state(session: Session, state: MailboxState) -> None:
    """Insert or update the sync state of one mailbox folder (no commit)."""
    row = _mailbox_row(session, state.mailbox, state.folder)
    if row is None:
        row = MailboxStateRow(mailbox=state.mailbox, folder=state.folder)
        session.add(row)
    row.uidvalidity = state.uidvalidity
    row.last_uid = state.last_uid
    row.last_poll_at = state.last_poll_at
    row.last_success_at = state.last_success_at
    row.last_error = state.last_error
    row.backlog = state.backlog
    session.flush()


def list_mailbox_states(session: Session) -> list[MailboxState]:
    """Sync state of every mailbox folder seen so far."""
    rows = session.scalars(select(MailboxStateRow).order_by(MailboxStateRow.id))
    return [_mailbox_state(row) for row in rows]


def _mailbox_row(session: Session, mailbox: str, folder: str) -> MailboxStateRow | None:
    query = select(MailboxStateRow).where(
        MailboxStateRow.mailbox == mailbox, MailboxStateRow.folder == folder
    )
    return session.scalars(query).first()


def _mailbox_state(row: MailboxStateRow) -> MailboxState:
    return MailboxState(
        mailbox=row.mailbox,
        folder=row.folder,
        uidvalidity=row.uidvalidity,
        last_uid=row.last_uid,
        last_poll_at=row.last_poll_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        backlog=row.backlog,
    )


# --- events -----------------------------------------------------------------------------


def sync_events(session: Session, events: Sequence[Event]) -> None:
    """Make the events table mirror the configured events (no commit)."""
    for event in events:
        row = session.get(EventRow, event.id) or EventRow(id=event.id)
        row.title = event.title
        row.starts_at = event.starts_at
        row.ends_at = event.ends_at
        row.questions_from = event.questions_from
        row.questions_until = event.questions_until
        row.themes = list(event.themes)
        session.add(row)
    session.flush()


def _get(session: Session, model: type[_RowT], key: int, label: str) -> _RowT:
    row = session.get(model, key)
    if row is None:
        raise NotFoundError(f"{label} {key} nicht gefunden")
    return row
