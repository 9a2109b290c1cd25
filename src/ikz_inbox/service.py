"""Service functions shared by the CLI and the worker: one function per user-facing job.

They take an open Session (the caller owns the transaction boundaries per message or per
command), the loaded resources and the current time, and call the pipeline and the store.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox import dataprotection
from ikz_inbox.classify import TopicClassifier
from ikz_inbox.dataprotection import ForgetResult
from ikz_inbox.dedup import (
    DedupIndex,
    DedupModel,
    cluster_coherence,
    cluster_questions,
    is_incoherent,
)
from ikz_inbox.dedup.suggest import suggest_decisions
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.rank import distinct_askers, rank_clusters
from ikz_inbox.store import Database, repository
from ikz_inbox.store.records import (
    AuditEntry,
    StoredCluster,
    StoredMessage,
    StoredQuestion,
)
from ikz_inbox.textnorm import fold
from ikz_inbox.types import (
    LOCAL_ZONE,
    ORGANISATION_TOPIC,
    Briefing,
    ClusterMember,
    ClusterSummary,
    DedupItem,
    Event,
    GroupedQuestions,
    GroupingSuggestion,
    MessageStatus,
    PreviousBriefing,
    RankedCluster,
    ReviewItem,
    TopicSource,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# `--event all`: a briefing with one section per event.
ALL_EVENTS = "all"


# --- reprocessing -----------------------------------------------------------------------


def reclassify_and_regroup(
    session: Session,
    classifier: TopicClassifier,
    review_threshold: float,
    now: datetime,
    *,
    model: DedupModel,
    events: Sequence[Event],
    actor: str,
) -> int:
    """Re-label every non-staff question with the current classifier, then group everything
    anew; audited; commits. Returns how many questions changed topic."""
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="reprocess-classify",
        target_type="questions",
        target_id="*",
        details={"model": classifier.version},
    )
    questions = [
        q for q in repository.list_questions(session) if q.topic_source is not TopicSource.STAFF
    ]
    predictions = classifier.predict([q.text for q in questions])
    by_id = {
        question.id: prediction
        for question, prediction in zip(questions, predictions, strict=True)
        if question.topic != ORGANISATION_TOPIC or prediction.topic == ORGANISATION_TOPIC
    }
    changed = repository.apply_model_topics(session, by_id, review_threshold)
    session.commit()
    regroup(session, model, events, now)
    return changed


# --- grouping and ranking ---------------------------------------------------------------


@dataclass
class GroupingCache:
    """A process's in-memory dedup index and the store state it mirrors.

    Built from the store on first use (restoring stored clusters without searching) and
    rebuilt whenever the store's grouping changed behind its back (a staff action or a
    re-grouping by another process), so new questions are grouped incrementally.
    """

    index: DedupIndex | None = None
    marker: tuple[int, int] | None = None


def group_new_questions(
    session: Session, cache: GroupingCache, model: DedupModel, now: datetime
) -> int:
    """Add unclustered questions to the clusters incrementally. Commits.

    Costs grow with the new questions only; the ranking over all clusters is refreshed
    where it is read (``rerank``: export, cluster list, briefing job, staff actions).
    """
    marker = repository.grouping_marker(session)
    if cache.index is None or cache.marker != marker:
        cache.index = _restored_index(session, model)
    new = repository.list_questions(session, unclustered=True)
    keys = {question.id: cache.index.add(_dedup_item(question)) for question in new}
    repository.assign_new_questions(session, keys, now)
    session.commit()
    session.expunge_all()  # the bulk update bypassed the loaded rows; never reuse them
    # What the marker is now, without asking: no audit entry, and these questions clustered.
    # A change by another process meanwhile makes it differ, so the next call rebuilds.
    cache.marker = (marker[0], marker[1] + len(keys))
    return len(keys)


def _restored_index(session: Session, model: DedupModel) -> DedupIndex:
    index = DedupIndex(model, repository.load_constraints(session))
    keys = repository.clustered_question_keys(session)
    for question in repository.list_questions(session):
        if question.id in keys:
            index.restore(_dedup_item(question), keys[question.id])
    return index


def regroup(session: Session, model: DedupModel, events: Sequence[Event], now: datetime) -> None:
    """Cluster every stored question anew (respecting staff constraints), then rank. Commits.

    Used after staff actions and reprocessing; gives the same clusters as the incremental
    path of ``group_new_questions`` (the dedup stage guarantees that).
    """
    questions = repository.list_questions(session)
    items = [_dedup_item(question) for question in questions]
    groups = cluster_questions(items, model, repository.load_constraints(session))
    repository.apply_clustering(session, groups, now)
    rerank(session, events, now, model)
    session.commit()


def rerank(
    session: Session, events: Sequence[Event], now: datetime, model: DedupModel
) -> list[RankedCluster]:
    """Rank all clusters over all events and store rank, reason and representative.

    Clusters whose members disagree (by ``model``) are flagged and never lead the list.
    """
    summaries = _cluster_summaries(session, model=model)
    ranked = rank_clusters(summaries, {event.id: event for event in events}, now)
    repository.save_ranking(
        session,
        (
            repository.ClusterRanking(
                cluster_id=entry.cluster_id,
                rank=entry.rank,
                score=entry.score,
                reason=entry.reason,
                representative_question_id=entry.representative.question_id,
            )
            for entry in ranked
        ),
    )
    return ranked


def _dedup_item(question: StoredQuestion) -> DedupItem:
    return DedupItem(
        question_id=question.id,
        text=question.text,
        topic=question.topic,
        asker=question.asker,
        event_id=question.event_id,
    )


def _cluster_summaries(
    session: Session,
    event_id: str | None = None,
    model: DedupModel | None = None,
    loaded: Sequence[StoredQuestion] | None = None,
) -> list[ClusterSummary]:
    if loaded is None:
        loaded = repository.list_questions(session, event_id=event_id)
    questions = {q.id: q for q in loaded}
    grouped = []
    for cluster in repository.list_clusters(session):
        members = tuple(_member(questions[qid]) for qid in cluster.question_ids if qid in questions)
        if members:
            grouped.append((cluster, members))
    checked = _coherence_candidates(grouped) if model is not None else set()
    return [
        _summary(
            cluster,
            members,
            incoherent=model is not None and cluster.id in checked and _incoherent(members, model),
        )
        for cluster, members in grouped
    ]


# Clusters per event whose coherence is checked: the largest ones (distinct askers, then
# questions), those that can lead the list or stand near its top. Checking every cluster
# would cost a pairwise comparison of each on every re-ranking, however old.
COHERENCE_CHECKED_PER_EVENT = 25


def _coherence_candidates(
    grouped: Sequence[tuple[StoredCluster, tuple[ClusterMember, ...]]],
) -> set[int]:
    by_event: dict[str | None, list[tuple[int, int, int]]] = {}
    for cluster, members in grouped:
        if len(members) > 1:
            askers = distinct_askers(members)
            by_event.setdefault(cluster.event_id, []).append((-askers, -len(members), cluster.id))
    return {
        cluster_id
        for ranked in by_event.values()
        for _, _, cluster_id in sorted(ranked)[:COHERENCE_CHECKED_PER_EVENT]
    }


def _incoherent(members: Sequence[ClusterMember], model: DedupModel) -> bool:
    ordered = sorted(members, key=lambda member: member.question_id)
    return is_incoherent(cluster_coherence([m.text for m in ordered], model), model)


def _member(question: StoredQuestion) -> ClusterMember:
    return ClusterMember(
        question_id=question.id,
        text=question.text,
        topic=question.topic,
        asker=question.asker_name,
        received_at=question.sent_at or question.received_at,
    )


def _summary(
    cluster: StoredCluster, members: tuple[ClusterMember, ...], *, incoherent: bool = False
) -> ClusterSummary:
    return ClusterSummary(
        cluster_id=cluster.id,
        event_id=cluster.event_id,
        topic=cluster.topic,
        members=members,
        pinned=cluster.pinned,
        excluded=cluster.excluded,
        answered=cluster.answered,
        incoherent=incoherent,
    )


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
    if event_id is not None:
        return _event_briefing(session, by_id, by_id[event_id], now, model, previous, note)
    parts = [_event_briefing(session, by_id, event, now, model, None, "") for event in events]
    parts.append(_event_briefing(session, by_id, None, now, model, None, ""))
    shown = tuple(part for part in parts if part.clusters or part.event is not None)
    return Briefing(
        title="Fragen-Briefing: alle Veranstaltungen",
        event=None,
        generated_at=now,
        content=(),
        organisation=(),
        stats=_sum_stats(shown),
        note=note,
        parts=shown,
    )


def _event_briefing(
    session: Session,
    by_id: Mapping[str, Event],
    event: Event | None,
    now: datetime,
    model: DedupModel | None,
    previous: PreviousBriefing | None,
    note: str,
) -> Briefing:
    questions = _questions_of(session, event)
    summaries = _cluster_summaries(session, event.id if event else None, model, questions)
    ranked = rank_clusters(summaries, by_id, now)
    keys = {question.id: question_key(question.text, question.asker) for question in questions}
    return Briefing(
        title=f"Fragen-Briefing: {event.title}" if event else "Fragen ohne Veranstaltung",
        event=event,
        generated_at=now,
        content=tuple(entry for entry in ranked if entry.rank is not None),
        organisation=tuple(
            e for e in ranked if e.summary.topic == ORGANISATION_TOPIC and not e.summary.excluded
        ),
        stats=_briefing_stats(questions, ranked),
        note=note,
        clusters=tuple(ranked),
        review=_review_items(session, event, questions, ranked),
        new_question_ids=_new_questions(keys, previous),
        previous_at=previous.generated_at if previous else None,
        question_keys=frozenset(keys.values()),
    )


def _questions_of(session: Session, event: Event | None) -> list[StoredQuestion]:
    if event is not None:
        return repository.list_questions(session, event_id=event.id)
    return [q for q in repository.list_questions(session) if q.event_id is None]


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
    session: Session,
    event: Event | None,
    questions: Sequence[StoredQuestion],
    ranked: Sequence[RankedCluster],
) -> tuple[ReviewItem, ...]:
    """Low topic confidence, clusters whose members disagree, quarantined mail of the event."""
    unsure = [
        ReviewItem(
            "topic", f"Frage {q.id}", q.text, topic=q.topic, confidence=round(q.confidence, 2)
        )
        for q in questions
        if q.needs_review and q.topic_source is not TopicSource.STAFF
    ]
    incoherent = [
        ReviewItem("incoherent", f"Gruppe {e.cluster_id}", e.representative.text, e.summary.topic)
        for e in ranked
        if e.summary.incoherent
    ]
    quarantined = [
        ReviewItem("quarantine", f"Nachricht {m.id}", m.subject, error=m.error)
        for m in repository.list_messages(session, status=MessageStatus.QUARANTINED)
        if _belongs_to(m, event)
    ]
    return tuple(unsure + incoherent + quarantined)


def _belongs_to(message: StoredMessage, event: Event | None) -> bool:
    """A quarantined message of this event: assigned to it, or of no event and sent in its
    question window (it failed before an event could be read from it)."""
    if event is None or message.event_id is not None:
        return message.event_id == (event.id if event else None)
    day = (message.sent_at or message.received_at).astimezone(LOCAL_ZONE).date()
    return event.questions_from <= day <= event.questions_until


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
    model: DedupModel,
    event_id: str | None = None,
    personal: str | None = None,
) -> dict[str, object]:
    """The document ``export`` writes: with ``personal`` (an address) everything stored
    about that sender (schema ikz-inbox/personal/1, Art. 15 DSGVO), else ``build_export``
    of one event or all."""
    if personal is not None:
        return dataprotection.personal_export(session, personal, now)
    return build_export(session, events, now, model, event_id)


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


# --- reading for staff ------------------------------------------------------------------


def list_questions(
    session: Session, event_id: str | None = None, topic: str | None = None
) -> list[StoredQuestion]:
    """The stored questions in id order, of one event and one topic if given."""
    return repository.list_questions(session, event_id=event_id, topic=topic)


def review_queue(session: Session) -> list[StoredQuestion]:
    """The questions whose topic the classifier was unsure of, in id order."""
    return repository.list_questions(session, needs_review=True)


def question_details(session: Session, question_id: int) -> StoredQuestion:
    """One question with its message's context; NotFoundError for an unknown id."""
    return repository.get_question(session, question_id)


