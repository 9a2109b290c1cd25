"""Group questions that ask the same thing, incrementally or all at once.

In: ``DedupItem``s, the ``DedupModel`` and the staff's ``ClusterConstraints``. Out: a map
question_id -> cluster key, the smallest question_id of the cluster. A new question joins
the cluster of its most similar earlier question when that similarity reaches the model's
threshold, else it opens a cluster of its own. Candidates come from an inverted index over
(event, concept) and (event, lemma) keys, so adding a question costs about the same however
many are stored. Questions of different events never meet; must-link pairs always share a
cluster, cannot-link pairs never (a staff conflict between the two is logged, must-link wins).
On start-up the stored questions go back in with ``DedupIndex.restore``, which trusts the
stored keys and skips the search; adding further questions then gives what adding all of
them would.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ikz_inbox.dedup.analysis import Analysis
from ikz_inbox.dedup.similarity import DedupModel, analysis_similarity
from ikz_inbox.types import ClusterConstraints, DedupItem

logger = logging.getLogger(__name__)

# How many of the best-overlapping earlier questions get an exact similarity: ample for
# the handful of true duplicates a question has, few enough to keep an add near 1 ms.
_CANDIDATES = 24
# Newest entries of one posting list visited per key: a very common key ("Förderung")
# then costs a bounded amount instead of growing with the store.
_POSTING_CAP = 250
# Overlap weights of the index keys: a shared concept says more than a shared word.
_CONCEPT_KEY_WEIGHT = 2.0
_TOKEN_KEY_WEIGHT = 1.0
_PREFIX_KEY_WEIGHT = 0.5
# Word prefix length of the prefix keys; catches inflections the lemmatizer misses.
_PREFIX = 5

_IndexKey = tuple[str | None, str]
# The default: no staff decisions (an immutable, frozen value).
NO_CONSTRAINTS = ClusterConstraints()


@dataclass(frozen=True)
class _Entry:
    """A stored question as the index compares it."""

    analysis: Analysis
    topic: str
    event_id: str | None


class DedupIndex:
    """Clusters questions one at a time; the incremental path of ``cluster_questions``."""

    def __init__(self, model: DedupModel, constraints: ClusterConstraints = NO_CONSTRAINTS) -> None:
        self._model = model
        self._must = _partners(constraints.must_link)
        self._cannot = _partners(constraints.cannot_link)
        self._entries: dict[int, _Entry] = {}
        self._parent: dict[int, int] = {}
        self._postings: dict[_IndexKey, list[int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, item: DedupItem) -> int:
        """Store ``item`` and return the key of the cluster it joins."""
        qid = item.question_id
        if qid in self._entries:
            raise ValueError(f"question {qid} was already added")
        if qid in self._parent:
            raise ValueError(f"question {qid} is the key of restored questions; restore it")
        entry = _Entry(self._model.analyse(item.text), item.topic, item.event_id)
        linked = self._roots_of(self._must.get(qid, ()))
        blocked = self._roots_of(self._cannot.get(qid, ()))
        self._entries[qid] = entry
        self._parent[qid] = qid
        if linked:
            if linked & blocked:
                logger.warning("question %s: must-link and cannot-link conflict", qid)
            for root in sorted(linked):
                self._union(root, qid)
        else:
            best = self._best_cluster(entry, blocked)
            if best is not None:
                self._union(best, qid)
        self._index(qid, entry)
        return self._find(qid)

    def restore(self, item: DedupItem, cluster_key: int) -> None:
        """Put a question that is already assigned (from the store) into the index without searching.

        ``cluster_key`` is the key the store holds for the question: the smallest question_id
        of its cluster, as ``add`` and ``cluster_questions`` return it. Restoring every stored
        question (in any order) and then adding the new ones in question_id order gives the
        same assignments as adding all of them in question_id order. A key not restored yet
        (its question comes later, or is not stored) is kept as the cluster's key.

        Assumption: question ids grow, so a new question never has a smaller id than a
        stored cluster's key. Should one still arrive and join that cluster, the cluster's
        key becomes the new id, exactly as with ``add`` (the caller then re-keys the cluster).

        Raises ValueError when the question is already in the index, when ``cluster_key`` is
        larger than its id, or when the keys contradict each other (the key is itself in a
        cluster with another key, or the question is the key of questions restored before
        but is restored into another cluster).
        """
        qid = item.question_id
        if qid in self._entries:
            raise ValueError(f"question {qid} was already added")
        if cluster_key > qid:
            raise ValueError(f"question {qid}: cluster key {cluster_key} is not its smallest id")
        self._attach(qid, cluster_key)
        entry = _Entry(self._model.analyse(item.text), item.topic, item.event_id)
        self._entries[qid] = entry
        self._index(qid, entry)

    def assignments(self) -> dict[int, int]:
        """Return question_id -> cluster key for every question added so far."""
        return {qid: self._find(qid) for qid in self._entries}

    def _best_cluster(self, entry: _Entry, blocked: set[int]) -> int | None:
        scores: dict[int, float] = {}
        for candidate in self._candidates(entry):
            other = self._entries[candidate]
            root = self._find(candidate)
            if root in blocked:
                continue
            similarity = analysis_similarity(
                entry.analysis, other.analysis, self._model, entry.topic, other.topic
            )
            if similarity > scores.get(root, -1.0):
                scores[root] = similarity
        eligible = [
            (score, -root) for root, score in scores.items() if score >= self._model.threshold
        ]
        if not eligible:
            return None
        _, negative_root = max(eligible)
        return -negative_root

    def _candidates(self, entry: _Entry) -> list[int]:
        overlap: dict[int, float] = {}
        for key, weight in _index_keys(entry):
            for qid in self._postings.get(key, ())[-_POSTING_CAP:]:
                overlap[qid] = overlap.get(qid, 0.0) + weight
        best = heapq.nsmallest(_CANDIDATES, overlap.items(), key=lambda kv: (-kv[1], kv[0]))
        return [qid for qid, _ in best]

    def _attach(self, qid: int, cluster_key: int) -> None:
        """Link a restored question to its cluster key, kept as the cluster's root."""
        if cluster_key == qid:
            self._parent.setdefault(qid, qid)
            return
        if qid in self._parent:
            raise ValueError(
                f"question {qid} is the key of restored questions, not a member of {cluster_key}"
            )
        root = self._find(cluster_key) if cluster_key in self._parent else cluster_key
        if root != cluster_key:
            raise ValueError(f"question {qid}: key {cluster_key} is itself in cluster {root}")
        self._parent[cluster_key] = cluster_key
        self._parent[qid] = cluster_key

    def _index(self, qid: int, entry: _Entry) -> None:
        """Enter the question into its posting lists, which stay in question_id order."""
        for key, _ in _index_keys(entry):
            posting = self._postings.setdefault(key, [])
            if posting and posting[-1] > qid:
                bisect.insort(posting, qid)
            else:
                posting.append(qid)

    def _roots_of(self, qids: Iterable[int]) -> set[int]:
        return {self._find(qid) for qid in qids if qid in self._entries}

    def _find(self, qid: int) -> int:
        root = qid
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[qid] != root:
            self._parent[qid], qid = root, self._parent[qid]
        return root

    def _union(self, a: int, b: int) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            low, high = sorted((root_a, root_b))
            self._parent[high] = low


def cluster_questions(
    items: Sequence[DedupItem],
    model: DedupModel,
    constraints: ClusterConstraints = NO_CONSTRAINTS,
) -> dict[int, int]:
    """Cluster ``items`` from scratch; return question_id -> cluster key.

    The result equals adding the items one by one in question_id order to a ``DedupIndex``.
    """
    index = DedupIndex(model, constraints)
    for item in sorted(items, key=lambda item: item.question_id):
        index.add(item)
    return index.assignments()


def _index_keys(entry: _Entry) -> list[tuple[_IndexKey, float]]:
    event = entry.event_id
    keys: dict[_IndexKey, float] = {}
    for concept in entry.analysis.concepts:
        keys[(event, "c:" + concept)] = _CONCEPT_KEY_WEIGHT
    for token in entry.analysis.content:
        keys[(event, "t:" + token)] = _TOKEN_KEY_WEIGHT
        if len(token) > _PREFIX:
            keys.setdefault((event, "p:" + token[:_PREFIX]), _PREFIX_KEY_WEIGHT)
    return sorted(keys.items())


def _partners(pairs: frozenset[tuple[int, int]]) -> dict[int, set[int]]:
    partners: dict[int, set[int]] = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners
