"""Tests of ikz_inbox.train: data reading, determinism, saved model, learning from corrections."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from spacy.util import load_config

from ikz_inbox.classify import (
    MODEL_INFO_FILE,
    KeywordClassifier,
    SpacyTopicClassifier,
    load_taxonomy,
    load_topic_classifier,
    load_topic_model,
)
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.train import (
    TrainResult,
    main,
    read_training_examples,
    score_predictions,
    split_examples,
    train_topic_model,
)
from ikz_inbox.types import Topic

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DIR = ROOT / "config" / "training"
CONFIG_PATH = ROOT / "config" / "spacy" / "topics.cfg"
PER_TOPIC = 30  # examples per topic in the small test models: fast, still meaningful
TEST_EPOCHS = 12


@pytest.fixture(scope="module")
def taxonomy() -> tuple[Topic, ...]:
    return load_taxonomy(ROOT / "config" / "taxonomy.toml")


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first PER_TOPIC lines of every topic file of config/training."""
    directory = tmp_path_factory.mktemp("training")
    for path in sorted(TRAINING_DIR.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()[:PER_TOPIC]
        (directory / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config with fewer epochs and no second training on all data."""
    config = load_config(CONFIG_PATH, interpolate=False)
    config["training"]["max_epochs"] = TEST_EPOCHS
    config["ikz"]["retrain_on_all"] = False
    path = tmp_path_factory.mktemp("config") / "topics.cfg"
    config.to_disk(path)
    return path


def _train(data: Path, taxonomy: tuple[Topic, ...], out: Path, config: Path) -> TrainResult:
    return train_topic_model(data, taxonomy, out, config_path=config, seed=3)


def test_read_training_examples_reads_every_topic_and_drops_repeats(tmp_path: Path) -> None:
    lines = [
        {"text": "Wie hoch ist die Förderquote?", "topic": "a", "topics": ["a"]},
        {"text": "wie hoch ist die  foerderquote?", "topic": "a", "topics": ["a"]},
        {"text": "Wird aufgezeichnet?", "topic": "b", "topics": ["b"]},
    ]
    (tmp_path / "x.jsonl").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n",
        encoding="utf-8",
    )
    assert read_training_examples(tmp_path, ["a", "b"]) == [
        ("Wie hoch ist die Förderquote?", "a"),
        ("Wird aufgezeichnet?", "b"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{broken", "not JSON"),
        ('{"text": "", "topic": "a"}', "'text'"),
        ('{"text": "Frage?", "topic": "unbekannt"}', "'topic'"),
    ],
)
def test_bad_training_line_raises_config_error(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "ok?", "topic": "a"}\n' + line + "\n")
    with pytest.raises(ConfigError, match=rf"a\.jsonl:2: .*{message}"):
        read_training_examples(tmp_path, ["a"])


def test_repository_training_data_is_large_and_valid(taxonomy: tuple[Topic, ...]) -> None:
    examples = read_training_examples(TRAINING_DIR, [topic.id for topic in taxonomy])
    for topic in taxonomy:
        assert sum(1 for _, label in examples if label == topic.id) >= 70, topic.id


def test_split_is_stratified_and_seeded() -> None:
    examples = [(f"a{i}", "a") for i in range(10)] + [(f"b{i}", "b") for i in range(5)]
    train, heldout = split_examples(examples, 0.2, seed=1)
    assert sorted(label for _, label in heldout) == ["a", "a", "b"]
    assert sorted(train + heldout) == sorted(examples)
    assert split_examples(examples, 0.2, seed=1) == (train, heldout)
    assert split_examples(examples, 0.2, seed=2) != (train, heldout)


@pytest.mark.parametrize(
    ("gold", "predicted", "accuracy", "macro_f1"),
    [
        (["a", "b"], ["a", "b"], 1.0, 1.0),
        (["a", "a", "b", "b"], ["a", "a", "a", "b"], 0.75, round((0.8 + 2 / 3) / 2, 4)),
        (["a"], ["b"], 0.0, 0.0),
    ],
)
def test_score_predictions(
    gold: list[str], predicted: list[str], accuracy: float, macro_f1: float
) -> None:
    metrics = score_predictions(gold, predicted, ["a", "b", "c"])
    assert metrics["accuracy"] == accuracy
    assert metrics["macro_f1"] == macro_f1


@pytest.mark.slow
def test_training_is_deterministic_and_saves_a_complete_model(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    first = _train(small_data, taxonomy, tmp_path / "one", small_config)
    second = _train(small_data, taxonomy, tmp_path / "two", small_config)
    assert (first.accuracy, first.macro_f1) == (second.accuracy, second.macro_f1)
    assert first.per_topic_f1 == second.per_topic_f1
    assert first.data_sha256 == second.data_sha256
    questions = ["Wer bezahlt den Kiosk?", "Kommt der Link per Mail?", "Ist das steuerbar?"]
    one = load_topic_model(tmp_path / "one", taxonomy).predict(questions)
    two = load_topic_model(tmp_path / "two", taxonomy).predict(questions)
    assert [(p.topic, p.confidence) for p in one] == [(p.topic, p.confidence) for p in two]

    info = json.loads((tmp_path / "one" / MODEL_INFO_FILE).read_text(encoding="utf-8"))
    assert info["format_version"] == 1
    assert re.fullmatch(r"topics-\d{4}-\d\d-\d\d-[0-9a-f]{8}", info["model_version"])
    assert info["model_version"].endswith(info["data_sha256"][:8])
    assert len(info["data_sha256"]) == 64
    assert info["labels"] == [topic.id for topic in taxonomy]
    assert info["counts"]["examples"] == 12 * PER_TOPIC
    assert info["counts"]["heldout"] == 12 * round(PER_TOPIC * 0.2)
    assert info["macro_f1"] == first.macro_f1 > 0.3  # far above chance (1/12)
    assert [p.model_version for p in one] == [first.model_version] * 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_retraining_replaces_the_model_in_place(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    out = tmp_path / "topics"
    first = _train(small_data, taxonomy, out, small_config)
    corrected = train_topic_model(
        small_data,
        taxonomy,
        out,
        config_path=small_config,
        extra_examples=[("Wann startet der Stream?", "organisation")],
        seed=3,
    )
    assert corrected.data_sha256 != first.data_sha256
    assert corrected.counts["corrections"] == 1
    assert load_topic_model(out, taxonomy).version == corrected.model_version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["topics"]


@pytest.mark.slow
def test_label_mismatch_is_refused(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    _train(small_data, taxonomy, tmp_path / "model", small_config)
    grown = (*taxonomy, Topic(id="energie", label="Energie", description="Wärme, Strom"))
    with pytest.raises(ModelError, match="missing in model: energie"):
        load_topic_model(tmp_path / "model", grown)
    assert isinstance(load_topic_classifier(tmp_path / "model", grown), KeywordClassifier)
    assert isinstance(load_topic_classifier(tmp_path / "model", taxonomy), SpacyTopicClassifier)


def test_unknown_correction_topic_is_refused(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    with pytest.raises(ConfigError, match="correction topic"):
        train_topic_model(
            small_data,
            taxonomy,
            tmp_path / "m",
            config_path=small_config,
            extra_examples=[("Frage?", "energie")],
        )


def test_empty_training_dir_is_refused(
    tmp_path: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    with pytest.raises(ModelError, match="no training examples"):
        train_topic_model(tmp_path, taxonomy, tmp_path / "m", config_path=small_config)


# A made-up new funding programme, "KIPlus", that staff have started to write about.
# Its context words ("Zweckverband", "Personal", "Kosten" ...) point elsewhere, so a model
# that never saw the name gets these wrong; a few staff corrections must teach it.
CORRECTIONS = [
    ("Gilt KIPlus auch für Zweckverbände?", "foerderung"),
    ("Können wir Personal über KIPlus abrechnen?", "foerderung"),
    ("Wie läuft das mit KIPlus bei gemeinsamer Software?", "foerderung"),
    ("Sind bei KIPlus Kosten der Ausschreibung dabei?", "foerderung"),
    ("Ist KIPlus mit der Umlage an den Kreis vereinbar?", "foerderung"),
    ("Wir möchten wissen, ob KIPlus auch Tourismusprojekte abdeckt.", "foerderung"),
]
UNSEEN = [
    "Dürfen Zweckverbände mit Satzung auch am KIPlus teilnehmen?",
    "Können auch Gemeinden mit Personalrat beim KIPlus mitmachen?",
    "Ist eine Cloud-Lösung über KIPlus machbar?",
    "Gibt es bei KIPlus Besonderheiten für den Datenschutz?",
]


@pytest.mark.slow
def test_a_handful_of_corrections_teaches_a_new_wording(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    _train(small_data, taxonomy, tmp_path / "before", small_config)
    before = load_topic_model(tmp_path / "before", taxonomy).predict(UNSEEN)
    assert [p.topic for p in before].count("foerderung") <= 1

    train_topic_model(
        small_data,
        taxonomy,
        tmp_path / "after",
        config_path=small_config,
        extra_examples=CORRECTIONS,
        seed=3,
    )
    after = load_topic_model(tmp_path / "after", taxonomy).predict(UNSEEN)
    assert [p.topic for p in after] == ["foerderung"] * len(UNSEEN)


@pytest.mark.slow
def test_module_entry_point_trains_into_models_topics(
    tmp_path: Path, small_data: Path, small_config: Path, taxonomy: tuple[Topic, ...]
) -> None:
    (tmp_path / "config" / "spacy").mkdir(parents=True)
    shutil.copytree(small_data, tmp_path / "config" / "training")
    shutil.copy(ROOT / "config" / "taxonomy.toml", tmp_path / "config" / "taxonomy.toml")
    shutil.copy(small_config, tmp_path / "config" / "spacy" / "topics.cfg")
    assert main([str(tmp_path)]) == 0
    assert load_topic_model(tmp_path / "models" / "topics", taxonomy).version.startswith("topics-")


@pytest.mark.parametrize(
    ("setting", "value"),
    [("holdout_fraction", 1.0), ("holdout_fraction", -0.1), ("correction_repeats", 0)],
)
def test_bad_ikz_settings_are_refused(
    tmp_path: Path, small_data: Path, taxonomy: tuple[Topic, ...], setting: str, value: float
) -> None:
    config = load_config(CONFIG_PATH, interpolate=False)
    config["ikz"][setting] = value
    config.to_disk(tmp_path / "bad.cfg")
    with pytest.raises(ConfigError, match=r"\[ikz\]"):
        train_topic_model(small_data, taxonomy, tmp_path / "m", config_path=tmp_path / "bad.cfg")
