"""The briefing and the export: what the moderator reads and what `evaluate` scores, built
from the stored questions and clusters; the export re-ranks first, the briefing ranks the
clusters of each part itself. Take an open Session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ikz_inbox import dataprotection
from ikz_inbox.dedup import DedupModel
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.rank import rank_clusters
from ikz_inbox.service.grouping import cluster_summaries, rerank
from ikz_inbox.store import repository
from ikz_inbox.store.records import StoredCluster, StoredMessage, StoredQuestion
from ikz_inbox.textnorm import fold
from ikz_inbox.types import (
    LOCAL_ZONE,
    Briefing,
    Event,
    MessageStatus,
    PreviousBriefing,
    RankedCluster,
    ReviewItem,
    ReviewKind,
    TopicSource,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# `--event all`: a briefing with one section per event.
ALL_EVENTS = "all"


# --- briefing and export ----------------------------------------------------------------


def build_briefing(
    session: Session,
    events: Sequence[Event],
    event_id: str | None,
    now: datetime,
    model: DedupModel | None = None,
    *,
    previous: PreviousBriefing | None = None,
    note: str = "",
) -> Briefing:
    """The moderator's briefing for one event, or for all events (``event_id`` None).

    For all events it holds one part per event (and one for questions of no event).
    ``previous`` is what the last written briefing of this event held: questions not in it
    are marked new. ``note`` is shown under the title (e.g. why a past event was chosen).
    """
    by_id = {event.id: event for event in events}
    if event_id is not None and event_id not in by_id:
        raise IkzInboxError(f"Unbekannte Veranstaltung: {event_id}")
    stored = _Stored(
        questions=repository.list_questions(session, event_id=event_id),
        clusters=repository.list_clusters(session),
        quarantined=repository.list_messages(session, status=MessageStatus.QUARANTINED),
    )
    if event_id is not None:
        return _event_briefing(session, stored, by_id, by_id[event_id], now, model, previous, note)
    parts = [
        _event_briefing(session, stored, by_id, event, now, model, None, "")
        for event in (*events, None)
    ]
    shown = tuple(part for part in parts if part.clusters or part.event is not None)
    return Briefing(
        title="Fragen-Briefing: alle Veranstaltungen",
        event=None,
        generated_at=now,
        stats=_sum_stats(shown),
        note=note,
        parts=shown,
    )


@dataclass(frozen=True)
class _Stored:
    """What a briefing reads from the store, read once for all its parts."""

    questions: list[StoredQuestion]
    clusters: list[StoredCluster]
    quarantined: list[StoredMessage]


def _event_briefing(
    session: Session,
    stored: _Stored,
    by_id: Mapping[str, Event],
    event: Event | None,
    now: datetime,
    model: DedupModel | None,
    previous: PreviousBriefing | None,
    note: str,
) -> Briefing:
    event_id = event.id if event else None
    questions = [q for q in stored.questions if q.event_id == event_id]
    summaries = cluster_summaries(session, event_id, model, questions, stored.clusters)
    ranked = rank_clusters(summaries, by_id, now)
    keys = {question.id: question_key(question.text, question.asker) for question in questions}
    return Briefing(
        title=f"Fragen-Briefing: {event.title}" if event else "Fragen ohne Veranstaltung",
        event=event,
        generated_at=now,
        stats=_briefing_stats(questions, ranked),
        note=note,
        clusters=tuple(ranked),
        review=_review_items(stored.quarantined, by_id.values(), event, questions, ranked),
        new_question_ids=_new_questions(keys, previous),
        previous_at=previous.generated_at if previous else None,
        question_keys=frozenset(keys.values()),
    )


def question_key(text: str, asker: str) -> str:
    """A question's key across briefings: the same asker's same wording, whatever its id
    (ids change when messages are reprocessed)."""
    digest = hashlib.sha256(f"{fold(asker)}\x00{fold(text)}".encode())
    return digest.hexdigest()[:16]


def _new_questions(keys: Mapping[int, str], previous: PreviousBriefing | None) -> frozenset[int]:
    if previous is None:  # the first briefing of an event: nothing to compare with
        return frozenset()
    return frozenset(qid for qid, key in keys.items() if key not in previous.question_keys)


def _briefing_stats(
    questions: Sequence[StoredQuestion], ranked: Sequence[RankedCluster]
) -> dict[str, int]:
    return {
        "messages": len({q.message_pk for q in questions}),
        "questions": len(questions),
        "askers": len({q.asker for q in questions}),
        "groups": len(ranked),
    }


def _sum_stats(parts: Sequence[Briefing]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for part in parts:
        for key, value in part.stats.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def _review_items(
    quarantined_messages: Sequence[StoredMessage],
    events: Iterable[Event],
    event: Event | None,
    questions: Sequence[StoredQuestion],
    ranked: Sequence[RankedCluster],
) -> tuple[ReviewItem, ...]:
    """Low topic confidence, clusters whose members disagree, quarantined mail of the event."""
    unsure = [
        ReviewItem(
            ReviewKind.TOPIC,
            f"Frage {q.id}",
            q.text,
            topic=q.topic,
            confidence=round(q.confidence, 2),
        )
        for q in questions
        if q.needs_review and q.topic_source is not TopicSource.STAFF
    ]
    incoherent = [
        ReviewItem(
            ReviewKind.INCOHERENT, f"Gruppe {e.cluster_id}", e.representative.text, e.summary.topic
        )
        for e in ranked
        if e.summary.incoherent
    ]
    quarantined = [
        ReviewItem(ReviewKind.QUARANTINE, f"Nachricht {m.id}", m.subject, error=m.error)
        for m in quarantined_messages
        if _part_of(m, events) == (event.id if event else None)
    ]
    return tuple(unsure + incoherent + quarantined)


def _part_of(message: StoredMessage, events: Iterable[Event]) -> str | None:
    """The event a quarantined message is listed under, in exactly one part: its own, else
    the first whose question window holds the day it was sent (it failed before an event
    could be read from it), else none."""
    if message.event_id is not None:
        return message.event_id
    day = (message.sent_at or message.received_at).astimezone(LOCAL_ZONE).date()
    return next((e.id for e in events if e.questions_from <= day <= e.questions_until), None)


def briefing_event(
    events: Sequence[Event], wanted: str | None, now: datetime
) -> tuple[str | None, str]:
    """The event a briefing is for, and a note for its header.

    ``wanted``: an event id, "all" (None: every event), or None for the default: the next
    event that has not ended, else the most recent one, and then the note says so.
    """
    if wanted == ALL_EVENTS:
        return None, ""
    if wanted is not None:
        return wanted, ""
    event = next_event(events, now)
    if event is None:
        raise IkzInboxError("Keine Veranstaltung konfiguriert (config/events.toml).")
    if event.ends_at >= now:
        return event.id, ""
    return event.id, (
        "Keine kommende Veranstaltung: dieses Briefing gilt der zuletzt vergangenen Veranstaltung."
    )


def next_event(events: Sequence[Event], now: datetime) -> Event | None:
    """The next event that has not ended, else the most recent one."""
    upcoming = [event for event in events if event.ends_at >= now]
    if upcoming:
        return min(upcoming, key=lambda event: event.starts_at)
    return max(events, key=lambda event: event.starts_at) if events else None


EXPORT_SCHEMA = "ikz-inbox/export/1"


def build_export(
    session: Session,
    events: Sequence[Event],
    now: datetime,
    model: DedupModel,
    event_id: str | None = None,
) -> dict[str, object]:
    """The export document of SCORING.md (schema ikz-inbox/export/1), freshly ranked."""
    rerank(session, events, now, model)
    session.commit()
    messages = [
        m for m in repository.list_messages(session) if event_id is None or m.event_id == event_id
    ]
    questions = repository.list_questions(session, event_id=event_id)
    askers: dict[int, set[str]] = {}
    for question in questions:
        if question.cluster_id is not None:
            askers.setdefault(question.cluster_id, set()).add(question.asker)
    clusters = [c for c in repository.list_clusters(session) if c.id in askers]
    return {
        "schema": EXPORT_SCHEMA,
        "messages": [_export_message(m) for m in messages],
        "questions": [question_json(q) for q in questions],
        "clusters": [_export_cluster(c, len(askers[c.id])) for c in clusters],
    }


def export_data(
    session: Session,
    events: Sequence[Event],
    now: datetime,
    model: Callable[[], DedupModel],
    event_id: str | None = None,
    personal: str | None = None,
) -> dict[str, object]:
    """The document ``export`` writes: with ``personal`` (an address) everything stored
    about that sender (schema ikz-inbox/personal/1, Art. 15 DSGVO), else ``build_export``
    of one event or all. ``model`` loads the grouping model, which only the latter needs."""
    if personal is not None:
        return dataprotection.personal_export(session, personal, now)
    return build_export(session, events, now, model(), event_id)


def _export_message(message: StoredMessage) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "kind": message.kind,
        "event": message.event_id,
        "sender_org": message.sender_org,
        "status": message.status,
        "error": message.error,
        "subject": message.subject,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "message_id_collision": message.message_id_collision,
    }


def question_json(question: StoredQuestion) -> dict[str, object]:
    """A question as the export and the CLI's ``--json`` give it (one schema for both)."""
    return {
        "id": question.id,
        "message_id": question.message_id,
        "text": question.text,
        "topic": question.topic,
        "topics": [question.topic, *question.secondary_topics],
        "confidence": round(question.confidence, 4),
        "topic_source": question.topic_source,
        "model_version": question.model_version,
        "needs_review": question.needs_review,
        "cluster_id": question.cluster_id,
        "event": question.event_id,
        "sender_org": question.sender_org,
    }


def _export_cluster(cluster: StoredCluster, askers: int) -> dict[str, object]:
    return {
        "id": cluster.id,
        "rank": cluster.rank,
        "topic": cluster.topic,
        "event": cluster.event_id,
        "size": len(cluster.question_ids),
        "askers": askers,
        "representative_question_id": cluster.representative_question_id,
        "score": cluster.score,
        "reason": cluster.reason,
        "pinned": cluster.pinned,
        "excluded": cluster.excluded,
        "answered": cluster.answered,
    }
