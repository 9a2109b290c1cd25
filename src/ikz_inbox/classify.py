"""Topic classification of single questions.

In: question texts (``Sequence[str]``) and the topic taxonomy (``config/taxonomy.toml``).
Out: one :class:`~ikz_inbox.types.TopicPrediction` per text, carrying the topic id, a
confidence, who decided (model or keyword rules) and the version of the deciding model.

``load_topic_classifier`` is the stage's entry point: it returns the trained spaCy model
from ``models/topics`` when it is present and matches the taxonomy, otherwise the keyword
rules with version ``"rules-fallback"``. ``load_topic_model`` is the strict variant for the
``train`` and ``status`` commands and raises :class:`~ikz_inbox.errors.ModelError`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tomllib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.textnorm import WORD_TOKEN, fold
from ikz_inbox.types import Topic, TopicPrediction, TopicSource

logger = logging.getLogger(__name__)

FALLBACK_TOPIC = "sonstiges"
RULES_VERSION = "rules-fallback"
MODEL_INFO_FILE = "ikz-model.json"
# Bumped whenever the saved model layout or the text normalisation changes. Version 2: a
# second, multi-label component ("topics_multilabel", one sigmoid per topic) for the
# secondary topics and a confidence calibration in ikz-model.json; version 1 (the softmax
# alone, secondary topics from its shares, raw confidence) is still served.
MODEL_FORMAT_VERSION = 2
SUPPORTED_FORMAT_VERSIONS = (1, 2)
# Confidence reported when no keyword matches: low enough that staff review it first.
NO_MATCH_CONFIDENCE = 0.1
# Version 1: a secondary topic must get at least this share of the softmax.
SECONDARY_MIN_SCORE = 0.25
# Version 2: the component that says which topics a question has (primary or secondary),
# its labels ("has:<topic id>") and the default score a secondary topic must reach.
MULTILABEL_PIPE = "topics_multilabel"
MULTILABEL_PREFIX = "has:"
MULTILABEL_MIN_SCORE = 0.5
# The spaCy factory of both version-2 components: spaCy's textcat_multilabel, which checks
# only that every target lies between 0 and 1 (the softmax sees one-hot targets of its own
# labels, the multi-label component several 1.0s in the same doc.cats).
TEXTCAT_FACTORY = "ikz_textcat"
# Texts per nlp.pipe batch; short questions, so larger batches only cost memory.
PIPE_BATCH_SIZE = 64

_SPACES_RE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Lower-case, fold umlauts to ae/oe/ue and ß to ss, and squeeze white space.

    Applied to every text before it reaches the model, in training and in prediction,
    so that "Foerderquote", "Förderquote" and "FÖRDERQUOTE" are one feature.
    """
    composed = fold(text)
    return _SPACES_RE.sub(" ", composed).strip()


@dataclass(frozen=True)
class Calibration:
    """A monotone map from the model's raw score of its best topic to the confidence.

    ``knots`` are (raw, confidence) points, raw strictly increasing and confidence
    non-decreasing; between them the map is linear, outside them it is clamped to the end
    points. Training places the knots so that the review threshold sits where the review
    queue catches a chosen share of wrong topics (see ``ikz_inbox.train.fit_calibration``).
    """

    knots: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.knots) < 2:
            raise ValueError("a calibration needs at least two knots")
        for (x0, y0), (x1, y1) in zip(self.knots, self.knots[1:], strict=False):
            if not x1 > x0 or y1 < y0:
                raise ValueError(f"calibration knots not monotone: {self.knots}")

    def __call__(self, raw: float) -> float:
        """The confidence for a raw score: piecewise-linear, non-decreasing in ``raw``."""
        first, last = self.knots[0], self.knots[-1]
        if raw <= first[0]:
            return first[1]
        if raw >= last[0]:
            return last[1]
        for (x0, y0), (x1, y1) in zip(self.knots, self.knots[1:], strict=False):
            if raw <= x1:
                return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
        return last[1]  # pragma: no cover - the loop always returns

    def to_json(self) -> list[list[float]]:
        """The knots as JSON-ready lists."""
        return [[x, y] for x, y in self.knots]

    @classmethod
    def from_json(cls, value: object) -> Calibration:
        """Parse what ``to_json`` wrote; raise ValueError when it is not a valid map."""
        if not isinstance(value, list):
            raise ValueError("calibration must be a list of [raw, confidence] pairs")
        knots: list[tuple[float, float]] = []
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("calibration must be a list of [raw, confidence] pairs")
            knots.append((float(pair[0]), float(pair[1])))
        return cls(tuple(knots))


IDENTITY_CALIBRATION = Calibration(((0.0, 0.0), (1.0, 1.0)))


def rank_topics(
    cats: dict[str, float], labels: Sequence[str], secondary_min_score: float
) -> tuple[str, float, tuple[str, ...]]:
    """The best topic, its raw score and the secondary topics (best first) of ``doc.cats``.

    The primary topic is the best of ``labels`` (the softmax; ties go to the label listed
    first). Secondary topics are the other labels whose multi-label score
    (``has:<label>``) reaches ``secondary_min_score``; a model without multi-label scores
    (version 1) takes the other labels whose softmax share reaches it. The same function
    serves training metrics and prediction.
    """
    topic = max(labels, key=lambda label: cats.get(label, 0.0))
    multi = {
        label: cats[MULTILABEL_PREFIX + label]
        for label in labels
        if MULTILABEL_PREFIX + label in cats
    }
    others = multi or {label: cats.get(label, 0.0) for label in labels}
    ranked = sorted(
        (label for label in labels if label != topic and others[label] >= secondary_min_score),
        key=lambda label: -others[label],
    )
    return topic, float(cats.get(topic, 0.0)), tuple(ranked)


class TopicClassifier(Protocol):
    """Anything that assigns one topic per question text."""

    @property
    def version(self) -> str:
        """Name and version recorded with each prediction."""
        ...

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        """Return one prediction per text, in order."""
        ...


# --------------------------------------------------------------------------- taxonomy


def load_taxonomy(path: Path) -> tuple[Topic, ...]:
    """Read ``[[topic]]`` tables (id, label, description, keywords) from a TOML file.

    Raises ConfigError naming the offending key when the file is unreadable or invalid.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"taxonomy {path}: cannot read: {exc}") from exc
    entries = data.get("topic")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"taxonomy {path}: key 'topic' must be a non-empty [[topic]] list")
    topics = tuple(_parse_topic(path, index, entry) for index, entry in enumerate(entries))
    _check_unique_ids(path, topics)
    return topics


def _parse_topic(path: Path, index: int, entry: object) -> Topic:
    where = f"taxonomy {path}: topic[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    for key in ("id", "label", "description"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: key '{key}' must be a non-empty string")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", entry["id"]):
        raise ConfigError(f"{where}: key 'id' must be lower-case letters, digits and _")
    keywords = entry.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise ConfigError(f"{where}: key 'keywords' must be a list of non-empty strings")
    return Topic(
        id=entry["id"],
        label=entry["label"],
        description=entry["description"],
        keywords=tuple(keywords),
    )


def _check_unique_ids(path: Path, topics: Sequence[Topic]) -> None:
    seen: set[str] = set()
    for topic in topics:
        if topic.id in seen:
            raise ConfigError(f"taxonomy {path}: key 'id' repeats {topic.id!r}")
        seen.add(topic.id)


# --------------------------------------------------------------------------- keyword rules


@dataclass(frozen=True)
class _KeywordRule:
    """One keyword of one topic, normalised, with its weight."""

    topic: str
    words: tuple[str, ...]
    weight: float
    mode: str  # "prefix" (default), "infix" (leading *) or "exact" (leading =)


def _parse_keyword(topic: str, keyword: str) -> _KeywordRule:
    """Turn ``"förderquote"``, ``"*quote"``, ``"=it"`` or ``"2b ustg^3"`` into a rule.

    Each word matches a token that starts with it (so inflected forms and compounds whose
    first part it is match too); a leading ``*`` lets the first word match anywhere inside
    a token (the head of a compound); a leading ``=`` asks for the whole token (short
    abbreviations); ``^w`` sets the weight (default 1, multi-word phrases default to 1.5).
    """
    text, _, weight_text = keyword.partition("^")
    mode = {"*": "infix", "=": "exact"}.get(text[:1], "prefix")
    words = tuple(WORD_TOKEN.findall(normalise_text(text.lstrip("*="))))
    if not words:
        raise ConfigError(f"taxonomy: topic {topic!r}: key 'keywords' has empty {keyword!r}")
    try:
        weight = float(weight_text) if weight_text else (1.5 if len(words) > 1 else 1.0)
    except ValueError as exc:
        raise ConfigError(f"taxonomy: topic {topic!r}: bad keyword weight {keyword!r}") from exc
    return _KeywordRule(topic=topic, words=words, weight=weight, mode=mode)


def _word_matches(mode: str, word: str, token: str) -> bool:
    if mode == "exact":
        return token == word
    if mode == "infix":
        return word in token
    return token.startswith(word)


def _rule_matches(rule: _KeywordRule, tokens: Sequence[str]) -> bool:
    first, rest = rule.words[0], rule.words[1:]
    for start, token in enumerate(tokens):
        if not _word_matches(rule.mode, first, token):
            continue
        following = tokens[start + 1 : start + 1 + len(rest)]
        if len(following) == len(rest) and all(
            tok.startswith(word) for tok, word in zip(following, rest, strict=True)
        ):
            return True
    return False


class KeywordClassifier:
    """Weighted keyword rules from the taxonomy's ``keywords``; the fallback classifier.

    Texts and keywords are lower-cased and umlaut-folded; a keyword matches tokens that
    begin with it, which covers German inflection and compounds. Each matching keyword adds
    its weight to its topic; the best-scoring topic wins. With no match the prediction is
    ``sonstiges`` with a low confidence.
    """

    def __init__(self, taxonomy: Sequence[Topic], version: str = RULES_VERSION) -> None:
        self._version = version
        self._topic_ids = tuple(topic.id for topic in taxonomy)
        self._fallback = FALLBACK_TOPIC if FALLBACK_TOPIC in self._topic_ids else None
        self._rules = tuple(
            _parse_keyword(topic.id, keyword) for topic in taxonomy for keyword in topic.keywords
        )

    @property
    def version(self) -> str:
        """Always ``rules-fallback`` unless given otherwise, so ``status`` can flag it."""
        return self._version

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        """Score every text against all keyword rules."""
        return [self._predict_one(text) for text in texts]

    def scores(self, text: str) -> dict[str, float]:
        """Summed weights of the matching keywords per topic (topics without a match omitted)."""
        tokens = WORD_TOKEN.findall(normalise_text(text))
        totals: dict[str, float] = {}
        for rule in self._rules:
            if _rule_matches(rule, tokens):
                totals[rule.topic] = totals.get(rule.topic, 0.0) + rule.weight
        return totals

    def _predict_one(self, text: str) -> TopicPrediction:
        totals = self.scores(text)
        if not totals:
            topic = self._fallback or self._topic_ids[-1]
            return TopicPrediction(topic, NO_MATCH_CONFIDENCE, TopicSource.RULES, self._version)
        ranked = sorted(totals.items(), key=lambda item: (-item[1], self._topic_ids.index(item[0])))
        best_topic, best_score = ranked[0]
        confidence = best_score / (sum(totals.values()) + 1.0)
        secondary = tuple(topic for topic, score in ranked[1:] if score >= best_score / 2)
        return TopicPrediction(
            topic=best_topic,
            confidence=round(confidence, 4),
            source=TopicSource.RULES,
            model_version=self._version,
            secondary=secondary,
        )


# --------------------------------------------------------------------------- spaCy architecture

CHAR_NGRAM_ARCHITECTURE = "ikz.CharNgramBOW.v1"
# Name of the feature layer inside the architecture and of its IDF weights parameter.
EXTRACT_LAYER = "extract_char_ngrams"
IDF_PARAM = "idf"
# Texts whose features are kept per process (about 2.5 KB each, in every process that loads
# the model; shared by both components): most of the training set (reused by every epoch)
# and the repeats of recent questions; more only costs memory in the long-running workers.
FEATURE_CACHE_SIZE = 8192
# Distinct words whose hashed character n-grams are kept per process (about 0.5 KB each):
# hashing the n-grams was most of a new text's cost, and the words of questions repeat far
# more often than whole texts do.
WORD_KEYS_CACHE_SIZE = 16384
# One word's hashed features, as _word_keys returns them.
WordKeys = Callable[[str], "array[int]"]


def register_architectures() -> None:
    """Register our textcat architecture with spaCy (idempotent).

    ``ikz.CharNgramBOW.v1`` is spaCy's bag-of-words textcat (hashed sparse features into a
    ``SparseLinear`` layer and a softmax) with character n-grams of every word added to the
    word uni-/bigrams: German compounds ("Fördersatz", "Förderquote") then share features.
    Must run before a pipeline that uses it is built or loaded.
    """
    from spacy.language import Language
    from spacy.util import registry

    if not registry.has("architectures", CHAR_NGRAM_ARCHITECTURE):
        registry.architectures.register(CHAR_NGRAM_ARCHITECTURE, func=_build_char_ngram_bow)
    if not Language.has_factory(TEXTCAT_FACTORY):
        Language.factory(
            TEXTCAT_FACTORY,
            assigns=["doc.cats"],
            default_config={
                "threshold": 0.5,
                "scorer": {"@scorers": "spacy.textcat_multilabel_scorer.v2"},
            },
            default_score_weights={"cats_score": 1.0},
        )(_make_soft_multilabel_textcat)


def _make_soft_multilabel_textcat(
    nlp: Any, name: str, model: Any, threshold: float, scorer: Any
) -> Any:
    """spaCy's ``textcat_multilabel`` with a lenient target check (softmax or sigmoid:
    the architecture decides)."""
    return _soft_multilabel_class()(nlp.vocab, model, name, threshold=threshold, scorer=scorer)


@functools.cache
def _soft_multilabel_class() -> type[Any]:
    from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer

    class SoftMultiLabelTextCategorizer(MultiLabel_TextCategorizer):
        """Validates only that targets lie between 0 and 1: two components share one
        ``doc.cats`` (spaCy's textcat refuses a doc with more than one 1.0)."""

        def _validate_categories(self, examples: Iterable[Any]) -> None:
            for example in examples:
                for value in example.reference.cats.values():
                    if not 0.0 <= value <= 1.0:
                        raise ValueError(f"textcat target {value!r} is not between 0 and 1")

    return SoftMultiLabelTextCategorizer


def _build_char_ngram_bow(
    *,
    exclusive_classes: bool,
    min_n: int,
    max_n: int,
    word_ngram_size: int,
    length: int = 262144,
    nO: int | None = None,
    idf_buckets: int = 0,
) -> Any:
    from thinc.api import Model, SparseLinear_v2, chain, softmax_activation

    if not 1 <= min_n <= max_n or word_ngram_size < 1 or length < 1 or idf_buckets < 0:
        raise ValueError(f"{CHAR_NGRAM_ARCHITECTURE}: bad n-gram sizes or length")
    features = _shared_features(min_n, max_n, word_ngram_size)
    idf_size = 2 ** (idf_buckets - 1).bit_length() if idf_buckets else 0
    extract: Any = Model(
        EXTRACT_LAYER,
        functools.partial(_extract_forward, features=features),
        init=_init_idf,
        attrs={"min_n": min_n, "max_n": max_n, "word_ngram_size": word_ngram_size},
        params={IDF_PARAM: None} if idf_size else {},
        dims={"idf_buckets": idf_size} if idf_size else {},
    )
    output = softmax_activation() if exclusive_classes else _sigmoid_cross_entropy()
    sparse = SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())
    model: Any = chain(chain(extract, sparse), output)
    if nO is not None:
        model.set_dim("nO", nO)
    model.attrs["multi_label"] = not exclusive_classes
    return model


@functools.cache
def _shared_features(min_n: int, max_n: int, word_ngram_size: int) -> Any:
    """The cached feature function for these settings, one per process: the softmax and
    the multi-label component (and a reloaded model) then compute each text's features
    once. Keyed by words, as nlp.update copies docs each step; the features depend on
    nothing but the words and the settings, so sharing them is safe."""
    word_keys = functools.lru_cache(maxsize=WORD_KEYS_CACHE_SIZE)(
        functools.partial(_word_keys, min_n=min_n, max_n=max_n)
    )
    return functools.lru_cache(maxsize=FEATURE_CACHE_SIZE)(
        functools.partial(_word_features, word_keys=word_keys, word_ngram_size=word_ngram_size)
    )


def _init_idf(model: Any, X: Any = None, Y: Any = None) -> None:
    """Start with every IDF weight 1.0 (plain counts); ``set_idf_weights`` sets them."""
    if IDF_PARAM in model.param_names and model.has_param(IDF_PARAM) is not True:
        model.set_param(IDF_PARAM, model.ops.alloc1f(model.get_dim("idf_buckets")) + 1.0)


def set_idf_weights(textcat_model: Any, docs: Sequence[Any]) -> int:
    """Set the IDF weights of ``ikz.CharNgramBOW.v1`` (``idf_buckets`` > 0) from ``docs``:
    log((1 + n) / (1 + df)) + 1 per hashed feature bucket, as scikit-learn's smooth IDF.

    Returns the number of documents counted (0 when the model has no IDF weights).
    """
    import numpy

    extract = next((node for node in textcat_model.walk() if node.name == EXTRACT_LAYER), None)
    if extract is None or IDF_PARAM not in extract.param_names:
        return 0
    size = int(extract.get_dim("idf_buckets"))
    mask = numpy.uint64(size - 1)
    frequency = numpy.zeros(size, dtype="float64")
    (keys, _, lengths), _ = _extract_forward(extract, docs, is_train=False, features=None)
    start = 0
    for length in lengths.tolist():
        frequency[numpy.unique(keys[start : start + length] & mask)] += 1.0
        start += length
    idf = numpy.log((1.0 + len(docs)) / (1.0 + frequency)) + 1.0
    extract.set_param(IDF_PARAM, extract.ops.asarray(idf, dtype="f"))
    return len(docs)


