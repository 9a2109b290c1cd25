"""Training of the spaCy topic classifier.

In: the training directory (``config/training/*.jsonl``, one ``{"text", "topic", "topics"}``
object per line), the taxonomy, the spaCy config (``config/spacy/topics.cfg``) and optional
staff corrections. Out: a spaCy pipeline (blank ``de`` + exclusive ``textcat``) written
atomically to ``output_dir`` with ``ikz-model.json`` (versions, data hash, labels, held-out
metrics, counts), and a :class:`TrainResult` holding the same figures.

The loop is ours, driven by the config: ``nlp.initialize`` and ``nlp.update`` with the
``[training]`` batcher, optimizer, dropout, max_epochs and seed. A stratified share
(``[ikz] holdout_fraction``) is held out for the metrics; with ``[ikz] retrain_on_all`` the
shipped model is then trained again, from the same seed, on every example.

Run ``python -m ikz_inbox.train`` to rebuild ``models/topics`` with the defaults.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ikz_inbox.classify import (
    MODEL_FORMAT_VERSION,
    MODEL_INFO_FILE,
    load_taxonomy,
    normalise_text,
    register_architectures,
)
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.types import Topic

logger = logging.getLogger(__name__)

Example = tuple[str, str]  # (text, topic id)
# mkdtemp creates 0700; the worker may run as another user than the trainer.
MODEL_DIR_MODE = 0o755


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


@dataclass(frozen=True)
class _Settings:
    """The ``[ikz]`` section of the training config."""

    holdout_fraction: float
    retrain_on_all: bool
    correction_repeats: int


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
    files = sorted(training_dir.glob("*.jsonl"))
    examples = read_training_examples(training_dir, labels)
    corrections = _check_corrections(extra_examples, set(labels))
    if not examples:
        raise ModelError(f"no training examples in {training_dir}")
    config, settings = _load_config(config_path, seed)
    train_part, heldout = split_examples(examples, settings.holdout_fraction, seed)
    extra = [example for example in corrections for _ in range(settings.correction_repeats)]
    nlp, optimizer = _train(config, labels, train_part + extra, seed)
    metrics = _evaluate(nlp, optimizer, heldout, labels)
    if settings.retrain_on_all and heldout:
        nlp, optimizer = _train(config, labels, examples + extra, seed)
    data_sha = _data_sha256(files, corrections)
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
    )
    _save_atomically(nlp, optimizer, result, output_dir)
    logger.info(
        "trained %s: accuracy %.3f, macro-F1 %.3f on %d held-out questions",
        result.model_version,
        result.accuracy,
        result.macro_f1,
        len(heldout),
    )
    return result


# --------------------------------------------------------------------------- data


def read_training_examples(training_dir: Path, labels: Collection[str]) -> list[Example]:
    """Read (text, topic) pairs from ``training_dir/*.jsonl`` in file order, without repeats.

    Raises ConfigError naming file, line and key for a bad line or an unknown topic.
    """
    known = set(labels)
    examples: list[Example] = []
    for path in sorted(training_dir.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                examples.append(_parse_line(path, number, line, known))
    return _dedupe(examples)


def _parse_line(path: Path, number: int, line: str, labels: set[str]) -> Example:
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ConfigError(f"{where}: not JSON: {exc}") from exc
    text, topic = record.get("text"), record.get("topic")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: key 'text' must be a non-empty string")
    if topic not in labels:
        raise ConfigError(f"{where}: key 'topic' {topic!r} is not in the taxonomy")
    return text.strip(), str(topic)


def _dedupe(examples: Iterable[Example]) -> list[Example]:
    """Drop repeated texts (after normalisation) so none sits in both train and held-out."""
    seen: dict[str, str] = {}
    unique: list[Example] = []
    for text, topic in examples:
        key = normalise_text(text)
        if key in seen:
            if seen[key] != topic:
                logger.warning("training text with two topics %s/%s: %.60s", seen[key], topic, text)
            continue
        seen[key] = topic
        unique.append((text, topic))
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


def _data_sha256(files: Sequence[Path], corrections: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(list(corrections), ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _counts(
    examples: Sequence[Example],
    train: Sequence[Example],
    heldout: Sequence[Example],
    corrections: Sequence[Example],
    labels: Sequence[str],
) -> dict[str, int]:
    per_topic = Counter(topic for _, topic in examples)
    counts = {
        "examples": len(examples),
        "train": len(train),
        "heldout": len(heldout),
        "corrections": len(corrections),
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
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"spaCy config {config_path}: bad [ikz] value: {exc}") from exc
    if not 0.0 <= settings.holdout_fraction < 1.0 or settings.correction_repeats < 1:
        raise ConfigError(f"spaCy config {config_path}: [ikz] values out of range")
    return config, settings


def _train(
    config: Any, labels: Sequence[str], examples: Sequence[Example], seed: int
) -> tuple[Any, Any]:
    """Build a fresh pipeline from ``config`` and train it on ``examples``.

    Returns (nlp, optimizer); the optimizer holds the parameter averages used for saving.
    """
    from spacy.training import Example as SpacyExample
    from spacy.util import load_model_from_config, registry
    from thinc.api import fix_random_seed

    register_architectures()
    fix_random_seed(seed)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    training = nlp.config.interpolate()["training"]
    tools = registry.resolve({"batcher": training["batcher"], "optimizer": training["optimizer"]})
    textcat: Any = nlp.get_pipe("textcat")
    for label in labels:
        textcat.add_label(label)
    data = [_make_example(nlp, SpacyExample, text, topic, labels) for text, topic in examples]
    optimizer = nlp.initialize(get_examples=lambda: data, sgd=tools["optimizer"])
    rng = random.Random(seed)
    for epoch in range(int(training["max_epochs"])):
        rng.shuffle(data)
        losses: dict[str, float] = {}
        for batch in tools["batcher"](data):
            nlp.update(batch, drop=float(training["dropout"]), sgd=optimizer, losses=losses)
        logger.debug("epoch %s loss %.4f", epoch, losses.get("textcat", 0.0))
    return nlp, optimizer


def _make_example(nlp: Any, factory: Any, text: str, topic: str, labels: Sequence[str]) -> Any:
    cats = {label: 1.0 if label == topic else 0.0 for label in labels}
    return factory.from_dict(nlp.make_doc(normalise_text(text)), {"cats": cats})


def _evaluate(
    nlp: Any, optimizer: Any, heldout: Sequence[Example], labels: Sequence[str]
) -> dict[str, float]:
    """Accuracy, macro-F1 and per-topic F1 of the (averaged) model on ``heldout``."""
    if not heldout:
        return {"accuracy": 0.0, "macro_f1": 0.0} | {f"f1:{label}": 0.0 for label in labels}
    with nlp.use_params(optimizer.averages):
        docs = nlp.pipe([normalise_text(text) for text, _ in heldout])
        predicted = [max(doc.cats, key=doc.cats.get) for doc in docs]
    return score_predictions([topic for _, topic in heldout], predicted, labels)


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
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    temp_dir = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    temp_dir.chmod(MODEL_DIR_MODE)
    try:
        nlp.meta.update(
            name="ikz_topics",
            version="1.0.0",
            description=f"ikz-inbox topic classifier {result.model_version}",
        )
        with nlp.use_params(optimizer.averages):
            nlp.to_disk(temp_dir)
        info = {key: value for key, value in asdict(result).items() if key != "output_dir"}
        text = json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True)
        (temp_dir / MODEL_INFO_FILE).write_text(text + "\n", encoding="utf-8")
        _swap_into_place(temp_dir, output_dir)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _swap_into_place(temp_dir: Path, output_dir: Path) -> None:
    old_dir = output_dir.with_name(f".{output_dir.name}-old")
    shutil.rmtree(old_dir, ignore_errors=True)
    if output_dir.exists():
        output_dir.rename(old_dir)
    temp_dir.rename(output_dir)
    shutil.rmtree(old_dir, ignore_errors=True)


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
