"""Group questions that ask the same thing, incrementally or all at once.

In: ``DedupItem``s, the ``DedupModel`` and the staff's ``ClusterConstraints``. Out: a map
question_id -> cluster key, the smallest question_id of the cluster. With the trained
grouping model a new question joins a cluster only when it matches the cluster as a whole:
its similarity with the cluster's representative (its first question) reaches the model's
threshold, and so does its similarity with at least the model's ``member_share`` of the
members (the newest ``MEMBER_SAMPLE`` of a large cluster); among the clusters that pass it
joins the one it fits best on average, else it opens a cluster of its own. A chain through
one neighbour (A~B, B~C, C~D) is not enough to put A and D together. Without the trained
model (the lexicon blend) a question joins the cluster of its most similar earlier
question, as before. Candidates come from an inverted index over
(event, concept) and (event, lemma) keys, so adding a question costs about the same however
many are stored. Questions of different events never meet; must-link pairs always share a
cluster, cannot-link pairs never (a staff conflict between the two is logged, must-link wins).
On start-up the stored questions go back in with ``DedupIndex.restore``, which trusts the
stored keys and skips the search; adding further questions then gives what adding all of
them would.

What keeps an add cheap without changing any result: each question's profile and index
keys are worked out once, and recent repeats (same text, topic and event) share them; the
key overlap is summed by one numpy sort over the gathered posting codes (integer weights,
so the sums are exact); each shared profile is scored once per add; and a candidate whose
upper bound cannot reach the threshold or beat the best so far is passed over before its
trigrams are compared.
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ikz_inbox.dedup.analysis import Analysis
from ikz_inbox.dedup.similarity import DedupModel, Profile, profile_of, profile_similarity
from ikz_inbox.types import ClusterConstraints, DedupItem

logger = logging.getLogger(__name__)

# How many of the best-overlapping earlier questions get an exact similarity: ample for
# the handful of true duplicates a question has, few enough to keep an add near 1 ms.
_CANDIDATES = 24
# Newest entries of one posting list visited per key: a very common key ("Förderung")
# then costs a bounded amount instead of growing with the store.
_POSTING_CAP = 250
# Overlap weights of the index keys: a shared concept says more than a shared word.
# Whole units (2 : 1 : 0.5), so that sums of them are exact in any order.
_CONCEPT_KEY_WEIGHT = 4
_TOKEN_KEY_WEIGHT = 2
_PREFIX_KEY_WEIGHT = 1
# A posting list holds one code per question: (question_id << _WEIGHT_BITS) | key weight,
# a signed 64-bit integer that numpy reads in place. Three bits hold weights up to 7 (the
# largest is 4); question ids stay far below 2**60.
_WEIGHT_BITS = 3
_WEIGHT_MASK = (1 << _WEIGHT_BITS) - 1
_CODE_TYPECODE = "q"
# Word prefix length of the prefix keys; catches inflections the lemmatizer misses.
_PREFIX = 5

_T = TypeVar("_T")
_IndexKey = tuple[str | None, str]
_WeightedKeys = tuple[tuple[_IndexKey, int], ...]
# Distinct recent questions (text, topic, event) whose profile and keys a repeat reuses:
# repeats (resends, the same question to two addresses) come close together, and the keys
# of every stored question would cost about 2 KB each.
_SHARED_RECENT = 4096
# The default: no staff decisions (an immutable, frozen value).
NO_CONSTRAINTS = ClusterConstraints()
# Members of a large cluster a new question is compared with (besides its representative):
# the newest ones, so that the cost of an add stays bounded however large a cluster grows.
MEMBER_SAMPLE = 12


@dataclass(frozen=True, slots=True)
class _Shared:
    """What a recent question's repeats (same text, topic and event) reuse: its profile,
    compared by identity, and its index keys."""

    profile: Profile
    keys: _WeightedKeys  # its index keys and their weights


class DedupIndex:
    """Clusters questions one at a time; the incremental path of ``cluster_questions``."""

    def __init__(self, model: DedupModel, constraints: ClusterConstraints = NO_CONSTRAINTS) -> None:
        self._model = model
        self._must = _partners(constraints.must_link)
        self._cannot = _partners(constraints.cannot_link)
        self._entries: dict[int, Profile] = {}
        self._shared: dict[tuple[str, str, str | None], _Shared] = {}  # oldest first
        self._parent: dict[int, int] = {}
        self._members: dict[int, list[int]] = {}  # root -> its questions in id order
        self._postings: dict[_IndexKey, array[int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, item: DedupItem) -> int:
        """Store ``item`` and return the key of the cluster it joins."""
        qid = item.question_id
        if qid in self._entries:
            raise ValueError(f"question {qid} was already added")
        if qid in self._parent:
            raise ValueError(f"question {qid} is the key of restored questions; restore it")
        entry = self._entry(item)
        linked = self._roots_of(self._must.get(qid, ()))
        blocked = self._roots_of(self._cannot.get(qid, ()))
        self._entries[qid] = entry.profile
        self._parent[qid] = qid
        self._members[qid] = [qid]
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
        entry = self._entry(item)
        self._entries[qid] = entry.profile
        bisect.insort(self._members.setdefault(self._find(qid), []), qid)
        self._index(qid, entry)

    def assignments(self) -> dict[int, int]:
        """Return question_id -> cluster key for every question added so far."""
        return {qid: self._find(qid) for qid in self._entries}

    def _entry(self, item: DedupItem) -> _Shared:
        """Profile and keys of ``item``, shared with a recent question of the same text, topic
        and event: the analysis of a text is always the same, so only the work is spared."""
        shared_by = (item.text, item.topic, item.event_id)
        entry = self._shared.get(shared_by)
        if entry is None:
            analysis = self._model.analyse(item.text)
            profile = profile_of(analysis, self._model, item.topic)
            entry = _Shared(profile, _index_keys(analysis, item.event_id))
            self._shared[shared_by] = entry
            if len(self._shared) > _SHARED_RECENT:
                del self._shared[next(iter(self._shared))]
        return entry

    def _best_cluster(self, entry: _Shared, blocked: set[int]) -> int | None:
        """The root of the cluster ``entry`` joins, or None for a cluster of its own."""
        if self._model.member_share > 0.0:
            return self._best_coherent_cluster(entry, blocked)
        return self._nearest_cluster(entry, blocked)

    def _best_coherent_cluster(self, entry: _Shared, blocked: set[int]) -> int | None:
        """The cluster that ``entry`` matches as a whole and fits best on average (ties: the
        smaller root); see the module docstring for the rule."""
        best: tuple[float, int] | None = None  # (mean similarity, -root)
        scored: dict[Profile, float] = {}
        seen: set[int] = set()
        for candidate in self._candidates(entry.keys):
            root = self._find(candidate)
            if root in seen or root in blocked:
                continue
            seen.add(root)
            fit = self._cluster_fit(entry.profile, root, scored)
            if fit is not None and (best is None or (fit, -root) > best):
                best = (fit, -root)
        return None if best is None else -best[1]

    def _cluster_fit(
        self, profile: Profile, root: int, scored: dict[Profile, float]
    ) -> float | None:
        """Mean similarity of ``profile`` with the cluster of ``root`` when the question may
        join it (representative and enough members reach the threshold), else None."""
        model, entries = self._model, self._entries
        members = self._members.get(root)  # every member is in entries (added or restored)
        if not members:
            return None
        similarities = []
        for qid in member_sample(members):
            other = entries[qid]
            similarity = scored.get(other)
            if similarity is None:
                similarity = scored[other] = profile_similarity(profile, other, model)
            similarities.append(similarity)
        if similarities[0] < model.threshold:
            return None  # the representative is not asked
        reached = sum(1 for similarity in similarities if similarity >= model.threshold)
        if reached < model.member_share * len(similarities):
            return None
        return sum(similarities) / len(similarities)

    def _nearest_cluster(self, entry: _Shared, blocked: set[int]) -> int | None:
        """The root of the cluster whose member is most like ``entry``, if that reaches
        the threshold (ties: the smaller root)."""
        model, entries, parent, find = self._model, self._entries, self._parent, self._find
        profile = entry.profile
        best: tuple[float, int] | None = None  # (similarity, -root) of the best so far
        floor = model.threshold
        # Candidates that share a profile score the same: each profile is scored once. A
        # value below the floor of its time stays below every later (higher) floor.
        scored: dict[Profile, float] = {}
        for candidate in self._candidates(entry.keys):
            root = parent[candidate]
            if parent[root] != root:  # most questions point at their root already
                root = find(candidate)
            if root in blocked:
                continue
            other = entries[candidate]
            similarity = scored.get(other)
            if similarity is None:
                # Below the floor a candidate can neither reach the threshold nor beat the
                # best, so an upper bound is enough to pass it over.
                similarity = profile_similarity(profile, other, model, floor)
                scored[other] = similarity
            if similarity >= floor and (best is None or (similarity, -root) > best):
                best = (similarity, -root)
                floor = similarity
        return None if best is None else -best[1]

    def _candidates(self, keys: _WeightedKeys) -> list[int]:
        """The ``_CANDIDATES`` stored questions with the largest key overlap (ties: the
        smaller question_id), best first, over the newest ``_POSTING_CAP`` of each key."""
        gathered = array(_CODE_TYPECODE)
        postings = self._postings
        for key, _ in keys:
            posting = postings.get(key)
            if posting:
                gathered.extend(posting[-_POSTING_CAP:])
        if not gathered:
            return []
        # Sorting the codes lines up each id's key weights; then sum them per id. (Equal
        # codes are equal integers: any sort gives the same array, the fastest will do.)
        codes = np.sort(np.frombuffer(gathered, dtype=np.int64))
        qids = codes >> _WEIGHT_BITS
        first = np.empty(len(qids), dtype=bool)  # where a new id starts
        first[0] = True
        np.not_equal(qids[1:], qids[:-1], out=first[1:])
        starts = first.nonzero()[0]
        overlap = np.add.reduceat(codes & _WEIGHT_MASK, starts)
        # A stable sort keeps equal overlaps in id order: the smaller id first.
        best = (-overlap).argsort(kind="stable")[:_CANDIDATES]
        candidates: list[int] = qids[starts[best]].tolist()
        return candidates

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
        self._members.setdefault(cluster_key, [])

    def _index(self, qid: int, entry: _Shared) -> None:
        """Enter the question into its posting lists, which stay in question_id order."""
        postings = self._postings
        for key, weight in entry.keys:
            code = qid << _WEIGHT_BITS | weight
            posting = postings.get(key)
            if posting is None:
                posting = postings[key] = array(_CODE_TYPECODE)
            if posting and posting[-1] > code:
                bisect.insort(posting, code)
            else:
                posting.append(code)

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
            merged = self._members.get(low, []) + self._members.pop(high, [])
            self._members[low] = sorted(merged)


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


def member_sample(members: Sequence[_T]) -> list[_T]:
    """The members a cluster is judged by: its first (the representative) and its newest
    ``MEMBER_SAMPLE`` others, so that the cost stays bounded however large it grows."""
    return [members[0], *members[max(1, len(members) - MEMBER_SAMPLE) :]] if members else []


def cluster_coherence(texts: Sequence[str], model: DedupModel) -> float:
    """How well a cluster's questions agree: the mean similarity (topics left aside) over
    pairs of its first question and newest ``MEMBER_SAMPLE`` members; 1.0 for a single
    question. A cluster chained together through neighbours scores low."""
    sample = member_sample(texts)
    if len(sample) < 2:
        return 1.0
    profiles = [profile_of(model.analyse(text), model) for text in sample]
    similarities = [
        profile_similarity(a, b, model)
        for position, a in enumerate(profiles)
        for b in profiles[position + 1 :]
    ]
    return sum(similarities) / len(similarities)


def is_incoherent(coherence: float, model: DedupModel) -> bool:
    """Whether a cluster's members disagree: on average they would not join each other."""
    return coherence < model.threshold


def _index_keys(analysis: Analysis, event: str | None) -> _WeightedKeys:
    keys: dict[_IndexKey, int] = {}
    for concept in analysis.concepts:
        keys[(event, "c:" + concept)] = _CONCEPT_KEY_WEIGHT
    for token in analysis.content:
        keys[(event, "t:" + token)] = _TOKEN_KEY_WEIGHT
        if len(token) > _PREFIX:
            keys.setdefault((event, "p:" + token[:_PREFIX]), _PREFIX_KEY_WEIGHT)
    return tuple(sorted(keys.items()))


def _partners(pairs: frozenset[tuple[int, int]]) -> dict[int, set[int]]:
    partners: dict[int, set[int]] = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners
