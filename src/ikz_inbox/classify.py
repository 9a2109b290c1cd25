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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.textnorm import fold
from ikz_inbox.types import Topic, TopicPrediction, TopicSource

logger = logging.getLogger(__name__)

FALLBACK_TOPIC = "sonstiges"
RULES_VERSION = "rules-fallback"
MODEL_INFO_FILE = "ikz-model.json"
# Bumped whenever the saved model layout or the text normalisation changes.
MODEL_FORMAT_VERSION = 1
# Confidence reported when no keyword matches: low enough that staff review it first.
NO_MATCH_CONFIDENCE = 0.1
# A secondary topic must get at least this share of the model's probability mass.
SECONDARY_MIN_SCORE = 0.25
# Texts per nlp.pipe batch; short questions, so larger batches only cost memory.
PIPE_BATCH_SIZE = 64

_TOKEN_RE = re.compile(r"[a-z0-9§]+")
_SPACES_RE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Lower-case, fold umlauts to ae/oe/ue and ß to ss, and squeeze white space.

    Applied to every text before it reaches the model, in training and in prediction,
    so that "Foerderquote", "Förderquote" and "FÖRDERQUOTE" are one feature.
    """
    composed = fold(text)
    return _SPACES_RE.sub(" ", composed).strip()


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
    words = tuple(_TOKEN_RE.findall(normalise_text(text.lstrip("*="))))
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
        tokens = _TOKEN_RE.findall(normalise_text(text))
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
# Texts whose features are kept per model (about 2.5 KB each, in every process that loads
# the model): covers the training set (about 1,000 texts, reused by every epoch) and the
# repeats of recent questions; more only costs memory in the long-running workers.
FEATURE_CACHE_SIZE = 4096
# Distinct words whose hashed character n-grams are kept per model (about 0.5 KB each):
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
    from spacy.util import registry

    if not registry.has("architectures", CHAR_NGRAM_ARCHITECTURE):
        registry.architectures.register(CHAR_NGRAM_ARCHITECTURE, func=_build_char_ngram_bow)


def _build_char_ngram_bow(
    exclusive_classes: bool,
    min_n: int,
    max_n: int,
    word_ngram_size: int,
    length: int = 262144,
    nO: int | None = None,
) -> Any:
    from thinc.api import Logistic, Model, SparseLinear_v2, chain, softmax_activation

    if not 1 <= min_n <= max_n or word_ngram_size < 1 or length < 1:
        raise ValueError(f"{CHAR_NGRAM_ARCHITECTURE}: bad n-gram sizes or length")
    # Per-model caches: nlp.update copies docs each step, so features are keyed by words.
    word_keys = functools.lru_cache(maxsize=WORD_KEYS_CACHE_SIZE)(
        functools.partial(_word_keys, min_n=min_n, max_n=max_n)
    )
    features = functools.lru_cache(maxsize=FEATURE_CACHE_SIZE)(
        functools.partial(_word_features, word_keys=word_keys, word_ngram_size=word_ngram_size)
    )
    extract: Any = Model(
        "extract_char_ngrams",
        functools.partial(_extract_forward, features=features),
        attrs={"min_n": min_n, "max_n": max_n, "word_ngram_size": word_ngram_size},
    )
    output = softmax_activation() if exclusive_classes else Logistic()
    sparse = SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())
    model: Any = chain(chain(extract, sparse), output)
    if nO is not None:
        model.set_dim("nO", nO)
    model.attrs["multi_label"] = not exclusive_classes
    return model


def _extract_forward(
    model: Any, docs: Sequence[Any], is_train: bool, *, features: Any
) -> tuple[Any, Any]:
    pairs = [features(tuple(token.lower_ for token in doc if not token.is_punct)) for doc in docs]
    xp = model.ops.xp
    keys = xp.concatenate([pair[0] for pair in pairs]) if pairs else xp.zeros(0, "uint64")
    values = xp.concatenate([pair[1] for pair in pairs]) if pairs else xp.zeros(0, "f")
    lengths = model.ops.asarray([len(pair[0]) for pair in pairs], dtype="int32")

    def backprop(d_output: Any) -> list[Any]:
        return []

    return (keys, model.ops.asarray(values, dtype="f"), lengths), backprop


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
    """A trained spaCy ``textcat`` pipeline (as written by ``train_topic_model``)."""

    def __init__(self, nlp: Any, info: dict[str, Any]) -> None:
        self._nlp = nlp
        self._version = str(info["model_version"])
        self._labels = tuple(str(label) for label in info["labels"])

    @property
    def version(self) -> str:
        """The model version, e.g. ``topics-2026-11-25-1a2b3c4d``."""
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        """The topic ids the model can predict."""
        return self._labels

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        """Classify the texts in batches with ``nlp.pipe``."""
        normalised = [normalise_text(text) for text in texts]
        docs = self._nlp.pipe(normalised, batch_size=PIPE_BATCH_SIZE)
        return [self._prediction(doc.cats) for doc in docs]

    def _prediction(self, cats: dict[str, float]) -> TopicPrediction:
        ranked = sorted(cats.items(), key=lambda item: -item[1])
        topic, score = ranked[0]
        secondary = tuple(label for label, value in ranked[1:] if value >= SECONDARY_MIN_SCORE)
        return TopicPrediction(
            topic=topic,
            confidence=round(float(score), 4),
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
    if not isinstance(info, dict) or info.get("format_version") != MODEL_FORMAT_VERSION:
        found = info.get("format_version") if isinstance(info, dict) else None
        raise ModelError(
            f"topic model {model_dir}: format version {found!r}, expected {MODEL_FORMAT_VERSION}"
        )
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
