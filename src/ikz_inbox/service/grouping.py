"""Grouping and ranking over the stored questions: the incremental path after each ingested
batch (``group_new_questions``), a full re-grouping (``regroup``) and the ranking with its
coherence flags (``rerank``). Take an open Session; commit where they say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ikz_inbox.classify import TopicClassifier
from ikz_inbox.dedup import (
    DedupIndex,
    DedupModel,
    cluster_coherence,
    cluster_questions,
    is_incoherent,
)
from ikz_inbox.rank import rank_clusters
from ikz_inbox.store import repository
from ikz_inbox.store.records import StoredCluster, StoredQuestion
from ikz_inbox.types import (
    ORGANISATION_TOPIC,
    ClusterMember,
    ClusterSummary,
    DedupItem,
    Event,
    RankedCluster,
    TopicSource,
    distinct_askers,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


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
    where it is stored (``rerank``: export, cluster list, staff actions); a briefing ranks
    its parts itself and stores nothing.
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
    summaries = cluster_summaries(session, model=model)
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


def cluster_summaries(
    session: Session,
    event_id: str | None = None,
    model: DedupModel | None = None,
    loaded: Sequence[StoredQuestion] | None = None,
    clusters: Sequence[StoredCluster] | None = None,
) -> list[ClusterSummary]:
    """Every cluster (of ``event_id`` when given) with its members and staff flags; with a
    ``model``, the largest clusters per event are checked for coherence. ``loaded`` and
    ``clusters`` save reading the questions and clusters again when the caller has them."""
    if loaded is None:
        loaded = repository.list_questions(session, event_id=event_id)
    questions = {q.id: q for q in loaded}
    grouped = []
    for cluster in clusters if clusters is not None else repository.list_clusters(session):
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