@dataclass(frozen=True)
class ClusterListing:
    """A cluster as the cluster list shows it, with its representative question's text
    (None when that question is not among the listed event's questions)."""

    cluster: StoredCluster
    representative: str | None


def list_clusters_ranked(
    session: Session,
    events: Sequence[Event],
    now: datetime,
    model: DedupModel,
    event_id: str | None = None,
) -> list[ClusterListing]:
    """Re-rank every cluster and commit; return the clusters (of one event if given) in
    rank order: ranked ones by rank, then the unranked ones, each by id."""
    rerank(session, events, now, model)
    session.commit()
    clusters = [
        c for c in repository.list_clusters(session) if event_id is None or c.event_id == event_id
    ]
    texts = {q.id: q.text for q in repository.list_questions(session, event_id=event_id)}
    clusters.sort(key=lambda c: (c.rank is None, c.rank or 0, c.id))
    return [
        ClusterListing(cluster, texts.get(cluster.representative_question_id or -1))
        for cluster in clusters
    ]


@dataclass(frozen=True)
class ClusterDetails:
    """One cluster and its questions in id order."""

    cluster: StoredCluster
    members: tuple[StoredQuestion, ...]


def cluster_details(session: Session, cluster_id: int) -> ClusterDetails:
    """One cluster with its questions; NotFoundError for an unknown id."""
    cluster = repository.get_cluster(session, cluster_id)
    members = repository.list_questions(session, cluster_id=cluster_id)
    return ClusterDetails(cluster, tuple(members))


