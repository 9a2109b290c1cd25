"""Tests of the dedup stage: similarity, lexicon handling and clustering."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ikz_inbox.dedup import (
    DedupIndex,
    DedupModel,
    cluster_questions,
    load_dedup_model,
    question_similarity,
)
from ikz_inbox.errors import ConfigError
from ikz_inbox.types import ClusterConstraints, DedupItem

ROOT = Path(__file__).resolve().parents[2]
LEXICON = ROOT / "config" / "lexicon.toml"
PAIRS = ROOT / "tests" / "data" / "dedup" / "pairs.jsonl"


@pytest.fixture(scope="module")
def model() -> DedupModel:
    return load_dedup_model(LEXICON)


PARAPHRASES = [
    ("Wie hoch ist die Förderquote?", "What is the funding rate for joint projects?"),
    ("Welchen Fördersatz bekommen wir?", "Wie viel Prozent der Kosten übernimmt das Land?"),
    ("Gibt es einen Stichtag für Förderanträge?", "Bis wann müssen wir den Antrag stellen?"),
    (
        "Müssen wir der Nachbargemeinde Umsatzsteuer in Rechnung stellen?",
        "Does VAT apply when one municipality works for another?",
    ),
    (
        "Gilt § 2b UStG für unsere Kooperation?",
        "Ist die Zusammenarbeit nach Paragraf 2b Umsatzsteuergesetz steuerbar?",
    ),
    (
        "Wie wird der Gesundheitskiosk finanziert?",
        "Wer bezahlt eigentlich so einen Kiosk für Gesundheit?",
    ),
    ("Wird die Sprechstunde aufgezeichnet?", "Will the session be recorded?"),
    ("Wo finde ich den Zugangslink?", "Wie lautet der Link zur Einwahl?"),
    (
        "Zweckverband oder ÖRV?",
        "Ist ein Zweckverband oder eine öffentlich-rechtliche Vereinbarung besser?",
    ),
]

HARD_NEGATIVES = [
    ("Gilt § 2b UStG für unsere Kooperation?", "Wann endet die Übergangsfrist für § 2b UStG?"),
    ("Wie hoch ist die Förderquote?", "Bis wann muss der Förderantrag gestellt werden?"),
    (
        "Bis wann muss der Förderantrag gestellt werden?",
        "Bis wann ist der Verwendungsnachweis vorzulegen?",
    ),
    (
        "Ist eine horizontale Zusammenarbeit nach § 108 Abs. 6 GWB ausschreibungsfrei?",
        "Dürfen wir unsere gemeinsame AöR per Inhouse-Vergabe beauftragen?",
    ),
    ("Wie wird der Gesundheitskiosk finanziert?", "Welcher Vertrag regelt den Gesundheitskiosk?"),
    ("Wird die Sprechstunde aufgezeichnet?", "Bekommen wir die Folien?"),
    ("Bekommen wir die Folien?", "Wo finde ich den Zugangslink?"),
    ("What is the funding rate?", "When is the application deadline?"),
]


@pytest.mark.parametrize(("a", "b"), PARAPHRASES)
def test_paraphrases_reach_the_threshold(model: DedupModel, a: str, b: str) -> None:
    assert question_similarity(a, b, model) >= model.threshold


@pytest.mark.parametrize(("a", "b"), HARD_NEGATIVES)
def test_hard_negatives_stay_below_the_threshold(model: DedupModel, a: str, b: str) -> None:
    assert question_similarity(a, b, model) < model.threshold


@pytest.mark.parametrize(("a", "b"), PARAPHRASES[:4] + HARD_NEGATIVES[:4])
def test_similarity_is_symmetric_and_in_range(model: DedupModel, a: str, b: str) -> None:
    forward = question_similarity(a, b, model, "foerderung", "steuern")
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(question_similarity(b, a, model, "steuern", "foerderung"))


def test_identical_questions_score_one(model: DedupModel) -> None:
    text = "Wie hoch ist die Förderquote für IKZ-Projekte?"
    assert question_similarity(text, text, model) == pytest.approx(1.0)


def test_different_topics_lower_the_score(model: DedupModel) -> None:
    a, b = "Wie wird das finanziert?", "Wie wird das Projekt finanziert?"
    same = question_similarity(a, b, model, "gesundheit", "gesundheit")
    different = question_similarity(a, b, model, "gesundheit", "rechtsform")
    assert different < same


def test_own_calibration_pairs_are_separated(model: DedupModel) -> None:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    hits = [
        (question_similarity(r["a"], r["b"], model, r["topic_a"], r["topic_b"]) >= model.threshold)
        == r["same"]
        for r in rows
    ]
    assert sum(hits) / len(hits) >= 0.85


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gilt Paragraf 2b Umsatzsteuergesetz?", {"§2b", "ustg"}),
        ("Gilt § 2b UStG?", {"§2b", "ustg"}),
        ("Nach §108 Abs. 6 GWB", {"§108", "abs6", "gwb"}),
        ("Art. 26 DSGVO", {"art26", "dsgvo"}),
        ("Article 26 GDPR", {"art26", "dsgvo"}),
    ],
)
def test_legal_references_are_normalised(model: DedupModel, text: str, expected: set[str]) -> None:
    assert expected <= set(model.analyse(text).tokens)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Förderquote", "Foerderquote"),
        ("Übergangsfrist", "Uebergangsfrist"),
        ("Maßnahme", "Massnahme"),
    ],
)
def test_umlauts_are_folded(model: DedupModel, a: str, b: str) -> None:
    assert model.analyse(a).tokens == model.analyse(b).tokens


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Gesundheitskiosks", "gesundheitskiosk"),
        ("ein Kiosk für Gesundheit", "gesundheitskiosk"),
        ("die Antragsfrist", "frist"),
        ("Fördersätze", "foerderquote"),
        ("USt", "umsatzsteuer"),
        ("VAT", "umsatzsteuer"),
        ("ÖRV", "oerv"),
        ("Ab wann gilt § 2b UStG für uns?", "uebergangsfrist"),
        ("Wie viel Förderung gibt es?", "foerderquote"),
    ],
)
def test_compounds_and_abbreviations_find_concepts(
    model: DedupModel, text: str, concept: str
) -> None:
    assert concept in model.analyse(text).concepts


def test_lexicon_with_invalid_setting_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "lexicon.toml"
    text = LEXICON.read_text(encoding="utf-8").replace("threshold = ", "threshold = 7 #", 1)
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_dedup_model(broken)


def test_unreadable_lexicon_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "lexicon.toml"
    broken.write_text("[model\nthreshold = ", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_dedup_model(broken)


QUESTIONS = [
    "Wie hoch ist die Förderquote?",
    "Gilt § 2b UStG für unsere Kooperation?",
    "What is the funding rate?",
    "Mit welchem Fördersatz können wir rechnen?",
    "Müssen wir der Nachbarstadt Umsatzsteuer berechnen?",
    "Wird die Sprechstunde aufgezeichnet?",
    "Bis wann muss der Antrag gestellt werden?",
    "Gibt es einen Stichtag für Anträge?",
    "Bekommen wir die Folien?",
    "Wann endet die Übergangsfrist nach § 27 Abs. 22 UStG?",
]


def _items(event: str | None = "sprechstunde") -> list[DedupItem]:
    return [
        DedupItem(qid, text, "foerderung", f"asker-{qid}", event)
        for qid, text in enumerate(QUESTIONS, start=1)
    ]


def test_cluster_questions_groups_paraphrases(model: DedupModel) -> None:
    clusters = cluster_questions(_items(), model)
    assert clusters[1] == clusters[3] == clusters[4] == 1
    assert clusters[7] == clusters[8]
    assert clusters[1] != clusters[7]
    assert clusters[2] != clusters[10]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_full_clustering_equals_incremental_adds(model: DedupModel, seed: int) -> None:
    items = _items()
    shuffled = items[:]
    random.Random(seed).shuffle(shuffled)
    index = DedupIndex(model)
    returned = {item.question_id: index.add(item) for item in items}
    full = cluster_questions(shuffled, model)
    assert full == index.assignments()
    assert returned == full


def test_cluster_keys_are_the_smallest_member(model: DedupModel) -> None:
    clusters = cluster_questions(_items(), model)
    for qid, key in clusters.items():
        assert key == min(q for q, k in clusters.items() if k == key)
        assert key <= qid


def test_clustering_is_deterministic(model: DedupModel) -> None:
    first = cluster_questions(_items(), model)
    assert all(cluster_questions(_items(), model) == first for _ in range(3))


def test_must_link_joins_unrelated_questions(model: DedupModel) -> None:
    constraints = ClusterConstraints(must_link=frozenset({(6, 9)}))
    clusters = cluster_questions(_items(), model, constraints)
    assert clusters[6] == clusters[9]


def test_cannot_link_separates_paraphrases(model: DedupModel) -> None:
    constraints = ClusterConstraints(cannot_link=frozenset({(3, 1)}))
    clusters = cluster_questions(_items(), model, constraints)
    assert clusters[1] != clusters[3]


def test_must_link_merges_existing_clusters(model: DedupModel) -> None:
    index = DedupIndex(model, ClusterConstraints(must_link=frozenset({(6, 11), (9, 11)})))
    for item in _items():
        index.add(item)
    key = index.add(
        DedupItem(11, "Noch eine Frage zur Technik", "organisation", "x", "sprechstunde")
    )
    assignments = index.assignments()
    assert key == assignments[6] == assignments[9] == assignments[11] == 6


def test_questions_of_different_events_never_share_a_cluster(model: DedupModel) -> None:
    items = [
        DedupItem(1, "Wo finde ich den Zugangslink?", "organisation", "a", "sprechstunde"),
        DedupItem(2, "Wo finde ich den Zugangslink?", "organisation", "b", "tourismus"),
        DedupItem(3, "Wo ist der Link zur Einwahl?", "organisation", "c", "sprechstunde"),
        DedupItem(4, "Wo finde ich den Zugangslink?", "organisation", "d", None),
    ]
    clusters = cluster_questions(items, model)
    assert clusters == {1: 1, 2: 2, 3: 1, 4: 4}


def test_adding_a_question_twice_is_refused(model: DedupModel) -> None:
    index = DedupIndex(model)
    item = _items()[0]
    index.add(item)
    with pytest.raises(ValueError, match="already added"):
        index.add(item)


@pytest.mark.parametrize(
    ("text", "aspect"),
    [
        ("Bis wann läuft die Frist?", "when"),
        ("When does the transition period end?", "when"),
        ("Wie hoch ist der Zuschuss?", "how_much"),
        ("Wer ist zuständig?", "who"),
        ("Wird die Sprechstunde aufgezeichnet?", "whether"),
    ],
)
def test_aspects_are_recognised(model: DedupModel, text: str, aspect: str) -> None:
    assert aspect in model.analyse(text).aspects


def test_english_when_inside_a_sentence_is_no_aspect(model: DedupModel) -> None:
    assert "when" not in model.analyse("Does VAT apply when we work together?").aspects
