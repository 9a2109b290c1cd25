"""Train the grouping model (ask model + pair model) from the project's paraphrase data.

In: ``config/training/paraphrases/*.jsonl``, one line per ask: an ``id``, its ``topic`` and
``topics``, the ``object`` the answer is about, the ``ask`` type, the public ``source`` and
4-8 ``wordings`` of it in the styles real senders use. Written for this project; nothing in
it comes from an evaluation folder. Out: ``models/grouping/asks.npz`` and ``pairs.json``
(see ``dedup.asks`` and ``dedup.pairs``) and ``metrics.json`` with the held-out figures.

How: asks whose id hashes into fold 0 of 5 (``modelfiles.is_held_out_ask``, the topic
trainer's rule too) are held out, fold 1 is the validation fold (``is_validation``) on which
the clustering thresholds are chosen (``split_asks``); the models are trained on the other
three folds. The ask model learns the ask type from the wordings. The pair model
learns from pairs: two wordings of one ask are the same question; wordings of two asks about
the same object (near misses), of the same ask type about another object, and of unrelated
asks are not. The ask distributions of the training pairs come from models that did not see
those asks (5-fold cross-fitting), so that the pair model does not over-trust them. The
clustering thresholds are chosen by simulated events built from the validation asks (most
asks asked once, some by several senders, near misses side by side), and the held-out asks
are then clustered the same way and scored with the pairwise F1 of SCORING.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ikz_inbox.dedup.analysis import Analysis
from ikz_inbox.dedup.asks import AskModel, ask_features
from ikz_inbox.dedup.pairs import FEATURE_NAMES, PairModel, PairWords
from ikz_inbox.dedup.similarity import (
    ASK_MODEL_FILE,
    PAIR_MODEL_FILE,
    DedupModel,
    Profile,
    pair_inputs,
    profile_of,
)
from ikz_inbox.errors import ConfigError
from ikz_inbox.modelfiles import ask_fold, is_held_out_ask, replacing_folder

logger = logging.getLogger(__name__)

CROSS_FIT_FOLDS = 5
# Feature occurrences below this are dropped from the ask vocabulary (noise, typos).
MIN_FEATURE_COUNT = 2
# Inverse regularisation strengths, chosen once on the training folds; kept here.
ASK_MODEL_C = 4.0
PAIR_MODEL_C = 1.0
# Word weights smaller than this are left out of the stored model (they change no decision).
WORD_WEIGHT_FLOOR = 0.01
# Negatives drawn per ask beyond the near misses: same ask type elsewhere, and unrelated.
SAME_ASK_NEGATIVES = 12
RANDOM_NEGATIVES = 6
# Hard negatives (other asks' wordings sharing the most words) were tried and dropped: they
# also catch the same question written twice into the data as two asks, and on the
# validation asks they made the model worse.
# Simulated events: asks per event, and how many wordings an ask gets. As at the real
# events, about three in four asks come from one sender only and a few from five or more,
# so an event of 70 asks holds about 100 questions.
EVENT_ASKS = 70
ASKED_BY = (1,) * 25 + (2,) * 4 + (3,) * 2 + (4, 5, 6)
SIMULATION_ROUNDS = 3
THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(14))
MEMBER_SHARES = (0.5, 0.67, 1.0)
REQUIRED_KEYS = ("id", "topic", "object", "ask", "wordings")


@dataclass(frozen=True)
class Ask:
    """One ask of the paraphrase data with its wordings."""

    id: str
    topic: str
    object: str
    ask: str
    wordings: tuple[str, ...]


@dataclass(frozen=True)
class GroupingTrainResult:
    """What training wrote and how it scored."""

    model_dir: Path
    asks: int
    wordings: int
    pairs: int
    metrics: dict[str, Any]


def is_validation(ask_id: str) -> bool:
    """Whether an ask belongs to the validation fold, on which the thresholds are chosen."""
    return ask_fold(ask_id) == 1


def split_asks(asks: Sequence[Ask]) -> tuple[list[Ask], list[Ask], list[Ask]]:
    """The training, validation and held-out asks, each in the order of ``asks``."""
    held = [ask for ask in asks if is_held_out_ask(ask.id)]
    validation = [ask for ask in asks if is_validation(ask.id)]
    train = [ask for ask in asks if not is_held_out_ask(ask.id) and not is_validation(ask.id)]
    return train, validation, held


def read_asks(folder: Path) -> list[Ask]:
    """Every ask of ``folder/*.jsonl``; ``ConfigError`` naming file and line when invalid."""
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise ConfigError(f"no paraphrase data (*.jsonl) in {folder}")
    asks: list[Ask] = []
    seen: set[str] = set()
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                ask = _parse_ask(path, number, line)
                if ask.id in seen:
                    raise ConfigError(f"{path}:{number}: ask id {ask.id!r} used twice")
                seen.add(ask.id)
                asks.append(ask)
    return asks


def _parse_ask(path: Path, number: int, line: str) -> Ask:
    try:
        row = json.loads(line)
        missing = [key for key in REQUIRED_KEYS if not row.get(key)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        wordings = tuple(str(text).strip() for text in row["wordings"] if str(text).strip())
        if len(wordings) < 2:
            raise ValueError("fewer than two wordings")
        return Ask(str(row["id"]), str(row["topic"]), str(row["object"]), str(row["ask"]), wordings)
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(f"{path}:{number}: invalid ask: {error}") from error


def data_hash(folder: Path) -> str:
    """sha256 over the paraphrase files, to tell which data a model was trained on."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.jsonl")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_grouping_model(
    paraphrase_dir: Path, base: DedupModel, model_dir: Path, *, seed: int = 13
) -> GroupingTrainResult:
    """Train and write the ask and pair models into ``model_dir``; return the figures.

    ``base`` supplies the analyser and lexicon (its own trained models are not used).
    """
    asks = read_asks(paraphrase_dir)
    train, validation, held = split_asks(asks)
    analyses = {text: base.analyse(text) for ask in asks for text in ask.wordings}
    labels = tuple(sorted({ask.ask for ask in asks}))
    ask_model = fit_ask_model(train, analyses, labels)
    profiles = _cross_fitted_profiles(train, analyses, labels, base, seed)
    pairs, targets = training_pairs(train, seed)
    inputs = [pair_inputs(profiles[a], profiles[b], base) for a, b in pairs]
    features = [features for features, _ in inputs]
    words = [words for _, words in inputs]
    asked = [(a[0], b[0]) for a, b in pairs]
    coefficients, word_weights, intercept = _fit_pair_model(features, words, asked, targets)
    draft = PairModel(coefficients, word_weights, intercept, 0.5, 0.5, {})
    learned = replace(base, asks=ask_model, pairs=draft)
    threshold, share, tuning_f1 = tune_thresholds(validation, learned, seed)
    info = {
        "data_sha256": data_hash(paraphrase_dir),
        "asks": len(asks),
        "train_asks": len(train),
        "validation_asks": len(validation),
        "held_out_asks": len(held),
        "training_pairs": len(pairs),
        "validation_pairwise_f1": round(tuning_f1, 4),
    }
    pair_model = PairModel(coefficients, word_weights, intercept, threshold, share, info)
    final = replace(base, asks=ask_model, pairs=pair_model)
    metrics = {
        **info,
        "threshold": threshold,
        "member_share": share,
        "held_out": evaluate_on_asks(held, final, seed),
        "held_out_ask_accuracy": _ask_accuracy(held, analyses, ask_model),
        "held_out_lexicon_blend": evaluate_on_asks(held, base, seed),
    }
    with replacing_folder(model_dir) as temp_dir:
        ask_model.save(temp_dir / ASK_MODEL_FILE)
        pair_model.save(temp_dir / PAIR_MODEL_FILE)
        (temp_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", "utf-8")
    logger.info("grouping model written to %s: %s", model_dir, metrics["held_out"])
    return GroupingTrainResult(model_dir, len(asks), len(analyses), len(pairs), metrics)


def fit_ask_model(
    asks: Sequence[Ask], analyses: dict[str, Analysis], labels: tuple[str, ...]
) -> AskModel:
    """A multinomial logistic regression from ask features to the ask type."""
    from sklearn.linear_model import LogisticRegression

    rows = [(ask_features(analyses[text].tokens), ask.ask) for ask in asks for text in ask.wordings]
    counts: dict[str, int] = defaultdict(int)
    for features, _ in rows:
        for feature in set(features):
            counts[feature] += 1
    vocabulary = {
        f: i for i, f in enumerate(sorted(f for f, n in counts.items() if n >= MIN_FEATURE_COUNT))
    }
    matrix = _sparse_rows([(features, 1.0) for features, _ in rows], vocabulary)
    targets = [labels.index(label) for _, label in rows]
    classifier = LogisticRegression(C=ASK_MODEL_C, max_iter=2000)
    classifier.fit(matrix, targets)
    coefficients = np.zeros((len(labels), len(vocabulary)))
    intercepts = np.full(len(labels), -30.0)  # an ask type no training row has
    for row, label_index in enumerate(classifier.classes_):
        coefficients[label_index] = classifier.coef_[row]
        intercepts[label_index] = classifier.intercept_[row]
    return AskModel(labels, vocabulary, coefficients, intercepts)


def _cross_fitted_profiles(
    asks: Sequence[Ask],
    analyses: dict[str, Analysis],
    labels: tuple[str, ...],
    base: DedupModel,
    seed: int,
) -> dict[tuple[str, int], Profile]:
    """The profiles of every training wording, with ask distributions from a model
    trained without that wording's ask."""
    folds: dict[int, list[Ask]] = defaultdict(list)
    order = sorted(asks, key=lambda ask: ask.id)
    random.Random(seed).shuffle(order)
    for position, ask in enumerate(order):
        folds[position % CROSS_FIT_FOLDS].append(ask)
    profiles: dict[tuple[str, int], Profile] = {}
    for fold, members in folds.items():
        others = [ask for other, group in folds.items() if other != fold for ask in group]
        fold_model = replace(base, asks=fit_ask_model(others, analyses, labels))
        for ask in members:
            for index, text in enumerate(ask.wordings):
                profiles[(ask.id, index)] = profile_of(analyses[text], fold_model)
    return profiles


_Wording = tuple[str, int]  # (ask id, wording index)


def training_pairs(
    asks: Sequence[Ask], seed: int
) -> tuple[list[tuple[_Wording, _Wording]], list[int]]:
    """Positive and negative wording pairs, as ((ask id, wording index), ...) and 1/0.

    Negatives: every pair of asks about the same object (near misses), asks of the same
    type about other objects and a few unrelated asks.
    """
    rng = random.Random(seed)
    pairs: list[tuple[tuple[str, int], tuple[str, int]]] = []
    targets: list[int] = []
    for ask in asks:
        for i, j in combinations(range(len(ask.wordings)), 2):
            pairs.append(((ask.id, i), (ask.id, j)))
            targets.append(1)
    by_object = _group(asks, lambda ask: ask.object)
    by_type = _group(asks, lambda ask: ask.ask)
    for ask in asks:
        negatives = [other for other in by_object[ask.object] if other.id > ask.id]
        same_type = [other for other in by_type[ask.ask] if other.object != ask.object]
        negatives += rng.sample(same_type, min(SAME_ASK_NEGATIVES, len(same_type)))
        negatives += rng.sample(list(asks), min(RANDOM_NEGATIVES, len(asks)))
        for other in negatives:
            if other.id == ask.id:
                continue
            pairs.append(
                (
                    (ask.id, rng.randrange(len(ask.wordings))),
                    (other.id, rng.randrange(len(other.wordings))),
                )
            )
            targets.append(0)
    return pairs, targets


def _group(asks: Iterable[Ask], key: Any) -> dict[str, list[Ask]]:
    groups: dict[str, list[Ask]] = defaultdict(list)
    for ask in asks:
        groups[key(ask)].append(ask)
    return groups


def _fit_pair_model(
    features: Sequence[tuple[float, ...]],
    words: Sequence[PairWords],
    asked: Sequence[tuple[str, str]],
    targets: Sequence[int],
) -> tuple[tuple[float, ...], dict[str, float], float]:
    """Logistic regression over the dense features and the pair's word keys; returns dense
    coefficients, word weights and intercept. A word key enters the model only when pairs of
    at least two different asks have it (``_word_vocabulary``), so that what it learns holds
    beyond the one ask it was written for."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    vocabulary = _word_vocabulary(words, asked)
    sparse = _sparse_rows([(p.keys, p.scale) for p in words], vocabulary)
    matrix = hstack([csr_matrix(np.array(features)), sparse]).tocsr()
    classifier = LogisticRegression(C=PAIR_MODEL_C, max_iter=5000, class_weight="balanced")
    classifier.fit(matrix, np.array(targets))
    weights = classifier.coef_[0]
    dense_part = len(FEATURE_NAMES)
    coefficients = tuple(float(value) for value in weights[:dense_part])
    word_weights = {
        key: round(float(weights[dense_part + i]), 5)
        for key, i in vocabulary.items()
        if abs(weights[dense_part + i]) >= WORD_WEIGHT_FLOOR
    }
    logger.info("pair model: %s", dict(zip(FEATURE_NAMES, coefficients, strict=True)))
    logger.info(
        "pair model: %s of %s word keys kept; strongest %s",
        len(word_weights),
        len(vocabulary),
        sorted(word_weights.items(), key=lambda item: -abs(item[1]))[:20],
    )
    return coefficients, word_weights, float(classifier.intercept_[0])


def _sparse_rows(rows: Sequence[tuple[Sequence[str], float]], vocabulary: dict[str, int]) -> Any:
    """A CSR matrix with one row per (keys, value): ``value`` in the columns of the keys the
    vocabulary knows (a key named twice counts once)."""
    from scipy.sparse import csr_matrix

    data: list[float] = []
    indices: list[int] = []
    pointers = [0]
    for keys, value in rows:
        columns = sorted({vocabulary[key] for key in keys if key in vocabulary})
        indices.extend(columns)
        data.extend([value] * len(columns))
        pointers.append(len(indices))
    return csr_matrix((data, indices, pointers), shape=(len(rows), len(vocabulary)))


def _word_vocabulary(
    words: Sequence[PairWords], asked: Sequence[tuple[str, str]]
) -> dict[str, int]:
    """The word keys that at least ``MIN_FEATURE_COUNT`` pairs have, of at least two
    different asks between them."""
    first_ask: dict[str, str] = {}
    counts: dict[str, int] = defaultdict(int)
    spread: set[str] = set()
    for pair, (ask_a, ask_b) in zip(words, asked, strict=True):
        for key in pair.keys:
            counts[key] += 1
            if key not in spread:
                seen = first_ask.setdefault(key, ask_a)
                if seen != ask_a or ask_b != ask_a:
                    spread.add(key)
    kept = (key for key in spread if counts[key] >= MIN_FEATURE_COUNT)
    return {key: i for i, key in enumerate(sorted(kept))}


def simulated_events(asks: Sequence[Ask], seed: int) -> list[list[tuple[str, str]]]:
    """Events of ``EVENT_ASKS`` asks each, near misses (same object) side by side; each ask
    asked 1-5 times. Every question is (text, ask id)."""
    rng = random.Random(seed)
    by_object = list(_group(asks, lambda ask: ask.object).values())
    rng.shuffle(by_object)
    ordered = [ask for group in by_object for ask in group]
    events = []
    for start in range(0, len(ordered), EVENT_ASKS):
        questions: list[tuple[str, str]] = []
        for ask in ordered[start : start + EVENT_ASKS]:
            count = min(rng.choice(ASKED_BY), len(ask.wordings))
            questions.extend((text, ask.id) for text in rng.sample(list(ask.wordings), count))
        rng.shuffle(questions)
        events.append(questions)
    return events


def evaluate_on_asks(asks: Sequence[Ask], model: DedupModel, seed: int) -> dict[str, float]:
    """Pairwise precision/recall/F1 of clustering simulated events of ``asks``."""
    from ikz_inbox.dedup.cluster import cluster_questions
    from ikz_inbox.types import DedupItem

    tp = fp = gold = 0
    for round_ in range(SIMULATION_ROUNDS):
        for event_index, questions in enumerate(simulated_events(asks, seed + round_)):
            items = [
                DedupItem(
                    question_id=i + 1,
                    text=text,
                    topic="",  # the learned similarity ignores topics; the blend then too
                    asker=f"a{i}",
                    event_id=f"e{event_index}",
                )
                for i, (text, _) in enumerate(questions)
            ]
            clusters = cluster_questions(items, model)
            for (i, (_, ask_a)), (j, (_, ask_b)) in combinations(enumerate(questions), 2):
                same_ask = ask_a == ask_b
                gold += same_ask
                if clusters[i + 1] == clusters[j + 1]:
                    tp += same_ask
                    fp += not same_ask
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def tune_thresholds(
    asks: Sequence[Ask], model: DedupModel, seed: int
) -> tuple[float, float, float]:
    """The threshold and member share with the best simulated pairwise F1 on ``asks``."""
    assert model.pairs is not None
    best = (-1.0, 0.5, 0.5)
    for share in MEMBER_SHARES:
        for threshold in THRESHOLDS:
            pairs = replace(model.pairs, threshold=threshold, member_share=share)
            f1 = evaluate_on_asks(asks, replace(model, pairs=pairs), seed)["f1"]
            if f1 > best[0]:
                best = (f1, threshold, share)
    return best[1], best[2], best[0]


def _ask_accuracy(asks: Sequence[Ask], analyses: dict[str, Analysis], model: AskModel) -> float:
    hits = total = 0
    for ask in asks:
        for text in ask.wordings:
            distribution = model.distribution(analyses[text].tokens)
            predicted = model.labels[max(range(len(distribution)), key=distribution.__getitem__)]
            hits += predicted == ask.ask
            total += 1
    return round(hits / total, 4) if total else 0.0
