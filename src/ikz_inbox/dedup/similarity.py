"""How alike two questions are, on a 0..1 scale.

In: two question texts (or their ``Analysis``), the ``DedupModel`` and optionally each
question's topic. Out: a similarity in 0..1. ``profile_of`` works out once per question
what the score reads (a ``Profile``); ``profile_similarity`` scores two profiles.

With the trained grouping model (``models/grouping``: the ask model and the pair model of
``dedup.learn``) the similarity is the learned probability that one answer serves both
questions, from object and ask signals (``dedup.pairs``); the topic plays no part. Without
it (model files missing or unreadable, logged as a warning) the hand-set blend of the
lexicon's ``[model]`` settings is used: the concept signature drives the score, a lexical
similarity over lemmas and trigrams covers what the lexicon does not know, and different
topics and aspects lower it; with a floor it may stop early at an upper bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ikz_inbox.dedup.analysis import (
    LEGAL_REFERENCE_PREFIXES,
    Analysis,
    Analyzer,
    LemmaLookup,
    build_analyzer,
)
from ikz_inbox.dedup.asks import AskModel, load_ask_model
from ikz_inbox.dedup.lemmas import load_language_data
from ikz_inbox.dedup.lexicon import Settings, read_lexicon
from ikz_inbox.dedup.pairs import (
    PairModel,
    PairSignals,
    PairWords,
    concept_overlap,
    load_pair_model,
    pair_features,
    pair_words,
)
from ikz_inbox.errors import ModelError

logger = logging.getLogger(__name__)

# Share of token overlap (vs. character trigrams) in the lexical part.
_TOKEN_SHARE = 0.5
# The files of the trained grouping model inside its folder.
ASK_MODEL_FILE = "asks.npz"
PAIR_MODEL_FILE = "pairs.json"


@dataclass(frozen=True, eq=False)
class DedupModel:
    """The analysed lexicon, the lemmatizer and the calibrated settings, built once."""

    analyzer: Analyzer
    concept_weights: Mapping[str, float]
    weak_aspects: frozenset[str]
    settings: Settings
    asks: AskModel | None = None
    pairs: PairModel | None = None

    @property
    def threshold(self) -> float:
        """Similarity at or above which two questions count as the same question."""
        return self.pairs.threshold if self.pairs is not None else self.settings.threshold

    @property
    def member_share(self) -> float:
        """Share of a cluster's members a question must reach the threshold with to join."""
        if self.pairs is not None:
            return self.pairs.member_share
        return self.settings.member_share

    @property
    def version(self) -> str:
        """Which similarity is in use, for logs and status."""
        if self.pairs is None:
            return "lexicon-blend"
        return f"learned-{self.pairs.info.get('data_sha256', '?')[:12]}"

    def analyse(self, text: str) -> Analysis:
        """Return the analysis of one question text."""
        return self.analyzer.analyse(text)


def load_dedup_model(
    lexicon_path: Path, cache_dir: Path | None = None, model_dir: Path | None = None
) -> DedupModel:
    """Read ``lexicon_path`` and build the model with spaCy's German lookup lemmas.

    ``cache_dir`` (optional, created when missing) keeps a compact copy of the lemma table
    and stop words so that later start-ups neither parse the lookups data nor import spaCy.
    ``model_dir`` holds the trained ask and pair models; without it, or when they cannot be
    read (a warning says why), the lexicon's hand-set blend scores the pairs.
    """
    lexicon = read_lexicon(lexicon_path)
    language = load_language_data(cache_dir)
    analyzer = build_analyzer(lexicon, lemma_lookup(language.lemmas), language.stop_words)
    asks, pairs = _trained_models(model_dir)
    model = DedupModel(
        analyzer=analyzer,
        concept_weights={concept.id: concept.weight for concept in lexicon.concepts},
        weak_aspects=frozenset(aspect.id for aspect in lexicon.aspects if aspect.weak),
        settings=lexicon.settings,
        asks=asks,
        pairs=pairs,
    )
    logger.info(
        "dedup model loaded from %s: %s concepts, similarity %s, threshold %s",
        lexicon_path,
        len(lexicon.concepts),
        model.version,
        model.threshold,
    )
    return model


def _trained_models(model_dir: Path | None) -> tuple[AskModel | None, PairModel | None]:
    if model_dir is None:
        return None, None
    try:
        return load_ask_model(model_dir / ASK_MODEL_FILE), load_pair_model(
            model_dir / PAIR_MODEL_FILE
        )
    except ModelError as error:
        logger.warning("grouping model not used, falling back to the lexicon blend: %s", error)
        return None, None


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
    return profile_similarity(profile_of(a, model, topic_a), profile_of(b, model, topic_b), model)


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """What the similarity reads of one question, worked out once per question.

    Keeps the very set objects of the ``Analysis``, so that sums over them run in the
    same order (and give the same floats) however often the question is compared.
    Compared (and hashed) by identity.
    """

    content: frozenset[str]
    content_size: int
    grams: frozenset[str]
    grams_size: int
    concepts: frozenset[str]
    aspects: frozenset[str]
    strong_aspects: frozenset[str]  # the aspects that are not weak
    topic: str | None
    signals: PairSignals | None = None  # what the learned pair model reads; None without one


