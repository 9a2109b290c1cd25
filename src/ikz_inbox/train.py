"""Training of the spaCy topic classifier.

In: the training directory (``config/training/*.jsonl``, one ``{"text", "topic", "topics"}``
object per line, and ``config/training/paraphrases/*.jsonl``, one ask per line with its
``wordings``), the taxonomy, the spaCy config (``config/spacy/topics.cfg``) and optional
staff corrections. Out: a spaCy pipeline (blank ``de`` + multi-label ``textcat``) written
atomically to ``output_dir`` with ``ikz-model.json`` (versions, data hash, labels, held-out
metrics, counts, confidence calibration), and a :class:`TrainResult` holding the same figures.

Two components read the same features: ``textcat``, a softmax over the topics trained on
the primary ``topic`` alone (it decides the primary topic and the confidence), and
``topics_multilabel``, one sigmoid per topic trained on all of an example's ``topics`` (it
decides the secondary topics). Training the softmax on secondary topics as well cost
primary accuracy on unseen asks: the subject's domain then outvoted the ask.

The loop is ours, driven by the config: ``nlp.initialize`` and ``nlp.update`` with the
``[training]`` batcher, optimizer, dropout, max_epochs and seed. Held out for the metrics
and the calibration: a stratified share (``[ikz] holdout_fraction``) of the topic files and
every paraphrase ask in the held-out fold (``modelfiles.is_held_out_ask``, which the
grouping trainer uses too, so neither trains on the other's test asks). With
``[ikz] retrain_on_all`` the shipped model is then trained again, from the same seed, on
every example; the calibration fitted on the held-out split is kept.

Run ``python -m ikz_inbox.train`` to rebuild ``models/topics`` with the defaults.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ikz_inbox.classify import (
    MODEL_FORMAT_VERSION,
    MODEL_INFO_FILE,
    MULTILABEL_PIPE,
    MULTILABEL_PREFIX,
    Calibration,
    load_taxonomy,
    normalise_text,
    rank_topics,
    register_architectures,
    set_idf_weights,
)
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.modelfiles import is_held_out_ask, replacing_folder
from ikz_inbox.types import Topic

logger = logging.getLogger(__name__)

Example = tuple[str, str]  # (text, topic id)
# Sub-directory of the training directory with paraphrase asks (one ask, many wordings).
PARAPHRASE_DIR = "paraphrases"


@dataclass(frozen=True)
class TrainingExample:
    """One labelled text: primary topic, every topic (primary first), and the paraphrase
    ask it words (None for the topic files and corrections)."""

    text: str
    topic: str
    topics: tuple[str, ...]
    ask_id: str | None = None


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced; the same figures are in ``ikz-model.json``."""

    format_version: int
    model_version: str
    data_sha256: str
    trained_at: str  # ISO 8601, UTC
    labels: tuple[str, ...]
    accuracy: float  # on the held-out split
    macro_f1: float
    per_topic_f1: Mapping[str, float]
    counts: Mapping[str, int]  # examples, train, heldout, corrections, per-topic "topic:<id>"
    train_seconds: float
    output_dir: Path
    # accuracy and macro_f1 on the held-out paraphrase asks alone (unseen asks)
    heldout_asks: Mapping[str, float] = field(default_factory=dict)
    # secondary topics on the held-out split: micro precision, recall, F1
    secondary: Mapping[str, float] = field(default_factory=dict)
    # the review queue on the held-out split: threshold, wrong, caught, flagged (shares)
    review: Mapping[str, float] = field(default_factory=dict)
    calibration: tuple[tuple[float, float], ...] = ()
    secondary_min_score: float = 0.5


@dataclass(frozen=True)
class _Settings:
    """The ``[ikz]`` section of the training config."""

    holdout_fraction: float
    retrain_on_all: bool
    correction_repeats: int
    secondary_min_score: float
    review_threshold: float
    review_catch_target: float


