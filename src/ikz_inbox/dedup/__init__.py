"""Dedup stage: group questions that ask the same thing across senders.

In: ``DedupItem``s (question text, topic, asker, event) and a ``DedupModel`` loaded once
from ``config/lexicon.toml`` with ``load_dedup_model``. Out: question_id -> cluster key
(the smallest question_id in the cluster), from ``cluster_questions`` for a full run or
from ``DedupIndex`` one question at a time; both give the same result for the same order.
``question_similarity`` scores one pair of questions on 0..1.
"""

from ikz_inbox.dedup.cluster import (
    DedupIndex,
    cluster_coherence,
    cluster_questions,
    is_incoherent,
)
from ikz_inbox.dedup.similarity import DedupModel, load_dedup_model, question_similarity

__all__ = [
    "DedupIndex",
    "DedupModel",
    "cluster_coherence",
    "cluster_questions",
    "is_incoherent",
    "load_dedup_model",
    "question_similarity",
]