def audit_entries(
    session: Session, limit: int | None = 50, since: datetime | None = None
) -> list[AuditEntry]:
    """The newest staff actions first: at most ``limit`` (None: all), from ``since`` on."""
    return repository.list_audit(session, limit, since)


@dataclass(frozen=True)
class AuditCheck:
    """The result of checking the audit's hash chain: entries checked, German findings."""

    checked: int
    problems: tuple[str, ...]


def verify_audit(session: Session) -> AuditCheck:
    """Check every audit entry's hash and its link to the one before (nothing is changed)."""
    checked, problems = repository.verify_audit_chain(session)
    return AuditCheck(checked, tuple(problems))


# --- staff actions ----------------------------------------------------------------------


def reclassify_question(
    session: Session,
    question_id: int,
    topic: str,
    topic_ids: Iterable[str],
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> str:
    """Set a staff topic on a question and audit it; return the old topic. Commits."""
    known = set(topic_ids)
    if topic not in known:
        raise IkzInboxError(f"Unbekanntes Thema '{topic}'. Erlaubt: {', '.join(sorted(known))}")
    previous = repository.set_staff_topic(session, question_id, topic)
    repository.refresh_cluster_topic_of(session, question_id, now)
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="reclassify",
        target_type="question",
        target_id=str(question_id),
        details={"from": previous, "to": topic},
        note=note,
    )
    session.commit()
    return previous


