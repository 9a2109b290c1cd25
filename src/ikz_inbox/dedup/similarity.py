"""How alike two questions are, on a 0..1 scale.

In: two question texts (or their ``Analysis``), the ``DedupModel`` and optionally each
question's topic. Out: a similarity in 0..1. The concept signature (what is asked about,
weighted by how specific it is) drives the score; a lexical similarity over lemmas and
character trigrams covers what the lexicon does not know. Different topics and different
aspects (when vs. how much) lower the score.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ikz_inbox.dedup.analysis import Analysis, Analyzer, LemmaLookup, build_analyzer
from ikz_inbox.dedup.lemmas import load_language_data
from ikz_inbox.dedup.lexicon import Settings, read_lexicon

logger = logging.getLogger(__name__)

# Share of token overlap (vs. character trigrams) in the lexical part.
_TOKEN_SHARE = 0.5


@dataclass(frozen=True, eq=False)
class DedupModel:
    """The analysed lexicon, the lemmatizer and the calibrated settings, built once."""

    analyzer: Analyzer
    concept_weights: Mapping[str, float]
    weak_aspects: frozenset[str]
    settings: Settings

    @property
    def threshold(self) -> float:
        """Similarity at or above which two questions count as the same question."""
        return self.settings.threshold

    def analyse(self, text: str) -> Analysis:
        """Return the analysis of one question text."""
        return self.analyzer.analyse(text)


def load_dedup_model(lexicon_path: Path, cache_dir: Path | None = None) -> DedupModel:
    """Read ``lexicon_path`` and build the model with spaCy's German lookup lemmas.

    ``cache_dir`` (optional, created when missing) keeps a compact copy of the lemma table
    and stop words so that later start-ups neither parse the lookups data nor import spaCy.
    """
    lexicon = read_lexicon(lexicon_path)
    language = load_language_data(cache_dir)
    analyzer = build_analyzer(lexicon, lemma_lookup(language.lemmas), language.stop_words)
    logger.info(
        "dedup model loaded from %s: %s concepts, threshold %s",
        lexicon_path,
        len(lexicon.concepts),
        lexicon.settings.threshold,
    )
    return DedupModel(
        analyzer=analyzer,
        concept_weights={concept.id: concept.weight for concept in lexicon.concepts},
        weak_aspects=frozenset(aspect.id for aspect in lexicon.aspects if aspect.weak),
        settings=lexicon.settings,
    )


def question_similarity(
    a: str,
    b: str,
    model: DedupModel,
    topic_a: str | None = None,
    topic_b: str | None = None,
) -> float:
    """Return how alike questions ``a`` and ``b`` are, 0 (unrelated) to 1 (the same)."""
    return analysis_similarity(model.analyse(a), model.analyse(b), model, topic_a, topic_b)


def analysis_similarity(
    a: Analysis,
    b: Analysis,
    model: DedupModel,
    topic_a: str | None = None,
    topic_b: str | None = None,
) -> float:
    """Return the similarity of two analysed questions (see ``question_similarity``)."""
    settings = model.settings
    lexical = lexical_similarity(a, b)
    if a.concepts and b.concepts:
        concept = _weighted_jaccard(a.concepts, b.concepts, model.concept_weights)
        score = settings.concept_share * concept + (1 - settings.concept_share) * lexical
    elif a.concepts or b.concepts:
        score = settings.one_sided_factor * lexical
    else:
        score = lexical
    score *= _aspect_factor(a.aspects, b.aspects, model)
    if topic_a is not None and topic_b is not None and topic_a != topic_b:
        score *= settings.topic_mismatch_factor
    return min(1.0, max(0.0, score))


def _aspect_factor(a: frozenset[str], b: frozenset[str], model: DedupModel) -> float:
    """Lower the score when the questions ask different things of their concept."""
    strong_a, strong_b = a - model.weak_aspects, b - model.weak_aspects
    if strong_a and strong_b:
        return 1.0 if strong_a & strong_b else model.settings.aspect_conflict_factor
    if (strong_a and b and not a & b) or (strong_b and a and not a & b):
        return model.settings.weak_aspect_factor
    return 1.0


def lexical_similarity(a: Analysis, b: Analysis) -> float:
    """Blend of the cosine of content-lemma sets and of character-trigram sets."""
    if not a.content or not b.content:
        return 0.0
    tokens = _set_cosine(a.content, b.content)
    grams = _set_cosine(a.grams, b.grams)
    return _TOKEN_SHARE * tokens + (1 - _TOKEN_SHARE) * grams


def _set_cosine(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def _weighted_jaccard(a: frozenset[str], b: frozenset[str], weights: Mapping[str, float]) -> float:
    shared = sum(weights[c] for c in a & b)
    union = sum(weights[c] for c in a | b)
    return shared / union if union else 0.0


def lemma_lookup(table: Mapping[str, str]) -> LemmaLookup:
    """The lookup lemmatizer over ``table``: a word's lemma, the word itself when it is a
    lemma, None when unknown."""
    known_lemmas = frozenset(table.values())

    def lemma_of(word: str) -> str | None:
        lemma = table.get(word)
        if lemma is not None:
            return lemma
        return word if word in known_lemmas else None

    return lemma_of
