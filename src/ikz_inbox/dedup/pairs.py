"""Whether two questions ask the same thing: a learned combination of signals.

In: two ``PairSignals`` (what ``similarity.profile_of`` works out once per question) and the
concept weights of the lexicon. Out: the features of the pair (``pair_features``) and,
through a ``PairModel``, the probability that one answer serves both questions.

The signals cover the two halves of a question: its object (lexicon concepts, content
lemmas, character trigrams, § references) and its ask (the ``AskModel`` distribution and
the lexicon's aspects). A logistic regression trained on the project's own paraphrase data
(``dedup.learn``) weighs them; the interaction features let it learn that a shared object
only counts with a shared ask. The topic is not a signal: two wordings of one question that
the topic classifier files differently must still meet.

Besides these dense features the model weighs words: every content lemma and concept the
two questions share ("s:" + word) and every one that only one of them has ("d:" + word),
scaled by one over the square root of the size of their union. From wordings of the same
ask across many subjects it learns which words carry the ask (sharing "rechtsform" says a
lot, "rechtsform" on one side only says "different question") and which say little
("kommune"); words it never saw fall back to the dense features.

The model is stored as JSON (feature names, coefficients, word weights, intercept, the
clustering thresholds and the training figures), readable by any version of the code that
knows the same feature names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ikz_inbox.errors import ModelError

PAIR_MODEL_FORMAT = 2
SHARED_PREFIX = "s:"
DIFFERENT_PREFIX = "d:"
CONCEPT_PREFIX = "c:"
FEATURE_NAMES = (
    "concept_jaccard",
    "both_have_concepts",
    "one_sided_concepts",
    "token_cosine",
    "trigram_cosine",
    "ask_agreement",
    "same_top_ask",
    "aspect_conflict",
    "aspect_match",
    "reference_shared",
    "reference_conflict",
    "concept_x_ask",
    "token_x_ask",
    "trigram_x_ask",
    "length_ratio",
    "lexicon_blend",
)


@dataclass(frozen=True, slots=True, eq=False)
class PairSignals:
    """What the pair features read of one question (a view of its ``Profile``)."""

    content: frozenset[str]
    grams: frozenset[str]
    concepts: frozenset[str]
    strong_aspects: frozenset[str]
    ask: tuple[float, ...]
    top_ask: int
    references: frozenset[str]
    length: int


def pair_features(
    a: PairSignals, b: PairSignals, concept_weights: Mapping[str, float], blend: float
) -> tuple[float, ...]:
    """The features of one pair of questions, in ``FEATURE_NAMES`` order, each in 0..1;
    ``blend`` is the lexicon's hand-set similarity of the pair (without topics)."""
    both = bool(a.concepts) and bool(b.concepts)
    concept = (
        concept_overlap(a.concepts, b.concepts, concept_weights, cosine=False) if both else 0.0
    )
    tokens = _cosine(a.content, b.content)
    grams = _cosine(a.grams, b.grams)
    ask = sum(x * y for x, y in zip(a.ask, b.ask, strict=True)) if a.ask and b.ask else 0.0
    aspects_a, aspects_b = a.strong_aspects, b.strong_aspects
    both_aspects = bool(aspects_a) and bool(aspects_b)
    shared_references = bool(a.references & b.references)
    references_differ = bool(a.references) and bool(b.references) and not shared_references
    return (
        concept,
        1.0 if both else 0.0,
        1.0 if bool(a.concepts) != bool(b.concepts) else 0.0,
        tokens,
        grams,
        ask,
        1.0 if a.ask and a.top_ask == b.top_ask else 0.0,
        1.0 if both_aspects and aspects_a.isdisjoint(aspects_b) else 0.0,
        1.0 if both_aspects and not aspects_a.isdisjoint(aspects_b) else 0.0,
        1.0 if shared_references else 0.0,
        1.0 if references_differ else 0.0,
        concept * ask,
        tokens * ask,
        grams * ask,
        min(a.length, b.length) / max(a.length, b.length, 1),
        blend,
    )