def _sigmoid_cross_entropy() -> Any:
    """A sigmoid whose backward pass hands the gradient through unchanged.

    spaCy's textcat loss gradient is (score - target); passed straight to the logits that
    is the gradient of the binary cross-entropy, which keeps learning where a sigmoid is
    confidently wrong (thinc's ``Logistic`` multiplies by the sigmoid's slope, so such
    labels barely move: staff corrections were then learnt too slowly).
    """
    from thinc.api import Model

    # thinc calls a layer's forward function as forward(model, X, is_train).
    def forward(model: Any, logits: Any, is_train: bool) -> tuple[Any, Any]:  # noqa: FBT001
        def backprop(d_scores: Any) -> Any:
            return d_scores

        return model.ops.sigmoid(logits, inplace=False), backprop

    return Model("sigmoid_cross_entropy", forward)


def _extract_forward(
    model: Any,
    docs: Sequence[Any],
    is_train: bool,  # noqa: FBT001 - thinc calls a forward function as forward(model, X, is_train)
    *,
    features: Any,
) -> tuple[Any, Any]:
    """(keys, values, lengths) for ``SparseLinear``: each doc's feature keys with its
    L2-normalised counts, weighted by the IDF weights where the model has them set.

    ``features=None`` gives the unweighted features (for counting document frequencies);
    it is used only by ``set_idf_weights``.
    """
    weighted = features is not None
    if features is None:
        features = _shared_features(
            model.attrs["min_n"], model.attrs["max_n"], model.attrs["word_ngram_size"]
        )
    pairs = [features(_doc_words(doc)) for doc in docs]
    if weighted and IDF_PARAM in model.param_names and model.has_param(IDF_PARAM) is True:
        pairs = _idf_weighted(pairs, model.get_param(IDF_PARAM))
    xp = model.ops.xp
    keys = xp.concatenate([pair[0] for pair in pairs]) if pairs else xp.zeros(0, "uint64")
    values = xp.concatenate([pair[1] for pair in pairs]) if pairs else xp.zeros(0, "f")
    lengths = model.ops.asarray([len(pair[0]) for pair in pairs], dtype="int32")

    def backprop(d_output: Any) -> list[Any]:
        return []

    return (keys, model.ops.asarray(values, dtype="f"), lengths), backprop


