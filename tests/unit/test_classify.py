"""Tests of ikz_inbox.classify: taxonomy loading, keyword rules, model loading/fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ikz_inbox.classify import (
    IDENTITY_CALIBRATION,
    NO_MATCH_CONFIDENCE,
    RULES_VERSION,
    Calibration,
    KeywordClassifier,
    SpacyTopicClassifier,
    load_taxonomy,
    load_topic_classifier,
    load_topic_model,
    normalise_text,
    rank_topics,
)
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.types import Topic, TopicSource

ROOT = Path(__file__).resolve().parents[2]
TAXONOMY_PATH = ROOT / "config" / "taxonomy.toml"
SHIPPED_MODEL = ROOT / "models" / "topics"
TOPIC_IDS = (
    "foerderung",
    "rechtsform",
    "steuern",
    "vergabe",
    "finanzen",
    "personal",
    "digitalisierung",
    "datenschutz",
    "gesundheit",
    "tourismus",
    "organisation",
    "sonstiges",
)


@pytest.fixture(scope="module")
def taxonomy() -> tuple[Topic, ...]:
    return load_taxonomy(TAXONOMY_PATH)


def test_repository_taxonomy_has_the_twelve_topics_with_keywords(
    taxonomy: tuple[Topic, ...],
) -> None:
    assert tuple(topic.id for topic in taxonomy) == TOPIC_IDS
    assert all(topic.label and topic.description and topic.keywords for topic in taxonomy)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("", "topic"),
        ('[[topic]]\nlabel = "L"\ndescription = "D"\n', "id"),
        ('[[topic]]\nid = "a"\ndescription = "D"\n', "label"),
        ('[[topic]]\nid = "a"\nlabel = "L"\ndescription = ""\n', "description"),
        ('[[topic]]\nid = "Förder ung"\nlabel = "L"\ndescription = "D"\n', "id"),
        ('[[topic]]\nid = "a"\nlabel = "L"\ndescription = "D"\nkeywords = "x"\n', "keywords"),
        ('[[topic]]\nid = "a"\nlabel = "L"\ndescription = "D"\nkeywords = [1]\n', "keywords"),
        (
            '[[topic]]\nid = "a"\nlabel = "L"\ndescription = "D"\n'
            '[[topic]]\nid = "a"\nlabel = "M"\ndescription = "E"\n',
            "id",
        ),
        ("[[topic]\nid = 1", "cannot read"),
    ],
)
def test_bad_taxonomy_raises_config_error_naming_the_key(
    tmp_path: Path, toml: str, key: str
) -> None:
    path = tmp_path / "taxonomy.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_taxonomy(path)


def test_missing_taxonomy_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Äußerst GROẞE Fördermittel", "aeusserst grosse foerdermittel"),
        ("  Zweck\tverband \n ", "zweck verband"),
    ],
)
def test_normalise_text_folds_umlauts_case_and_space(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Wie hoch ist eigentlich der Foerdersatz fuer so ein Vorhaben?", "foerderung"),
        ("Bis wann muss der Verwendungsnachweis bei der Bezirksregierung sein?", "foerderung"),
        ("Brauchen wir dafür einen Zweckverband oder reicht eine Vereinbarung?", "rechtsform"),
        ("Wir bitten um Einschätzung, ob § 2b UStG hier greift", "steuern"),
        ("Does VAT apply between two towns?", "steuern"),
        ("Muss das europaweit ausgeschrieben werden oder gilt das Inhouse-Privileg?", "vergabe"),
        ("Nach welchem Schlüssel teilen wir die Umlage auf?", "finanzen"),
        ("Wer bleibt Dienstherr bei einer Abordnung?", "personal"),
        ("Können wir die E-Akte gemeinsam in der Cloud betreiben?", "digitalisierung"),
        ("Brauchen wir einen AVV nach DSGVO?", "datenschutz"),
        ("Wer bezahlt den Gesundheitskiosk auf Dauer?", "gesundheit"),
        ("Wie vermarkten wir die Radroute gemeinsam?", "tourismus"),
        ("Gibt es hinterher eine Aufzeichnung und die Folien?", "organisation"),
        ("Is there a recording of the session?", "organisation"),
        ("Wie organisieren andere Gemeinden einen gemeinsamen Bauhof?", "sonstiges"),
    ],
)
def test_keyword_classifier_finds_the_topic(
    taxonomy: tuple[Topic, ...], question: str, topic: str
) -> None:
    prediction = KeywordClassifier(taxonomy).predict([question])[0]
    assert prediction.topic == topic
    assert prediction.source is TopicSource.RULES
    assert prediction.model_version == RULES_VERSION
    assert NO_MATCH_CONFIDENCE < prediction.confidence < 1.0


def test_keyword_classifier_falls_back_to_sonstiges_with_low_confidence(
    taxonomy: tuple[Topic, ...],
) -> None:
    prediction = KeywordClassifier(taxonomy).predict(["Hallo, schöne Grüße aus Lemgo."])[0]
    assert prediction.topic == "sonstiges"
    assert prediction.confidence == NO_MATCH_CONFIDENCE


def test_keyword_classifier_returns_one_prediction_per_text_in_order(
    taxonomy: tuple[Topic, ...],
) -> None:
    texts = ["Wird aufgezeichnet?", "Förderquote?", "Umsatzsteuer?"]
    topics = [p.topic for p in KeywordClassifier(taxonomy).predict(texts)]
    assert topics == ["organisation", "foerderung", "steuern"]


def _topics(*pairs: tuple[str, tuple[str, ...]]) -> tuple[Topic, ...]:
    return tuple(Topic(id=i, label=i, description=i, keywords=k) for i, k in pairs)


@pytest.mark.parametrize(
    ("keywords", "text", "matches"),
    [
        (("quote",), "die foerderquote", False),  # prefix only by default
        (("*quote",), "die foerderquote", True),  # * matches inside a compound
        (("förder",), "FOERDERUNGEN", True),  # folded and inflected
        (("=it",), "die IT-Abteilung", True),
        (("=it",), "die Italienreise", False),
        (("2b ustg",), "nach § 2b UStG", True),  # phrase
        (("2b ustg",), "2b und UStG", False),
    ],
)
def test_keyword_syntax(keywords: tuple[str, ...], text: str, *, matches: bool) -> None:
    classifier = KeywordClassifier(_topics(("a", keywords), ("sonstiges", ())))
    assert (classifier.predict([text])[0].topic == "a") is matches


def test_keyword_weights_decide_between_topics() -> None:
    taxonomy = _topics(("a", ("link",)), ("b", ("termin^3",)), ("sonstiges", ()))
    prediction = KeywordClassifier(taxonomy).predict(["Link zum Termin"])[0]
    assert prediction.topic == "b"
    assert prediction.secondary == ()
    taxonomy = _topics(("a", ("link^2",)), ("b", ("termin^3",)), ("sonstiges", ()))
    assert KeywordClassifier(taxonomy).predict(["Link zum Termin"])[0].secondary == ("a",)


def test_bad_keyword_weight_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="weight"):
        KeywordClassifier(_topics(("a", ("link^x",))))


def test_missing_model_falls_back_to_rules_and_logs_error(
    tmp_path: Path, taxonomy: tuple[Topic, ...], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ikz_inbox.classify"):
        classifier = load_topic_classifier(tmp_path / "absent", taxonomy)
    assert isinstance(classifier, KeywordClassifier)
    assert classifier.version == RULES_VERSION
    assert "falling back" in caplog.text
    assert classifier.predict(["Förderquote?"])[0].topic == "foerderung"


def test_missing_model_raises_in_strict_loader(tmp_path: Path, taxonomy: tuple[Topic, ...]) -> None:
    with pytest.raises(ModelError, match="no topic model"):
        load_topic_model(tmp_path, taxonomy)


@pytest.mark.parametrize(
    "info",
    ["{not json", '{"format_version": 99, "labels": []}', "[]"],
)
def test_broken_model_info_falls_back(
    tmp_path: Path, taxonomy: tuple[Topic, ...], info: str
) -> None:
    (tmp_path / "ikz-model.json").write_text(info, encoding="utf-8")
    with pytest.raises(ModelError):
        load_topic_model(tmp_path, taxonomy)
    assert load_topic_classifier(tmp_path, taxonomy).version == RULES_VERSION


def test_model_dir_spacy_cannot_load_falls_back(
    tmp_path: Path, taxonomy: tuple[Topic, ...]
) -> None:
    info = '{"format_version": 1, "model_version": "x", "labels": []}'
    (tmp_path / "ikz-model.json").write_text(info, encoding="utf-8")
    (tmp_path / "config.cfg").write_text("[nlp\nbroken", encoding="utf-8")
    with pytest.raises(ModelError, match="spaCy cannot load"):
        load_topic_model(tmp_path, taxonomy)
    assert isinstance(load_topic_classifier(tmp_path, taxonomy), KeywordClassifier)


def test_model_info_with_a_broken_calibration_is_refused(
    tmp_path: Path, taxonomy: tuple[Topic, ...]
) -> None:
    info = '{"format_version": 2, "model_version": "x", "labels": [], "calibration": [[0, 1]]}'
    (tmp_path / "ikz-model.json").write_text(info, encoding="utf-8")
    with pytest.raises(ModelError, match="bad calibration"):
        load_topic_model(tmp_path, taxonomy)


# --------------------------------------------------------------------------- calibration


def test_calibration_is_piecewise_linear_monotone_and_clamped() -> None:
    calibration = Calibration(((0.0, 0.0), (0.8, 0.5), (1.0, 1.0)))
    assert calibration(0.4) == pytest.approx(0.25)
    assert calibration(0.8) == 0.5
    assert calibration(0.9) == pytest.approx(0.75)
    assert (calibration(-1.0), calibration(2.0)) == (0.0, 1.0)
    grid = [i / 1000 for i in range(1001)]
    values = [calibration(x) for x in grid]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert Calibration.from_json(calibration.to_json()) == calibration
    assert IDENTITY_CALIBRATION(0.37) == pytest.approx(0.37)


@pytest.mark.parametrize(
    "knots",
    [
        [[0.0, 0.0]],  # one knot
        [[0.0, 0.5], [0.5, 0.4], [1.0, 1.0]],  # confidence falls
        [[0.0, 0.0], [0.0, 0.5], [1.0, 1.0]],  # raw repeats
        [[0.0, 0.0], [1.0]],  # not a pair
        {"a": 1},
    ],
)
def test_non_monotone_or_malformed_calibration_is_refused(knots: object) -> None:
    with pytest.raises(ValueError):
        Calibration.from_json(knots)


LABELS = ("a", "b", "c")


def test_rank_topics_takes_the_softmax_for_the_primary_and_has_scores_for_secondary() -> None:
    cats = {"a": 0.2, "b": 0.7, "c": 0.1, "has:a": 0.9, "has:b": 0.95, "has:c": 0.45}
    assert rank_topics(cats, LABELS, 0.4) == ("b", 0.7, ("a", "c"))
    assert rank_topics(cats, LABELS, 0.5) == ("b", 0.7, ("a",))


def test_rank_topics_of_a_version_1_model_uses_the_softmax_shares() -> None:
    cats = {"a": 0.3, "b": 0.6, "c": 0.1}
    assert rank_topics(cats, LABELS, 0.25) == ("b", 0.6, ("a",))
    assert rank_topics({"a": 0.5, "b": 0.5, "c": 0.0}, LABELS, 0.25)[0] == "a"  # first wins


@pytest.mark.skipif(not SHIPPED_MODEL.is_dir(), reason="models/topics not built yet")
@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Wie hoch ist die Förderquote?", "foerderung"),
        ("Wird die Sprechstunde aufgezeichnet?", "organisation"),
        ("Fällt bei Leistungen zwischen Gemeinden Umsatzsteuer an?", "steuern"),
    ],
)
def test_shipped_model_loads_and_records_its_version(
    taxonomy: tuple[Topic, ...], question: str, topic: str
) -> None:
    classifier = load_topic_classifier(SHIPPED_MODEL, taxonomy)
    assert isinstance(classifier, SpacyTopicClassifier)
    assert classifier.version.startswith("topics-")
    prediction = classifier.predict([question])[0]
    assert prediction.topic == topic
    assert prediction.source is TopicSource.MODEL
    assert prediction.model_version == classifier.version
    assert 0.0 < prediction.confidence <= 1.0


@pytest.mark.skipif(not SHIPPED_MODEL.is_dir(), reason="models/topics not built yet")
def test_shipped_model_names_secondary_topics_and_the_ask_decides_the_primary(
    taxonomy: tuple[Topic, ...],
) -> None:
    classifier = load_topic_classifier(SHIPPED_MODEL, taxonomy)
    kiosk_form, kiosk_only = classifier.predict(
        [
            "Welche Rechtsform empfehlen Sie für einen gemeinsamen Gesundheitskiosk?",
            "Wie erreicht ein Gesundheitskiosk ältere Menschen auf dem Land?",
        ]
    )
    assert kiosk_form.topic == "rechtsform"
    assert "gesundheit" in kiosk_form.secondary
    assert kiosk_only.topic == "gesundheit"


def _features_by_definition(words: tuple[str, ...], min_n: int, max_n: int) -> dict[int, float]:
    """The char-n-gram bag of words as ikz.CharNgramBOW.v1 defines it, written out plainly:
    per word "w:" + word and the n-grams of "<word>", shortest first; counts in first-seen order."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]

    counts: dict[int, float] = {}
    for word in words:
        padded = f"<{word}>"
        grams = ["w:" + word]
        for size in range(min_n, max_n + 1):
            grams += [padded[i : i + size] for i in range(len(padded) - size + 1)]
        for gram in grams:
            key = int(hash_string(gram))
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts


def test_char_ngram_features_match_their_definition_with_and_without_the_word_cache() -> None:
    import functools

    from ikz_inbox.classify import _word_features, _word_keys

    word_keys = functools.lru_cache(maxsize=2)(functools.partial(_word_keys, min_n=2, max_n=5))
    texts = [
        ("wie", "hoch", "ist", "die", "förderquote", "für", "die", "förderquote"),
        ("förderquote", "ikz", "§", "2b", "ustg"),  # the cache now evicts and refills
        (),
    ]
    for words in texts:
        expected = _features_by_definition(words, 2, 5)
        keys, values = _word_features(words, word_keys=word_keys, word_ngram_size=1)
        assert keys.tolist() == list(expected)  # the same keys in the same order
        norm = sum(count * count for count in expected.values()) ** 0.5
        assert values.tolist() == pytest.approx([count / norm for count in expected.values()])