@dataclass(frozen=True)
class PairModel:
    """Logistic regression over ``FEATURE_NAMES`` and the thresholds clustering uses."""

    coefficients: tuple[float, ...]
    word_weights: Mapping[str, float]  # "s:word" / "d:word" -> weight
    intercept: float
    # A question joins a cluster when its probability with the cluster's representative
    # reaches ``threshold`` and that with at least ``member_share`` of the members too.
    threshold: float
    member_share: float
    info: Mapping[str, Any]  # training data hash, figures; written to the JSON as is

    def probability(self, features: tuple[float, ...], words: PairWords) -> float:
        """The probability that one answer serves both questions, from the dense features
        and the pair's weighted words (``pair_words``)."""
        logit = self.intercept
        for weight, value in zip(self.coefficients, features, strict=True):
            logit += weight * value
        weights = self.word_weights
        logit += words.scale * sum(weights.get(key, 0.0) for key in words.keys)
        if logit < -30.0:
            return 0.0
        return 1.0 / (1.0 + math.exp(-logit))

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        document = {
            "format": PAIR_MODEL_FORMAT,
            "features": list(FEATURE_NAMES),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "word_weights": dict(sorted(self.word_weights.items())),
            "threshold": self.threshold,
            "member_share": self.member_share,
            "info": dict(self.info),
        }
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")


def load_pair_model(path: Path) -> PairModel:
    """Read a pair model written by ``PairModel.save``; ``ModelError`` when it does not fit."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document["format"] != PAIR_MODEL_FORMAT:
            raise ModelError(f"{path}: pair model format {document['format']}")
        if tuple(document["features"]) != FEATURE_NAMES:
            raise ModelError(f"{path}: the pair model was trained on other features")
        return PairModel(
            coefficients=tuple(float(value) for value in document["coefficients"]),
            word_weights={str(k): float(v) for k, v in document["word_weights"].items()},
            intercept=float(document["intercept"]),
            threshold=float(document["threshold"]),
            member_share=float(document["member_share"]),
            info=document.get("info", {}),
        )
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ModelError(f"cannot read the pair model {path}: {error}") from error


@dataclass(frozen=True, slots=True)
class PairWords:
    """The word keys of a pair, shared ("s:") and one-sided ("d:") lemmas and concepts, and
    their common scale (one over the square root of the size of their union).

    (Pairs of one-sided words, "a has x where b has y", were tried as further keys to learn
    paraphrases: they fitted the training asks better and the held-out asks no better.)
    """

    keys: list[str]
    scale: float


NO_WORDS = PairWords([], 0.0)


def pair_words(a: PairSignals, b: PairSignals) -> PairWords:
    """The word keys of a pair and their scales (see ``PairWords``)."""
    left = a.content | {CONCEPT_PREFIX + c for c in a.concepts}
    right = b.content | {CONCEPT_PREFIX + c for c in b.concepts}
    union = left | right
    if not union:
        return NO_WORDS
    keys = [SHARED_PREFIX + word for word in left & right]
    keys.extend(DIFFERENT_PREFIX + word for word in left ^ right)
    return PairWords(keys, 1.0 / math.sqrt(len(union)))


def _cosine(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def concept_overlap(
    a: frozenset[str], b: frozenset[str], weights: Mapping[str, float], *, cosine: bool
) -> float:
    """Weight of the shared concepts over the weight of all (Jaccard), or over the geometric
    mean of both sides' weights (cosine); 0 when none is shared.

    Sums in the iteration order of the sets, as ``sum()`` over them would.
    """
    both = a & b
    if not both:
        return 0.0  # the union of two non-empty sets of positive weights is never 0
    shared = 0.0
    for concept in both:
        shared += weights[concept]
    if cosine:
        return shared / math.sqrt(_weight(a, weights) * _weight(b, weights))
    return shared / _weight(a | b, weights)


def _weight(concepts: frozenset[str], weights: Mapping[str, float]) -> float:
    total = 0.0
    for concept in concepts:
        total += weights[concept]
    return total