def train_topic_model(
    training_dir: Path,
    taxonomy: Sequence[Topic],
    output_dir: Path,
    *,
    config_path: Path,
    extra_examples: Sequence[tuple[str, str]] = (),
    seed: int = 0,
) -> TrainResult:
    """Train the topic textcat, measure it on a held-out split and save it atomically.

    ``extra_examples`` are (text, topic) staff corrections; each is repeated
    ``[ikz] correction_repeats`` times in training and never held out. ``seed`` replaces
    ``[system] seed`` of the config; the same data, config and seed give the same metrics.
    """
    started = time.perf_counter()
    labels = tuple(topic.id for topic in taxonomy)
    files = training_files(training_dir)
    examples = read_training_data(training_dir, labels)
    corrections = _check_corrections(extra_examples, set(labels))
    if not examples:
        raise ModelError(f"no training examples in {training_dir}")
    config, settings = _load_config(config_path, seed)
    train_part, heldout = split_training_data(examples, settings.holdout_fraction, seed)
    extra = [
        TrainingExample(text, topic, (topic,))
        for text, topic in corrections
        for _ in range(settings.correction_repeats)
    ]
    nlp, optimizer = _train(config, labels, train_part + extra, seed, settings)
    scored = _score_heldout(nlp, optimizer, heldout, labels, settings)
    metrics = score_predictions([ex.topic for ex in heldout], [s.topic for s in scored], labels)
    asks = [(ex.topic, s.topic) for ex, s in zip(heldout, scored, strict=True) if ex.ask_id]
    ask_metrics = score_predictions([g for g, _ in asks], [p for _, p in asks], labels)
    calibration = fit_calibration(
        [s.raw for s in scored],
        [s.topic == ex.topic for ex, s in zip(heldout, scored, strict=True)],
        settings.review_threshold,
        settings.review_catch_target,
    )
    review = review_figures(
        [calibration(s.raw) for s in scored],
        [s.topic == ex.topic for ex, s in zip(heldout, scored, strict=True)],
        settings.review_threshold,
    )
    secondary = score_secondary([ex.topics[1:] for ex in heldout], [s.secondary for s in scored])
    if settings.retrain_on_all and heldout:
        nlp, optimizer = _train(config, labels, examples + extra, seed, settings)
    data_sha = _data_sha256(training_dir, files, corrections)
    trained_at = datetime.now(UTC)
    result = TrainResult(
        format_version=MODEL_FORMAT_VERSION,
        model_version=f"topics-{trained_at:%Y-%m-%d}-{data_sha[:8]}",
        data_sha256=data_sha,
        trained_at=trained_at.isoformat(timespec="seconds"),
        labels=labels,
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        per_topic_f1={label: metrics[f"f1:{label}"] for label in labels},
        counts=_counts(examples, train_part, heldout, corrections, labels),
        train_seconds=round(time.perf_counter() - started, 2),
        output_dir=output_dir,
        heldout_asks={
            "asks": len({ex.ask_id for ex in heldout if ex.ask_id}),
            "questions": len(asks),
            "accuracy": ask_metrics["accuracy"],
            "macro_f1": ask_metrics["macro_f1"],
        },
        secondary=secondary,
        review=review,
        calibration=calibration.knots,
        secondary_min_score=settings.secondary_min_score,
    )
    _save_atomically(nlp, optimizer, result, output_dir)
    logger.info(
        "trained %s: accuracy %.3f, macro-F1 %.3f on %d held-out questions "
        "(unseen asks: accuracy %.3f, macro-F1 %.3f on %d); review catches %.0f %% of wrong "
        "topics, flags %.0f %%",
        result.model_version,
        result.accuracy,
        result.macro_f1,
        len(heldout),
        ask_metrics["accuracy"],
        ask_metrics["macro_f1"],
        len(asks),
        100 * review["caught"],
        100 * review["flagged"],
    )
    return result


# --------------------------------------------------------------------------- data


