"""Benchmark of the topic classifier (run by hand; prints figures, asserts nothing).

    .venv/bin/python bench/bench_classify.py [--parts abcd] [--gnad-chars 1500]
        [--model models/topics] [--evalset ../shared/evalsets/dev]

(a) the held-out split of the training recipe (a stratified share of config/training plus
    the held-out paraphrase asks): spaCy recipe vs TF-IDF char n-grams + LinearSVC vs the
    keyword rules; unseen asks alone; secondary topics; the review queue;
(b) the questions of an evaluation set (default ../shared/evalsets/dev; measured only, never
    trained on): the model (default the shipped models/topics), the SVM trained on all
    training data, the rules; per-topic F1, the review queue at the configured threshold
    (share of wrong topics caught, share of questions flagged) and a topic confusion table;
(c) ../shared/corpora/10kgnad/test.csv: stratified 5-fold CV of the same training recipe
    next to TF-IDF + LinearSVC on the same folds (macro-F1 mean ± std);
(d) inference questions/s on one core (median), model size on disk, training time.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from ikz_inbox.classify import (
    KeywordClassifier,
    load_taxonomy,
    load_topic_model,
    normalise_text,
)
from ikz_inbox.train import (
    TrainResult,
    read_training_data,
    read_training_examples,
    review_figures,
    score_predictions,
    split_training_data,
    train_topic_model,
)
from ikz_inbox.types import Topic

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
TRAINING_DIR = ROOT / "config" / "training"
CONFIG = ROOT / "config" / "spacy" / "topics.cfg"
MODEL_DIR = ROOT / "models" / "topics"
DEV_SET = SHARED / "evalsets" / "dev"
SEED = 0
HOLDOUT = 0.2  # same share as [ikz] holdout_fraction in topics.cfg
REVIEW_THRESHOLD = 0.5  # [classify] review_threshold in config/ikz-inbox.toml
SPEED_RUNS = 5

Examples = list[tuple[str, str]]


def svm_predict(train: Examples, texts: Sequence[str]) -> list[str]:
    """TF-IDF over character 2-5-grams (word-bounded) + LinearSVC, on normalised text."""
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1),
        LinearSVC(C=1.0),
    )
    model.fit([normalise_text(text) for text, _ in train], [topic for _, topic in train])
    return [str(label) for label in model.predict([normalise_text(text) for text in texts])]


def show(name: str, gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> None:
    metrics = score_predictions(gold, predicted, labels)
    print(f"  {name:<28} macro-F1 {metrics['macro_f1']:.3f}   accuracy {metrics['accuracy']:.3f}")


def part_a(taxonomy: Sequence[Topic], labels: Sequence[str]) -> TrainResult:
    print("(a) held-out split of the recipe (seed 0: 20 % per topic file + held-out asks)")
    train_part, heldout = split_training_data(
        read_training_data(TRAINING_DIR, labels), HOLDOUT, SEED
    )
    train = [(ex.text, ex.topic) for ex in train_part]
    gold = [ex.topic for ex in heldout]
    texts = [ex.text for ex in heldout]
    with tempfile.TemporaryDirectory() as tmp:
        result = train_topic_model(
            TRAINING_DIR, taxonomy, Path(tmp) / "topics", config_path=CONFIG, seed=SEED
        )
    print(
        f"  {'spaCy textcat (recipe)':<28} macro-F1 {result.macro_f1:.3f}   "
        f"accuracy {result.accuracy:.3f}   ({len(train)} train / {len(heldout)} held out)"
    )
    show("TF-IDF char + LinearSVC", gold, svm_predict(train, texts), labels)
    rules = KeywordClassifier(taxonomy)
    show("keyword rules", gold, [p.topic for p in rules.predict(texts)], labels)
    asks = result.heldout_asks
    print(
        f"  unseen paraphrase asks ({asks.get('asks', 0):.0f} asks, "
        f"{asks.get('questions', 0):.0f} wordings): macro-F1 {asks.get('macro_f1', 0):.3f}   "
        f"accuracy {asks.get('accuracy', 0):.3f}"
    )
    sec = result.secondary
    print(
        f"  secondary topics: precision {sec.get('precision', 0):.3f}   "
        f"recall {sec.get('recall', 0):.3f}   F1 {sec.get('f1', 0):.3f}"
    )
    review = result.review
    print(
        f"  review queue (confidence < {review.get('threshold', 0):.2f}, calibrated here): "
        f"catches {review.get('caught', 0):.0%} of {review.get('wrong', 0):.0f} wrong topics, "
        f"flags {review.get('flagged', 0):.0%} of the questions"
    )
    return result


def evalset_questions(evalset: Path) -> Examples:
    labels_path = evalset / "labels.jsonl"
    rows = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines()]
    return [
        (question["text"], question["topic"])
        for row in rows
        if not row.get("resend_of")
        for question in row.get("questions", [])
    ]


def part_b(
    taxonomy: Sequence[Topic], labels: Sequence[str], model_dir: Path, evalset: Path
) -> None:
    questions = evalset_questions(evalset)
    print(f"(b) questions of {evalset.name} ({len(questions)}; measured only)")
    gold = [topic for _, topic in questions]
    texts = [text for text, _ in questions]
    model = load_topic_model(model_dir, taxonomy)
    predictions = model.predict(texts)
    predicted = [p.topic for p in predictions]
    show(f"model {model.version}", gold, predicted, labels)
    examples = read_training_examples(TRAINING_DIR, labels)
    show("TF-IDF char + LinearSVC", gold, svm_predict(examples, texts), labels)
    rules = KeywordClassifier(taxonomy)
    show("keyword rules", gold, [p.topic for p in rules.predict(texts)], labels)
    per_topic = score_predictions(gold, predicted, labels)
    print(
        "  model per topic: "
        + ", ".join(f"{label} {per_topic['f1:' + label]:.2f}" for label in labels)
    )
    correct = [g == p for g, p in zip(gold, predicted, strict=True)]
    review = review_figures([p.confidence for p in predictions], correct, REVIEW_THRESHOLD)
    print(
        f"  review queue (confidence < {REVIEW_THRESHOLD}): catches {review['caught']:.0%} of "
        f"{review['wrong']:.0f} wrong topics, flags {review['flagged']:.0%} "
        f"({sum(p.confidence < REVIEW_THRESHOLD for p in predictions)} of {len(predictions)})"
    )
    confusion_table(gold, predicted, labels)


def confusion_table(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> None:
    """Rows: gold topic; columns: predicted topic (first four letters of the id)."""
    present = [label for label in labels if label in gold or label in predicted]
    print("  confusion (rows gold, columns predicted):")
    print("  " + " " * 16 + " ".join(f"{label[:4]:>4}" for label in present))
    for row in present:
        cells = [
            sum(1 for g, p in zip(gold, predicted, strict=True) if g == row and p == column)
            for column in present
        ]
        print(f"  {row:<16}" + " ".join(f"{cell or '.':>4}" for cell in cells))


def gnad_rows(max_chars: int) -> Examples:
    path = SHARED / "corpora" / "10kgnad" / "test.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (text[:max_chars], label.lower())
            for label, text in csv.reader(handle, delimiter=";", quotechar="'")
        ]


def recipe_fold(train: Examples, test: Examples, labels: Sequence[str], tmp: Path) -> float:
    """Train the shipped recipe (same cfg, no extra held-out) on ``train``; F1 on ``test``."""
    data_dir = tmp / "data"
    data_dir.mkdir(exist_ok=True)
    lines = [
        json.dumps({"text": t, "topic": y, "topics": [y]}, ensure_ascii=False) for t, y in train
    ]
    (data_dir / "gnad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = tmp / "gnad.cfg"
    cfg.write_text(
        CONFIG.read_text(encoding="utf-8").replace(
            "holdout_fraction = 0.2", "holdout_fraction = 0.0"
        ),
        encoding="utf-8",
    )
    taxonomy = [Topic(id=label, label=label, description=label) for label in labels]
    train_topic_model(data_dir, taxonomy, tmp / "model", config_path=cfg, seed=SEED)
    model = load_topic_model(tmp / "model", taxonomy)
    predicted = [p.topic for p in model.predict([text for text, _ in test])]
    return score_predictions([y for _, y in test], predicted, labels)["macro_f1"]


def part_c(max_chars: int) -> None:
    rows = gnad_rows(max_chars)
    labels = sorted({label for _, label in rows})
    print(
        f"(c) 10kGNAD test.csv, {len(rows)} articles (first {max_chars} chars), "
        "stratified 5-fold CV"
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    spacy_scores: list[float] = []
    svm_scores: list[float] = []
    for index, (train_idx, test_idx) in enumerate(folds.split(rows, [y for _, y in rows])):
        train = [rows[i] for i in train_idx]
        test = [rows[i] for i in test_idx]
        with tempfile.TemporaryDirectory() as tmp:
            spacy_scores.append(recipe_fold(train, test, labels, Path(tmp)))
        predicted = svm_predict(train, [text for text, _ in test])
        svm_scores.append(score_predictions([y for _, y in test], predicted, labels)["macro_f1"])
        print(f"  fold {index}: spaCy {spacy_scores[-1]:.3f}  SVM {svm_scores[-1]:.3f}")
    for name, scores in (
        ("spaCy textcat (recipe)", spacy_scores),
        ("TF-IDF char + LinearSVC", svm_scores),
    ):
        print(
            f"  {name:<28} macro-F1 {statistics.mean(scores):.3f} ± {statistics.stdev(scores):.3f}"
        )


def part_d(
    taxonomy: Sequence[Topic], labels: Sequence[str], result: TrainResult | None, model_dir: Path
) -> None:
    print("(d) speed and size")
    texts = [text for text, _ in read_training_examples(TRAINING_DIR, labels)]
    warm_up = ["Wie geht es weiter?", "Gibt es dazu schon Erfahrungen?"]
    rates = []
    with threadpool_limits(limits=1):
        for _ in range(SPEED_RUNS):
            # A fresh model each run: its feature cache must not hold the texts yet.
            model = load_topic_model(model_dir, taxonomy)
            model.predict(warm_up)
            started = time.perf_counter()
            model.predict(texts)
            rates.append(len(texts) / (time.perf_counter() - started))
    size = sum(path.stat().st_size for path in model_dir.rglob("*") if path.is_file())
    print(
        f"  inference, one core: {statistics.median(rates):.0f} questions/s "
        f"(median of {SPEED_RUNS} runs over {len(texts)} questions)"
    )
    print(f"  model size on disk: {size / 1e6:.1f} MB")
    info = json.loads((model_dir / "ikz-model.json").read_text(encoding="utf-8"))
    print(f"  training time of the model: {info['train_seconds']:.0f} s (split + full retrain)")
    if result is not None:
        print(f"  training time in (a): {result.train_seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="abcd")
    parser.add_argument("--gnad-chars", type=int, default=1500)
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--evalset", type=Path, default=DEV_SET)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    taxonomy = load_taxonomy(ROOT / "config" / "taxonomy.toml")
    labels = [topic.id for topic in taxonomy]
    result = part_a(taxonomy, labels) if "a" in args.parts else None
    if "b" in args.parts:
        part_b(taxonomy, labels, args.model, args.evalset)
    if "c" in args.parts:
        part_c(args.gnad_chars)
    if "d" in args.parts:
        part_d(taxonomy, labels, result, args.model)


if __name__ == "__main__":
    main()