def _doc_words(doc: Any) -> tuple[str, ...]:
    return tuple(token.lower_ for token in doc if not token.is_punct)


def _idf_weighted(pairs: Sequence[tuple[Any, Any]], idf: Any) -> list[tuple[Any, Any]]:
    """Each doc's values times the IDF weight of its keys' buckets, L2-normalised again."""
    import numpy

    mask = numpy.uint64(len(idf) - 1)
    weighted = []
    for keys, values in pairs:
        scaled = values * idf[keys & mask]
        norm = float(numpy.sqrt((scaled**2).sum()))
        weighted.append((keys, scaled / norm if norm else scaled))
    return weighted


def _word_features(
    words: tuple[str, ...], word_keys: WordKeys, word_ngram_size: int
) -> tuple[Any, Any]:
    """Hashed feature keys and L2-normalised counts for one text's words."""
    import numpy

    counts = _feature_counts(words, word_keys, word_ngram_size)
    keys = numpy.fromiter(counts.keys(), dtype="uint64", count=len(counts))
    values = numpy.fromiter(counts.values(), dtype="float32", count=len(counts))
    if len(values):
        values /= numpy.sqrt((values**2).sum())
    return keys, values


def _feature_counts(
    words: Sequence[str], word_keys: WordKeys, word_ngram_size: int
) -> Counter[int]:
    """How often each feature key occurs, in the order the keys first occur: each word's
    keys (see ``_word_keys``), then the hashed word n-grams of sizes 2..``word_ngram_size``."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]

    counts: Counter[int] = Counter()
    for word in words:
        counts.update(word_keys(word))
    for size in range(2, word_ngram_size + 1):
        counts.update(
            int(hash_string("b:" + " ".join(words[i : i + size])))
            for i in range(len(words) - size + 1)
        )
    return counts


def _word_keys(word: str, min_n: int, max_n: int) -> array[int]:
    """The hashed features of one word: the word itself ("w:" + word), then the character
    n-grams of sizes ``min_n``..``max_n`` of "<word>", shortest first."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]

    padded = f"<{word}>"
    grams = ["w:" + word]
    for size in range(min_n, max_n + 1):
        grams.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return array("Q", [int(hash_string(gram)) for gram in grams])


# --------------------------------------------------------------------------- spaCy model


class SpacyTopicClassifier:
    """A trained spaCy ``textcat`` pipeline (as written by ``train_topic_model``).

    The primary topic is the best label of the softmax (``textcat``); secondary topics are
    the other labels the multi-label component (``topics_multilabel``) scores at least the
    model's ``secondary_min_score``; the confidence is the model's calibration applied to
    the primary topic's softmax share.
    """

    def __init__(self, nlp: Any, info: dict[str, Any]) -> None:
        self._nlp = nlp
        self._version = str(info["model_version"])
        self._labels = tuple(str(label) for label in info["labels"])
        default = MULTILABEL_MIN_SCORE if MULTILABEL_PIPE in nlp.pipe_names else SECONDARY_MIN_SCORE
        self._secondary_min_score = float(info.get("secondary_min_score", default))
        calibration = info.get("calibration")
        self._calibration = (
            Calibration.from_json(calibration) if calibration else IDENTITY_CALIBRATION
        )

    @property
    def version(self) -> str:
        """The model version, e.g. ``topics-2026-11-25-1a2b3c4d``."""
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        """The topic ids the model can predict."""
        return self._labels

    @property
    def calibration(self) -> Calibration:
        """The map from raw score to confidence (identity for a version-1 model)."""
        return self._calibration

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """The raw scores for every text (``doc.cats``: the softmax per topic id and, for
        version 2, the multi-label score per ``has:<topic id>``), in order."""
        normalised = [normalise_text(text) for text in texts]
        return [dict(doc.cats) for doc in self._nlp.pipe(normalised, batch_size=PIPE_BATCH_SIZE)]

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        """Classify the texts in batches with ``nlp.pipe``."""
        normalised = [normalise_text(text) for text in texts]
        docs = self._nlp.pipe(normalised, batch_size=PIPE_BATCH_SIZE)
        return [self._prediction(doc.cats) for doc in docs]

    def _prediction(self, cats: dict[str, float]) -> TopicPrediction:
        topic, raw, secondary = rank_topics(cats, self._labels, self._secondary_min_score)
        return TopicPrediction(
            topic=topic,
            confidence=round(self._calibration(raw), 4),
            source=TopicSource.MODEL,
            model_version=self._version,
            secondary=secondary,
        )