def training_files(training_dir: Path) -> list[Path]:
    """The topic files, then the paraphrase files, each sorted by name."""
    topic_files = sorted(training_dir.glob("*.jsonl"))
    return topic_files + sorted((training_dir / PARAPHRASE_DIR).glob("*.jsonl"))


def read_training_data(training_dir: Path, labels: Collection[str]) -> list[TrainingExample]:
    """Read the topic files (one text per line) and the paraphrase files (one ask per
    line, each wording an example), in file order, without repeated texts.

    Raises ConfigError naming file, line and key for a bad line or an unknown topic.
    """
    known = set(labels)
    examples: list[TrainingExample] = []
    for path in training_files(training_dir):
        paraphrases = path.parent.name == PARAPHRASE_DIR
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            if paraphrases:
                examples.extend(_parse_ask(path, number, line, known))
            else:
                examples.append(_parse_line(path, number, line, known))
    return _dedupe(examples)


def read_training_examples(training_dir: Path, labels: Collection[str]) -> list[Example]:
    """(text, primary topic) pairs of ``read_training_data``."""
    return [(ex.text, ex.topic) for ex in read_training_data(training_dir, labels)]


def _load_record(where: str, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: not a JSON object")
    return record


def _topics_of(where: str, record: Mapping[str, Any], labels: set[str]) -> tuple[str, ...]:
    """Primary topic first, then the other ``topics`` in their order, without repeats."""
    topic = record.get("topic")
    if topic not in labels:
        raise ConfigError(f"{where}: key 'topic' {topic!r} is not in the taxonomy")
    others = record.get("topics", [])
    if not isinstance(others, list) or any(item not in labels for item in others):
        raise ConfigError(f"{where}: key 'topics' {others!r} has a topic not in the taxonomy")
    return tuple(dict.fromkeys([str(topic), *(str(item) for item in others)]))


def _parse_line(path: Path, number: int, line: str, labels: set[str]) -> TrainingExample:
    where = f"{path}:{number}"
    record = _load_record(where, line)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: key 'text' must be a non-empty string")
    topics = _topics_of(where, record, labels)
    return TrainingExample(text.strip(), topics[0], topics)


def _parse_ask(path: Path, number: int, line: str, labels: set[str]) -> list[TrainingExample]:
    where = f"{path}:{number}"
    record = _load_record(where, line)
    ask_id, wordings = record.get("id"), record.get("wordings")
    if not isinstance(ask_id, str) or not ask_id.strip():
        raise ConfigError(f"{where}: key 'id' must be a non-empty string")
    if not isinstance(wordings, list) or not all(isinstance(w, str) for w in wordings):
        raise ConfigError(f"{where}: key 'wordings' must be a list of strings")
    topics = _topics_of(where, record, labels)
    return [
        TrainingExample(wording.strip(), topics[0], topics, ask_id)
        for wording in wordings
        if wording.strip()
    ]


def _dedupe(examples: Iterable[TrainingExample]) -> list[TrainingExample]:
    """Drop repeated texts (after normalisation) so none sits in both train and held-out."""
    seen: dict[str, str] = {}
    unique: list[TrainingExample] = []
    for example in examples:
        key = normalise_text(example.text)
        if key in seen:
            if seen[key] != example.topic:
                logger.warning(
                    "training text with two topics %s/%s: %.60s",
                    seen[key],
                    example.topic,
                    example.text,
                )
            continue
        seen[key] = example.topic
        unique.append(example)
    return unique


def _check_corrections(corrections: Sequence[tuple[str, str]], labels: set[str]) -> list[Example]:
    for text, topic in corrections:
        if topic not in labels:
            raise ConfigError(f"correction topic {topic!r} is not in the taxonomy: {text[:60]!r}")
    return [(text.strip(), topic) for text, topic in corrections if text.strip()]


def split_examples(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Hold out ``fraction`` of each topic (at least one if it has two or more examples)."""
    rng = random.Random(seed)
    by_topic: dict[str, list[Example]] = {}
    for example in examples:
        by_topic.setdefault(example[1], []).append(example)
    train: list[Example] = []
    heldout: list[Example] = []
    for topic in sorted(by_topic):
        group = list(by_topic[topic])
        rng.shuffle(group)
        size = max(1, round(len(group) * fraction)) if len(group) > 1 and fraction > 0 else 0
        heldout.extend(group[:size])
        train.extend(group[size:])
    return train, heldout


def split_training_data(
    examples: Sequence[TrainingExample], fraction: float, seed: int
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Held out: every wording of the asks in the held-out fold (``is_held_out_ask``) and a
    stratified ``fraction`` of the topic-file examples (``split_examples``)."""
    singles = [ex for ex in examples if ex.ask_id is None]
    by_pair = {(ex.text, ex.topic): ex for ex in singles}
    train_pairs, heldout_pairs = split_examples(
        [(ex.text, ex.topic) for ex in singles], fraction, seed
    )
    train = [by_pair[pair] for pair in train_pairs]
    heldout = [by_pair[pair] for pair in heldout_pairs]
    for example in examples:
        if example.ask_id is not None:
            (heldout if is_held_out_ask(example.ask_id) else train).append(example)
    return train, heldout


def _data_sha256(training_dir: Path, files: Sequence[Path], corrections: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(training_dir).as_posix()
        digest.update(name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(list(corrections), ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _counts(
    examples: Sequence[TrainingExample],
    train: Sequence[TrainingExample],
    heldout: Sequence[TrainingExample],
    corrections: Sequence[Example],
    labels: Sequence[str],
) -> dict[str, int]:
    per_topic = Counter(example.topic for example in examples)
    counts = {
        "examples": len(examples),
        "train": len(train),
        "heldout": len(heldout),
        "corrections": len(corrections),
        "paraphrase_asks": len({ex.ask_id for ex in examples if ex.ask_id}),
        "paraphrase_examples": sum(1 for ex in examples if ex.ask_id),
        "heldout_asks": len({ex.ask_id for ex in heldout if ex.ask_id}),
        "with_secondary": sum(1 for ex in examples if len(ex.topics) > 1),
    }
    counts.update({f"topic:{label}": per_topic.get(label, 0) for label in labels})
    return counts


# --------------------------------------------------------------------------- spaCy


def _load_config(config_path: Path, seed: int) -> tuple[Any, _Settings]:
    from spacy.util import load_config

    try:
        config = load_config(config_path, overrides={"system.seed": seed}, interpolate=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"spaCy config {config_path}: {exc}") from exc
    section = config.pop("ikz", {})
    try:
        settings = _Settings(
            holdout_fraction=float(section.get("holdout_fraction", 0.2)),
            retrain_on_all=bool(section.get("retrain_on_all", True)),
            correction_repeats=int(section.get("correction_repeats", 5)),
            secondary_min_score=float(section.get("secondary_min_score", 0.5)),
            review_threshold=float(section.get("review_threshold", 0.5)),
            review_catch_target=float(section.get("review_catch_target", 0.8)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"spaCy config {config_path}: bad [ikz] value: {exc}") from exc
    if (
        not 0.0 <= settings.holdout_fraction < 1.0
        or settings.correction_repeats < 1
        or not 0.0 < settings.secondary_min_score <= 1.0
        or not 0.0 < settings.review_threshold < 1.0
        or not 0.0 <= settings.review_catch_target <= 1.0
    ):
        raise ConfigError(f"spaCy config {config_path}: [ikz] values out of range")
    return config, settings


def _train(
    config: Any,
    labels: Sequence[str],
    examples: Sequence[TrainingExample],
    seed: int,
    settings: _Settings,
) -> tuple[Any, Any]:
    """Build a fresh pipeline from ``config`` and train it on ``examples``.

    Returns (nlp, optimizer); the optimizer holds the parameter averages used for saving.
    """
    from spacy.training import Example as SpacyExample
    from spacy.util import load_model_from_config, registry
    from thinc.api import fix_random_seed

    register_architectures()
    fix_random_seed(seed)
    config = copy.deepcopy(config)
    # Each component's own labels: left to infer them, both would take every key of the
    # shared doc.cats (topic ids and "has:" labels).
    config["initialize"]["components"] = {
        "textcat": {"labels": list(labels)},
        MULTILABEL_PIPE: {"labels": [MULTILABEL_PREFIX + label for label in labels]},
    }
    if MULTILABEL_PIPE not in config["nlp"]["pipeline"]:
        del config["initialize"]["components"][MULTILABEL_PIPE]
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    training = nlp.config.interpolate()["training"]
    tools = registry.resolve({"batcher": training["batcher"], "optimizer": training["optimizer"]})
    textcat: Any = nlp.get_pipe("textcat")
    multi: Any = nlp.get_pipe(MULTILABEL_PIPE) if MULTILABEL_PIPE in nlp.pipe_names else None
    data = [
        _make_example(nlp, SpacyExample, ex, labels, multi=multi is not None) for ex in examples
    ]
    optimizer = nlp.initialize(get_examples=lambda: data, sgd=tools["optimizer"])
    # IDF over distinct texts: repeated staff corrections must not lower their own weight.
    distinct = list({example.reference.text: example.reference for example in data}.values())
    for pipe in (textcat, multi):
        if pipe is not None:
            set_idf_weights(pipe.model, distinct)
    rng = random.Random(seed)
    for epoch in range(int(training["max_epochs"])):
        rng.shuffle(data)
        losses: dict[str, float] = {}
        for batch in tools["batcher"](data):
            nlp.update(batch, drop=float(training["dropout"]), sgd=optimizer, losses=losses)
        logger.debug("epoch %s loss %.4f", epoch, losses.get("textcat", 0.0))
    return nlp, optimizer


def _make_example(
    nlp: Any, factory: Any, example: TrainingExample, labels: Sequence[str], *, multi: bool
) -> Any:
    """The spaCy example: one-hot on the primary topic for the softmax (``<id>``) and, with
    the multi-label component, 1.0 for every topic of the example (``has:<id>``)."""
    cats = {label: 1.0 if label == example.topic else 0.0 for label in labels}
    if multi:
        cats.update({MULTILABEL_PREFIX + label: float(label in example.topics) for label in labels})
    return factory.from_dict(nlp.make_doc(normalise_text(example.text)), {"cats": cats})


@dataclass(frozen=True)
class _Scored:
    topic: str
    raw: float
    secondary: tuple[str, ...]


def _score_heldout(
    nlp: Any,
    optimizer: Any,
    heldout: Sequence[TrainingExample],
    labels: Sequence[str],
    settings: _Settings,
) -> list[_Scored]:
    """Primary topic, raw score and secondary topics of the (averaged) model per example."""
    if not heldout:
        return []
    with nlp.use_params(optimizer.averages):
        docs = list(nlp.pipe([normalise_text(ex.text) for ex in heldout]))
    ranked = [rank_topics(dict(doc.cats), labels, settings.secondary_min_score) for doc in docs]
    return [_Scored(topic, raw, secondary) for topic, raw, secondary in ranked]


def fit_calibration(
    raws: Sequence[float], correct: Sequence[bool], threshold: float, catch_target: float
) -> Calibration:
    """A monotone raw-score-to-confidence map whose ``threshold`` sits at the raw score
    below which ``catch_target`` of the wrong predictions fall.

    Knots (0, 0), (cut, threshold), (1, 1): linear on both sides, so the order of the raw
    scores is kept and a question is flagged for review (confidence < threshold) exactly
    when its raw score is below ``cut``. Without wrong predictions the cut is the lowest raw
    score (nothing needs catching).
    """
    wrong = sorted(raw for raw, ok in zip(raws, correct, strict=True) if not ok)
    if wrong and catch_target > 0:
        index = min(len(wrong) - 1, max(0, math.ceil(catch_target * len(wrong)) - 1))
        above = [raw for raw in raws if raw > wrong[index]]
        # midway to the next raw score above it (just above it when there is none)
        cut = (wrong[index] + min(above)) / 2 if above else wrong[index] + 1e-4
    else:
        cut = min(raws) if raws else threshold
    cut = min(max(cut, 1e-3), 1 - 1e-3)
    return Calibration(((0.0, 0.0), (round(cut, 6), threshold), (1.0, 1.0)))


def review_figures(
    confidences: Sequence[float], correct: Sequence[bool], threshold: float
) -> dict[str, float]:
    """What the review queue does at ``threshold``: the share of wrong topics it catches
    and the share of all questions it flags (plus the counts behind them)."""
    flagged = [conf < threshold for conf in confidences]
    wrong = [not ok for ok in correct]
    caught = sum(1 for f, w in zip(flagged, wrong, strict=True) if f and w)
    return {
        "threshold": threshold,
        "questions": len(confidences),
        "wrong": sum(wrong),
        "caught": round(caught / sum(wrong), 4) if any(wrong) else 1.0,
        "flagged": round(sum(flagged) / len(flagged), 4) if flagged else 0.0,
    }


def score_secondary(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro precision, recall and F1 of the secondary topics over all examples."""
    true_pos = sum(len(set(g) & set(p)) for g, p in zip(gold, predicted, strict=True))
    gold_n = sum(len(set(g)) for g in gold)
    pred_n = sum(len(set(p)) for p in predicted)
    precision = true_pos / pred_n if pred_n else 0.0
    recall = true_pos / gold_n if gold_n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "gold": gold_n,
        "predicted": pred_n,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def score_predictions(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> dict[str, float]:
    """Accuracy, macro-F1 (over labels present in ``gold``) and ``f1:<label>`` per label."""
    metrics: dict[str, float] = {}
    for label in labels:
        true_pos = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        gold_n, pred_n = gold.count(label), list(predicted).count(label)
        denominator = gold_n + pred_n
        metrics[f"f1:{label}"] = round(2 * true_pos / denominator, 4) if denominator else 0.0
    present = [label for label in labels if label in gold]
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    metrics["accuracy"] = round(correct / len(gold), 4) if gold else 0.0
    macro = sum(metrics[f"f1:{label}"] for label in present) / len(present) if present else 0.0
    metrics["macro_f1"] = round(macro, 4)
    return metrics


def _save_atomically(nlp: Any, optimizer: Any, result: TrainResult, output_dir: Path) -> None:
    """Write the pipeline and ``ikz-model.json`` to a temp dir, then swap it into place."""
    with replacing_folder(output_dir) as temp_dir:
        nlp.meta.update(
            name="ikz_topics",
            version="1.0.0",
            description=f"ikz-inbox topic classifier {result.model_version}",
        )
        with nlp.use_params(optimizer.averages):
            nlp.to_disk(temp_dir)
        info = {key: value for key, value in asdict(result).items() if key != "output_dir"}
        info["calibration"] = Calibration(result.calibration).to_json()
        text = json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True)
        (temp_dir / MODEL_INFO_FILE).write_text(text + "\n", encoding="utf-8")


def main(argv: Sequence[str] = ()) -> int:
    """Train with the repository defaults (``python -m ikz_inbox.train [ROOT]``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = Path(argv[0]) if argv else Path.cwd()
    result = train_topic_model(
        root / "config" / "training",
        load_taxonomy(root / "config" / "taxonomy.toml"),
        root / "models" / "topics",
        config_path=root / "config" / "spacy" / "topics.cfg",
    )
    logger.info("wrote %s (%.1f s)", result.output_dir, result.train_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