def merge_clusters(
    session: Session,
    cluster_ids: Sequence[int],
    model: DedupModel,
    events: Sequence[Event],
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> None:
    """Keep the questions of several clusters together from now on (must-link). Commits."""
    if len(set(cluster_ids)) < 2:
        raise IkzInboxError("Zum Zusammenführen mindestens zwei verschiedene Gruppen angeben.")
    clusters = [repository.get_cluster(session, cid) for cid in cluster_ids]
    anchor = clusters[0].question_ids[0]
    for cluster in clusters:
        for question_id in cluster.question_ids:
            if question_id != anchor:
                repository.add_constraint(session, anchor, question_id, must_link=True, now=now)
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="merge",
        target_type="cluster",
        target_id=",".join(map(str, cluster_ids)),
        details={
            "clusters": list(cluster_ids),
            "before": {str(c.id): list(c.question_ids) for c in clusters},
        },
        note=note,
    )
    regroup(session, model, events, now)


def split_cluster(
    session: Session,
    cluster_id: int,
    question_ids: Sequence[int],
    model: DedupModel,
    events: Sequence[Event],
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> None:
    """Move the named questions out of a cluster into one of their own (cannot-link). Commits."""
    cluster = repository.get_cluster(session, cluster_id)
    moving = set(question_ids)
    if not moving or not moving <= set(cluster.question_ids):
        raise IkzInboxError(
            f"Die Fragen {sorted(moving)} gehören nicht alle zu Gruppe {cluster_id}."
        )
    staying = [qid for qid in cluster.question_ids if qid not in moving]
    if not staying:
        raise IkzInboxError("Mindestens eine Frage muss in der Gruppe bleiben.")
    for moved in moving:
        for stays in staying:
            repository.add_constraint(session, moved, stays, must_link=False, now=now)
    ordered = sorted(moving)
    for other in ordered[1:]:
        repository.add_constraint(session, ordered[0], other, must_link=True, now=now)
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="split",
        target_type="cluster",
        target_id=str(cluster_id),
        details={"questions": ordered, "before": list(cluster.question_ids)},
        note=note,
    )
    regroup(session, model, events, now)


CLUSTER_FLAG_ACTIONS: Mapping[str, tuple[str, bool]] = {
    "pin": ("pinned", True),
    "unpin": ("pinned", False),
    "exclude": ("excluded", True),
    "include": ("excluded", False),
    "answered": ("answered", True),
    "unanswered": ("answered", False),
}


def flag_cluster(
    session: Session,
    cluster_id: int,
    action: str,
    events: Sequence[Event],
    model: DedupModel,
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> None:
    """Pin, unpin, exclude, include or mark a cluster answered; audit and re-rank. Commits."""
    flag, value = CLUSTER_FLAG_ACTIONS[action]
    previous = repository.set_cluster_flag(session, cluster_id, flag, value=value)
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action=action,
        target_type="cluster",
        target_id=str(cluster_id),
        details={flag: value, "before": previous},
        note=note,
    )
    rerank(session, events, now, model)
    session.commit()


