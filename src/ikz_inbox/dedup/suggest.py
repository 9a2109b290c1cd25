"""The grouping decisions the model is least sure of, for staff to settle.

In: the clusters with their questions (``GroupedQuestions``) and the ``DedupModel``. Out:
``GroupingSuggestion``s, the most uncertain first:
- merge: two clusters of one event whose representatives' similarity lies just below the
  threshold (within ``MERGE_MARGIN``): perhaps one question in two wordings;
- split: the member of a cluster that agrees least with the others, where its mean
  similarity with them lies below the threshold or just above it (within ``SPLIT_MARGIN``).
Staff answer each with ``clusters accept|reject``; the answer is kept as a must-link or
cannot-link constraint, like a merge or split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from ikz_inbox.dedup.cluster import member_sample
from ikz_inbox.dedup.similarity import DedupModel, Profile, profile_of, profile_similarity
from ikz_inbox.types import GroupedQuestions, GroupingSuggestion, SuggestionAction

# How far below the threshold a pair of representatives still counts as a near miss.
MERGE_MARGIN = 0.3
# How far above the threshold a member's mean agreement still counts as doubtful.
SPLIT_MARGIN = 0.1

# The memoising profile function the searches share: (question id, text) -> Profile.
_ProfileOf = Callable[[int, str], "Profile"]


def suggest_decisions(
    clusters: Sequence[GroupedQuestions],
    model: DedupModel,
    limit: int = 20,
    decided: frozenset[tuple[int, int]] = frozenset(),
) -> list[GroupingSuggestion]:
    """The ``limit`` most uncertain merge and split decisions, closest to the threshold first.

    ``decided`` holds the question pairs (smaller id first) staff already settled; they are
    never suggested again.
    """
    profiles: dict[int, Profile] = {}

    def profile(question_id: int, text: str) -> Profile:
        if question_id not in profiles:
            profiles[question_id] = profile_of(model.analyse(text), model)
        return profiles[question_id]

    found = [
        suggestion
        for suggestion in (*_merges(clusters, model, profile), *_splits(clusters, model, profile))
        if _pair(suggestion) not in decided
    ]
    found.sort(key=lambda s: (abs(s.similarity - model.threshold), s.key))
    return found[:limit]


def _merges(
    clusters: Sequence[GroupedQuestions], model: DedupModel, profile: _ProfileOf
) -> list[GroupingSuggestion]:
    by_event: dict[str | None, list[GroupedQuestions]] = defaultdict(list)
    for cluster in clusters:
        if cluster.questions:
            by_event[cluster.event_id].append(cluster)
    low = model.threshold - MERGE_MARGIN
    found = []
    for group in by_event.values():
        heads = [(c.questions[0], profile(*c.questions[0])) for c in group]
        for position, ((qid_a, text_a), profile_a) in enumerate(heads):
            for (qid_b, text_b), profile_b in heads[position + 1 :]:
                similarity = profile_similarity(profile_a, profile_b, model)
                if low <= similarity < model.threshold:
                    found.append(
                        GroupingSuggestion(
                            SuggestionAction.MERGE, qid_a, qid_b, similarity, (text_a, text_b)
                        )
                    )
    return found


def _splits(
    clusters: Sequence[GroupedQuestions], model: DedupModel, profile: _ProfileOf
) -> list[GroupingSuggestion]:
    found = []
    for cluster in clusters:
        questions = member_sample(cluster.questions)
        if len(questions) < 2:
            continue
        profiles = [profile(qid, text) for qid, text in questions]
        worst: tuple[float, int] | None = None
        for position in range(1, len(questions)):
            others = [p for index, p in enumerate(profiles) if index != position]
            mean = sum(profile_similarity(profiles[position], o, model) for o in others) / len(
                others
            )
            if worst is None or mean < worst[0]:
                worst = (mean, position)
        if worst is not None and worst[0] < model.threshold + SPLIT_MARGIN:
            (head, head_text), (moving, moving_text) = questions[0], questions[worst[1]]
            found.append(
                GroupingSuggestion(
                    SuggestionAction.SPLIT, head, moving, worst[0], (head_text, moving_text)
                )
            )
    return found


def _pair(suggestion: GroupingSuggestion) -> tuple[int, int]:
    first, second = suggestion.question_id, suggestion.other_question_id
    return (first, second) if first < second else (second, first)