def read_model_info(model_dir: Path) -> dict[str, Any]:
    """Read ``ikz-model.json`` of a model directory; raise ModelError when absent or bad."""
    info_path = model_dir / MODEL_INFO_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"no topic model at {model_dir} ({MODEL_INFO_FILE} missing)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"topic model {model_dir}: unreadable {MODEL_INFO_FILE}: {exc}") from exc
    if not isinstance(info, dict) or info.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
        found = info.get("format_version") if isinstance(info, dict) else None
        raise ModelError(
            f"topic model {model_dir}: format version {found!r}, "
            f"expected one of {SUPPORTED_FORMAT_VERSIONS}"
        )
    try:
        Calibration.from_json(info.get("calibration") or IDENTITY_CALIBRATION.to_json())
    except (TypeError, ValueError) as exc:
        raise ModelError(f"topic model {model_dir}: bad calibration: {exc}") from exc
    return info


def _check_labels(model_dir: Path, labels: Sequence[str], taxonomy: Sequence[Topic]) -> None:
    expected = {topic.id for topic in taxonomy}
    found = set(labels)
    if found != expected:
        missing = ", ".join(sorted(expected - found)) or "-"
        extra = ", ".join(sorted(found - expected)) or "-"
        raise ModelError(
            f"topic model {model_dir} does not match the taxonomy "
            f"(missing in model: {missing}; unknown to taxonomy: {extra}); retrain it"
        )


def load_topic_model(model_dir: Path, taxonomy: Sequence[Topic]) -> SpacyTopicClassifier:
    """Load the trained model strictly; raise ModelError when missing, broken or mismatched."""
    import spacy  # imported here: loading spaCy takes a second and the rules do not need it

    info = read_model_info(model_dir)
    register_architectures()
    try:
        nlp = spacy.load(model_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"topic model {model_dir}: spaCy cannot load it: {exc}") from exc
    if "textcat" not in nlp.pipe_names:
        raise ModelError(f"topic model {model_dir}: pipeline has no 'textcat' component")
    textcat: Any = nlp.get_pipe("textcat")
    model_labels = tuple(textcat.labels)
    if set(model_labels) != set(info.get("labels", ())):
        raise ModelError(f"topic model {model_dir}: labels differ from {MODEL_INFO_FILE}")
    _check_labels(model_dir, model_labels, taxonomy)
    if MULTILABEL_PIPE in nlp.pipe_names:
        multi: Any = nlp.get_pipe(MULTILABEL_PIPE)
        if set(multi.labels) != {MULTILABEL_PREFIX + label for label in model_labels}:
            raise ModelError(f"topic model {model_dir}: {MULTILABEL_PIPE} labels differ")
    return SpacyTopicClassifier(nlp, info)


def load_topic_classifier(model_dir: Path, taxonomy: Sequence[Topic]) -> TopicClassifier:
    """Return the trained model, or the keyword rules (version ``rules-fallback``) if unusable.

    The reason a model is unusable is logged as an error; ``status`` sees the fallback
    through the classifier's ``version``.
    """
    try:
        classifier = load_topic_model(model_dir, taxonomy)
    except ModelError as exc:
        logger.error("topic model unusable, falling back to keyword rules: %s", exc)
        return KeywordClassifier(taxonomy)
    logger.info("loaded topic model %s from %s", classifier.version, model_dir)
    return classifier