def profile_of(analysis: Analysis, model: DedupModel, topic: str | None = None) -> Profile:
    """Return the ``Profile`` of an analysed question with its topic (None: unknown)."""
    strong_aspects = _strong(analysis.aspects, model.weak_aspects)
    return Profile(
        content=analysis.content,
        content_size=len(analysis.content),
        grams=analysis.grams,
        grams_size=len(analysis.grams),
        concepts=analysis.concepts,
        aspects=analysis.aspects,
        strong_aspects=strong_aspects,
        topic=topic,
        signals=None if model.asks is None else pair_signals(analysis, strong_aspects, model.asks),
    )


def pair_signals(analysis: Analysis, strong_aspects: frozenset[str], asks: AskModel) -> PairSignals:
    """The signals of one analysed question that the pair model compares."""
    ask = asks.distribution(analysis.tokens)
    return PairSignals(
        content=analysis.content,
        grams=analysis.grams,
        concepts=analysis.concepts,
        strong_aspects=strong_aspects,
        ask=ask,
        top_ask=max(range(len(ask)), key=ask.__getitem__),
        references=frozenset(t for t in analysis.tokens if _is_reference(t)),
        length=len(analysis.content),
    )


def _is_reference(token: str) -> bool:
    """A merged legal reference ("§2b", "abs6", "art26"); plain numbers (amounts, years)
    say nothing about what is asked."""
    return token.startswith(LEGAL_REFERENCE_PREFIXES) and any(ch.isdigit() for ch in token)


def _strong(aspects: frozenset[str], weak: frozenset[str]) -> frozenset[str]:
    """The aspects that are not weak; the same set object when none is weak (saves memory)."""
    return aspects if aspects.isdisjoint(weak) else aspects - weak


def profile_similarity(a: Profile, b: Profile, model: DedupModel, floor: float = 0.0) -> float:
    """Return the similarity of two profiled questions (see ``question_similarity``).

    With a ``floor`` above 0, a pair that could not reach it even if the smaller question's
    trigrams were all shared gets that upper bound (below ``floor``) instead, without
    counting its shared trigrams. The bound runs through the same arithmetic as the score,
    only with a larger trigram count, and every step is monotonic in it (all settings lie
    in 0..1), so a score at or above ``floor`` is never cut off, to the last bit.
    """
    if model.pairs is not None and a.signals is not None and b.signals is not None:
        features, words = pair_inputs(a, b, model)
        return model.pairs.probability(features, words)
    return _blend_similarity(a, b, model, floor, use_topics=True)


def pair_inputs(a: Profile, b: Profile, model: DedupModel) -> tuple[tuple[float, ...], PairWords]:
    """What the pair model reads of two profiled questions: the dense features (the
    lexicon blend without topics among them) and the weighted words. Both profiles need
    their ``signals``."""
    assert a.signals is not None and b.signals is not None
    blend = _blend_similarity(a, b, model, 0.0, use_topics=False)
    features = pair_features(a.signals, b.signals, model.concept_weights, blend)
    return features, pair_words(a.signals, b.signals)


def _blend_similarity(
    a: Profile, b: Profile, model: DedupModel, floor: float, *, use_topics: bool
) -> float:
    """The hand-set blend of the lexicon's ``[model]`` settings."""
    settings = model.settings
    if a.concepts and b.concepts:
        share = settings.concept_share
        concept = share * concept_overlap(
            a.concepts,
            b.concepts,
            model.concept_weights,
            cosine=settings.concept_overlap == "cosine",
        )
        lexical_share = 1 - share
    else:
        concept = 0.0  # adding 0.0 and multiplying by 1.0 leave a float unchanged
        lexical_share = settings.one_sided_factor if a.concepts or b.concepts else 1.0
    aspect = _aspect_factor(a, b, settings)
    topic = 1.0
    if use_topics and a.topic is not None and b.topic is not None and a.topic != b.topic:
        topic = settings.topic_mismatch_factor
    if not a.content_size or not b.content_size:
        return _score(concept, lexical_share * 0.0, aspect, topic)
    tokens = len(a.content & b.content) / math.sqrt(a.content_size * b.content_size)
    norm = math.sqrt(a.grams_size * b.grams_size)
    if not norm:
        return _score(concept, lexical_share * (_TOKEN_SHARE * tokens), aspect, topic)
    if floor > 0.0:
        most = min(a.grams_size, b.grams_size) / norm
        bound = _score(concept, lexical_share * _lexical(tokens, most), aspect, topic)
        if bound < floor:
            return bound
    grams = len(a.grams & b.grams) / norm
    return _score(concept, lexical_share * _lexical(tokens, grams), aspect, topic)


def _lexical(tokens: float, grams: float) -> float:
    """Blend of the cosine of content-lemma sets and of character-trigram sets."""
    return _TOKEN_SHARE * tokens + (1 - _TOKEN_SHARE) * grams


def _score(concept: float, lexical: float, aspect: float, topic: float) -> float:
    score = (concept + lexical) * aspect
    if topic != 1.0:
        score *= topic
    return min(1.0, max(0.0, score))


def _aspect_factor(a: Profile, b: Profile, settings: Settings) -> float:
    """Lower the score when the questions ask different things of their concept."""
    strong_a, strong_b = a.strong_aspects, b.strong_aspects
    if strong_a and strong_b:
        return 1.0 if not strong_a.isdisjoint(strong_b) else settings.aspect_conflict_factor
    if (strong_a and b.aspects or strong_b and a.aspects) and a.aspects.isdisjoint(b.aspects):
        return settings.weak_aspect_factor
    return 1.0


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