def staff_corrections(session: Session) -> list[tuple[str, str]]:
    """Staff-set topics as (text, topic) training examples."""
    return repository.staff_corrections(session)


def erase_sender(
    session: Session,
    database: Database,
    address: str,
    key_dir: Path,
    environ: Mapping[str, str],
    now: datetime,
    *,
    actor: str,
    note: str | None,
) -> ForgetResult:
    """Erase one sender's data (Art. 17 DSGVO); the questions stay as anonymous text. The
    audit names the address by its HMAC under the audit key (``$CREDENTIALS_DIRECTORY``
    in ``environ``, else ``key_dir``, created there on first use). Commits."""
    key = dataprotection.load_audit_key(key_dir, environ)
    return dataprotection.forget_sender(
        session, database, address, key, now, actor=actor, note=note
    )


# --- staff in the loop: uncertain grouping decisions ------------------------------------


def grouping_suggestions(
    session: Session, model: DedupModel, event_id: str | None = None, limit: int = 20
) -> list[GroupingSuggestion]:
    """The grouping decisions the model is least sure of (see ``dedup.suggest``)."""
    texts = {q.id: q.text for q in repository.list_questions(session, event_id=event_id)}
    clusters = [
        GroupedQuestions(
            cluster_id=cluster.id,
            event_id=cluster.event_id,
            questions=tuple((qid, texts[qid]) for qid in sorted(cluster.question_ids)),
        )
        for cluster in repository.list_clusters(session)
        if cluster.question_ids and all(qid in texts for qid in cluster.question_ids)
    ]
    constraints = repository.load_constraints(session)
    decided = constraints.must_link | constraints.cannot_link
    return suggest_decisions(clusters, model, limit, decided)


def decide_suggestion(
    session: Session,
    key: str,
    model: DedupModel,
    events: Sequence[Event],
    *,
    accept: bool,
    actor: str,
    note: str | None,
    now: datetime,
) -> str:
    """Accept or reject a suggestion named by its key; kept as a constraint, audited. Commits.

    Accepting a merge keeps the two questions' clusters together (must-link), rejecting it
    keeps them apart (cannot-link); accepting a split moves the question out of the cluster
    (cannot-link with the rest), rejecting it keeps it there (must-link). Returns the
    action that was taken, in German.
    """
    action, first, second = _parse_suggestion_key(key)
    repository.get_question(session, first)  # raises for an unknown question
    repository.get_question(session, second)
    if action == "merge" and accept:
        result = _merge_questions_clusters(session, first, second, now)
    elif action == "split" and accept:
        result = _split_question_off(session, first, second, now)
    else:
        must_link = action == "split"  # a rejected split stays; a rejected merge stays apart
        repository.add_constraint(session, first, second, must_link=must_link, now=now)
        result = "zusammen gelassen" if must_link else "getrennt gehalten"
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="suggestion-accept" if accept else "suggestion-reject",
        target_type="suggestion",
        target_id=key,
        details={"action": action, "questions": [first, second], "result": result},
        note=note,
    )
    regroup(session, model, events, now)
    return result


def _parse_suggestion_key(key: str) -> tuple[str, int, int]:
    parts = key.split(":")
    if len(parts) != 3 or parts[0] not in {"merge", "split"}:
        raise IkzInboxError(
            f"Unbekannter Vorschlag {key!r} (erwartet merge:ID:ID oder split:ID:ID)."
        )
    try:
        return parts[0], int(parts[1]), int(parts[2])
    except ValueError as error:
        raise IkzInboxError(f"Unbekannter Vorschlag {key!r}.") from error


def _merge_questions_clusters(session: Session, first: int, second: int, now: datetime) -> str:
    clusters = {c.id: c for c in repository.list_clusters(session)}
    members = [
        qid
        for cluster in clusters.values()
        if first in cluster.question_ids or second in cluster.question_ids
        for qid in cluster.question_ids
    ]
    for qid in set(members) | {second}:
        if qid != first:
            repository.add_constraint(session, first, qid, must_link=True, now=now)
    return "zusammengeführt"


def _split_question_off(session: Session, head: int, moving: int, now: datetime) -> str:
    cluster = next((c for c in repository.list_clusters(session) if moving in c.question_ids), None)
    staying = [qid for qid in (cluster.question_ids if cluster else (head,)) if qid != moving]
    for stays in staying or [head]:
        repository.add_constraint(session, moving, stays, must_link=False, now=now)
    return "abgetrennt"
