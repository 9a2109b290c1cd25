"""What staff read and change: questions and clusters to look at, reclassify, merge, split,
pin/exclude/answered, grouping suggestions, the audit, erasure. Every change is audited
and commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox import dataprotection
from ikz_inbox.dataprotection import ForgetResult
from ikz_inbox.dedup import DedupModel
from ikz_inbox.dedup.suggest import suggest_decisions
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.service.grouping import regroup, rerank
from ikz_inbox.store import Database, repository
from ikz_inbox.store.records import AuditEntry, StoredCluster, StoredQuestion
from ikz_inbox.types import (
    ClusterFlag,
    Event,
    GroupedQuestions,
    GroupingSuggestion,
    SuggestionAction,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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
    texts = {e.cluster_id: e.representative.text for e in rerank(session, events, now, model)}
    session.commit()
    clusters = [
        c for c in repository.list_clusters(session) if event_id is None or c.event_id == event_id
    ]
    clusters.sort(key=lambda c: (c.rank is None, c.rank or 0, c.id))
    return [ClusterListing(cluster, texts.get(cluster.id)) for cluster in clusters]


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


CLUSTER_FLAG_ACTIONS: Mapping[str, tuple[ClusterFlag, bool]] = {
    "pin": (ClusterFlag.PINNED, True),
    "unpin": (ClusterFlag.PINNED, False),
    "exclude": (ClusterFlag.EXCLUDED, True),
    "include": (ClusterFlag.EXCLUDED, False),
    "answered": (ClusterFlag.ANSWERED, True),
    "unanswered": (ClusterFlag.ANSWERED, False),
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
    if action is SuggestionAction.MERGE and accept:
        result = _merge_questions_clusters(session, first, second, now)
    elif action is SuggestionAction.SPLIT and accept:
        result = _split_question_off(session, first, second, now)
    else:
        must_link = (
            action is SuggestionAction.SPLIT
        )  # a rejected split stays; a rejected merge stays apart
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


def _parse_suggestion_key(key: str) -> tuple[SuggestionAction, int, int]:
    parts = key.split(":")
    if len(parts) != 3 or parts[0] not in set(SuggestionAction):
        raise IkzInboxError(
            f"Unbekannter Vorschlag {key!r} (erwartet merge:ID:ID oder split:ID:ID)."
        )
    try:
        return SuggestionAction(parts[0]), int(parts[1]), int(parts[2])
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
