"""Tests of ikz_inbox.train: data reading (topic files and paraphrase asks), the held-out
split, determinism, saved model, multi-label topics, calibration, learning from corrections."""

from __future__ import annotations

import json
import re
import shutil
import zlib
from pathlib import Path

import pytest
from spacy.util import load_config

from ikz_inbox.classify import (
    MODEL_FORMAT_VERSION,
    MODEL_INFO_FILE,
    KeywordClassifier,
    SpacyTopicClassifier,
    load_taxonomy,
    load_topic_classifier,
    load_topic_model,
)
from ikz_inbox.dedup.learn import read_asks, split_asks
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.modelfiles import is_held_out_ask
from ikz_inbox.train import (
    PARAPHRASE_DIR,
    TrainingExample,
    TrainResult,
    fit_calibration,
    main,
    read_training_data,
    read_training_examples,
    review_figures,
    score_predictions,
    score_secondary,
    split_examples,
    split_training_data,
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
    assert info["format_version"] == MODEL_FORMAT_VERSION == 2
    knots = info["calibration"]
    assert knots[0] == [0.0, 0.0] and knots[-1] == [1.0, 1.0]
    assert [x for x, _ in knots] == sorted(x for x, _ in knots)
    assert info["review"]["threshold"] == 0.5
    assert re.fullmatch(r"topics-\d{4}-\d\d-\d\d-[0-9a-f]{8}", info["model_version"])
    assert info["model_version"].endswith(info["data_sha256"][:8])
    assert len(info["data_sha256"]) == 64
    assert info["labels"] == [topic.id for topic in taxonomy]
    assert info["counts"]["examples"] == 12 * PER_TOPIC
    assert info["counts"]["paraphrase_asks"] == 0
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


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
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


# --------------------------------------------------------------------------- paraphrase asks


def _write_asks(directory: Path, asks: list[dict[str, object]]) -> None:
    folder = directory / PARAPHRASE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(ask, ensure_ascii=False) for ask in asks]
    (folder / "helper.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_paraphrase_folder_is_read_with_primary_and_secondary_topics(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"text": "Wie hoch ist die Förderquote?", "topic": "a", "topics": ["a"]}\n',
        encoding="utf-8",
    )
    _write_asks(
        tmp_path,
        [
            {
                "id": "ask-1",
                "topic": "b",
                "topics": ["a", "b"],
                "object": "Kiosk",
                "ask": "Rechtsform",
                "source": "test",
                "wordings": ["Welche Rechtsform für den Kiosk?", "kiosk: zweckverband oder avv?"],
            },
            {"id": "ask-2", "topic": "a", "wordings": ["Förderquote?", "  "]},
        ],
    )
    assert read_training_data(tmp_path, ["a", "b"]) == [
        TrainingExample("Wie hoch ist die Förderquote?", "a", ("a",)),
        TrainingExample("Welche Rechtsform für den Kiosk?", "b", ("b", "a"), "ask-1"),
        TrainingExample("kiosk: zweckverband oder avv?", "b", ("b", "a"), "ask-1"),
        TrainingExample("Förderquote?", "a", ("a",), "ask-2"),
    ]
    assert read_training_examples(tmp_path, ["a", "b"])[1] == (
        "Welche Rechtsform für den Kiosk?",
        "b",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"topic": "a", "wordings": ["x?"]}', "'id'"),
        ('{"id": "x", "topic": "a", "wordings": "x?"}', "'wordings'"),
        ('{"id": "x", "topic": "z", "wordings": ["x?"]}', "'topic'"),
        ('{"id": "x", "topic": "a", "topics": ["z"], "wordings": ["x?"]}', "'topics'"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_bad_paraphrase_line_raises_config_error(tmp_path: Path, line: str, message: str) -> None:
    folder = tmp_path / PARAPHRASE_DIR
    folder.mkdir()
    (folder / "p.jsonl").write_text('{"id": "ok", "topic": "a", "wordings": ["ok?"]}\n' + line)
    with pytest.raises(ConfigError, match=rf"p\.jsonl:2: .*{message}"):
        read_training_data(tmp_path, ["a"])


def test_heldout_asks_follow_the_crc32_rule_and_are_stable() -> None:
    ids = [f"ask-{number:04d}" for number in range(500)]
    held = [ask_id for ask_id in ids if is_held_out_ask(ask_id)]
    assert held == [i for i in ids if zlib.crc32(i.encode("utf-8")) % 5 == 0]
    assert 0.12 < len(held) / len(ids) < 0.28  # about a fifth
    assert held == [ask_id for ask_id in ids if is_held_out_ask(ask_id)]  # no hidden state


def test_topic_and_grouping_trainers_hold_out_the_same_asks(
    taxonomy: tuple[Topic, ...],
) -> None:
    examples = read_training_data(TRAINING_DIR, [topic.id for topic in taxonomy])
    train, heldout = split_training_data(examples, 0.2, 0)
    topic_held = {ex.ask_id for ex in heldout if ex.ask_id is not None}
    topic_trained = {ex.ask_id for ex in train if ex.ask_id is not None}
    grouping_train, validation, grouping_held = split_asks(read_asks(TRAINING_DIR / PARAPHRASE_DIR))
    assert topic_held and topic_held == {ask.id for ask in grouping_held}
    assert topic_trained == {ask.id for ask in grouping_train + validation}


def test_split_keeps_every_wording_of_an_ask_on_one_side_whatever_the_seed() -> None:
    singles = [TrainingExample(f"frage {i}", "ab"[i % 2], ("ab"[i % 2],)) for i in range(20)]
    asks = [
        TrainingExample(f"ask {n} wording {w}", "a", ("a",), f"ask-{n}")
        for n in range(40)
        for w in range(3)
    ]
    for seed in (0, 1, 7):
        train, heldout = split_training_data(singles + asks, 0.2, seed)
        assert sorted(train + heldout, key=str) == sorted(singles + asks, key=str)
        held_asks = {ex.ask_id for ex in heldout if ex.ask_id}
        assert held_asks == {f"ask-{n}" for n in range(40) if is_held_out_ask(f"ask-{n}")}
        assert not held_asks & {ex.ask_id for ex in train}
        assert sum(1 for ex in heldout if ex.ask_id is None) == 4  # 20 % of each topic file


# --------------------------------------------------------------------------- calibration


def test_calibration_puts_the_threshold_where_the_target_share_of_errors_is_caught() -> None:
    raws = [0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    correct = [False, True, False, False, True, True, False, True, True, False, True, True]
    calibration = fit_calibration(raws, correct, threshold=0.5, catch_target=0.75)
    confidences = [calibration(raw) for raw in raws]
    figures = review_figures(confidences, correct, 0.5)
    assert figures["wrong"] == 5
    assert figures["caught"] == 0.8  # 4 of 5: the smallest share >= 0.75
    assert figures["flagged"] == round(7 / 12, 4)
    assert confidences == sorted(confidences)  # monotone in the raw score
    assert calibration(0.0) == 0.0 and calibration(1.0) == 1.0


@pytest.mark.parametrize("target", [0.0, 0.5, 0.8, 0.9, 1.0])
def test_calibration_is_monotone_and_catches_at_least_the_target(target: float) -> None:
    import random

    rng = random.Random(4)
    raws = [rng.random() for _ in range(300)]
    correct = [rng.random() < raw for raw in raws]  # higher score, more often right
    calibration = fit_calibration(raws, correct, threshold=0.5, catch_target=target)
    grid = [i / 200 for i in range(201)]
    values = [calibration(x) for x in grid]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert 0.0 <= values[0] and values[-1] <= 1.0
    figures = review_figures([calibration(raw) for raw in raws], correct, 0.5)
    assert figures["caught"] >= target


def test_calibration_without_errors_flags_nothing() -> None:
    calibration = fit_calibration([0.4, 0.7, 0.9], [True, True, True], 0.5, 0.8)
    assert review_figures([calibration(r) for r in (0.4, 0.7, 0.9)], [True] * 3, 0.5) == {
        "threshold": 0.5,
        "questions": 3,
        "wrong": 0,
        "caught": 1.0,
        "flagged": 0.0,
    }


def test_score_secondary_is_micro_averaged() -> None:
    figures = score_secondary([("a",), (), ("b", "c")], [("a",), ("c",), ("b",)])
    assert (figures["precision"], figures["recall"]) == (round(2 / 3, 4), round(2 / 3, 4))


# --------------------------------------------------------------------------- multi-label

MULTI_EPOCHS = 20


def _multilabel_data(directory: Path) -> Path:
    """Three topics of the taxonomy and mixed asks: the secondary topic must be learnt."""
    kiosk = ["Gesundheitskiosk", "Hausarztpraxis", "Gemeindeschwester", "Pflegeberatung"]
    forms = ["Zweckverband", "öffentlich-rechtliche Vereinbarung", "AöR", "Satzung"]
    records: list[dict[str, object]] = []
    for i, noun in enumerate(kiosk * 3):
        records.append({"text": f"Wie organisieren wir {noun} Nummer {i}?", "topic": "gesundheit"})
    for i, form in enumerate(forms * 3):
        records.append({"text": f"Brauchen wir {form} Variante {i}?", "topic": "rechtsform"})
    for i, (noun, form) in enumerate(zip(kiosk * 3, forms * 3, strict=True)):
        records.append(
            {
                "text": f"Reicht für {noun} {form} Fall {i}?",
                "topic": "rechtsform",
                "topics": ["rechtsform", "gesundheit"],
            }
        )
    for i in range(12):
        records.append(
            {"text": f"Wird die Sprechstunde {i} aufgezeichnet?", "topic": "organisation"}
        )
    (directory / "mixed.jsonl").write_text(
        "\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n",
        encoding="utf-8",
    )
    _write_asks(
        directory,
        [
            {
                "id": f"kiosk-form-{n}",
                "topic": "rechtsform",
                "topics": ["rechtsform", "gesundheit"],
                "wordings": [
                    f"Welche Rechtsform passt zum Gesundheitskiosk im Ort {n}?",
                    f"Gesundheitskiosk {n}: Zweckverband oder Vereinbarung?",
                ],
            }
            for n in range(10)
        ],
    )
    return directory


@pytest.mark.slow
def test_multilabel_model_learns_secondary_topics_and_keeps_the_primary(
    tmp_path: Path, taxonomy: tuple[Topic, ...]
) -> None:
    config = load_config(CONFIG_PATH, interpolate=False)
    config["training"]["max_epochs"] = MULTI_EPOCHS
    config.to_disk(tmp_path / "topics.cfg")
    (tmp_path / "data").mkdir()
    data = _multilabel_data(tmp_path / "data")
    result = train_topic_model(
        data, taxonomy, tmp_path / "model", config_path=tmp_path / "topics.cfg", seed=1
    )
    assert result.counts["paraphrase_asks"] == 10
    assert result.counts["heldout_asks"] == sum(
        is_held_out_ask(f"kiosk-form-{n}") for n in range(10)
    )
    assert result.secondary["gold"] > 0
    model = load_topic_model(tmp_path / "model", taxonomy)
    mixed, health, form = model.predict(
        [
            "Reicht für den Gesundheitskiosk ein Zweckverband?",
            "Wie organisieren wir die Gemeindeschwester?",
            "Brauchen wir eine Satzung?",
        ]
    )
    assert (mixed.topic, mixed.secondary) == ("rechtsform", ("gesundheit",))
    assert (health.topic, health.secondary) == ("gesundheit", ())
    assert (form.topic, form.secondary) == ("rechtsform", ())
    scores = model.scores(["Reicht für den Gesundheitskiosk ein Zweckverband?"])[0]
    assert scores["rechtsform"] == max(scores[topic.id] for topic in taxonomy)  # softmax
    assert min(scores["has:rechtsform"], scores["has:gesundheit"]) >= 0.4  # multi-label
    assert scores["has:organisation"] < 0.4
    assert 0.0 <= mixed.confidence <= 1.0
