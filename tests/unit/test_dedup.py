"""Tests of the dedup stage: similarity, lexicon handling and clustering."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ikz_inbox.dedup import (
    DedupIndex,
    DedupModel,
    cluster_questions,
    load_dedup_model,
    question_similarity,
)
from ikz_inbox.dedup.lemmas import LanguageData, load_language_data
from ikz_inbox.dedup.lexicon import read_lexicon
from ikz_inbox.dedup.similarity import lemma_lookup, profile_of, profile_similarity
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


# ---------------------------------------------------------------- restoring from the store
TEMPLATES = (
    "Wie ist das mit {a} bei {place}?",
    "Was gilt für {a} und {b}, wenn {place} mitmacht?",
    "Können Sie etwas zu {a} sagen, insbesondere zu {b}?",
    "Bis wann gibt es Hinweise zu {a}?",
    "Wie hoch ist {a} für {place}?",
    "Is there guidance on {a}?",
    "{a}?",
)
PLACES = ("Lemgo", "Olpe", "Soest", "den Kreis Lippe", "die Nachbargemeinde")
VARIED_TERMS = (
    "Förderquote",
    "Antragsfrist",
    "Verwendungsnachweis",
    "Zweckverband",
    "öffentlich-rechtliche Vereinbarung",
    "§ 2b UStG",
    "Übergangsfrist",
    "Inhouse-Vergabe",
    "Personalgestellung",
    "Gesundheitskiosk",
    "Aufzeichnung",
    "Zugangslink",
)
TOPICS = ("foerderung", "steuern", "rechtsform", "organisation")
EVENTS = ("sprechstunde", "spotlight", None)


def _varied_items(count: int, seed: int) -> list[DedupItem]:
    """Questions from templates and a few fixed lexicon terms, so that many share a cluster
    (fixed, not sampled from the lexicon: a growing lexicon must not change the case)."""
    rng = random.Random(seed)
    terms = list(VARIED_TERMS)
    items = []
    for qid in range(1, count + 1):
        text = rng.choice(TEMPLATES).format(
            a=rng.choice(terms), b=rng.choice(terms), place=rng.choice(PLACES)
        )
        event = rng.choice(EVENTS)
        items.append(DedupItem(qid, text, rng.choice(TOPICS), f"asker-{qid % 7}", event))
    return items


def _varied_constraints(items: list[DedupItem], seed: int) -> ClusterConstraints:
    """Must-links that merge clusters formed earlier, cannot-links inside would-be clusters."""
    rng = random.Random(seed)
    by_event: dict[str | None, list[int]] = {}
    for item in items:
        by_event.setdefault(item.event_id, []).append(item.question_id)
    must: set[tuple[int, int]] = set()
    cannot: set[tuple[int, int]] = set()
    for qids in by_event.values():
        for _ in range(6):
            a, b = sorted(rng.sample(qids, 2))
            must.add((a, b))
            c, d = sorted(rng.sample(qids, 2))
            cannot.add((c, d))
    return ClusterConstraints(frozenset(must), frozenset(cannot - must))


def _assignments_after(
    model: DedupModel, items: list[DedupItem], constraints: ClusterConstraints
) -> list[dict[int, int]]:
    """question_id -> key after adding the first k items, for every k."""
    index = DedupIndex(model, constraints)
    snapshots = [index.assignments()]
    for item in items:
        index.add(item)
        snapshots.append(index.assignments())
    return snapshots


@pytest.fixture(scope="module")
def restore_case(
    model: DedupModel,
) -> tuple[list[DedupItem], ClusterConstraints, list[dict[int, int]]]:
    items = _varied_items(300, seed=7)
    constraints = _varied_constraints(items, seed=8)
    return items, constraints, _assignments_after(model, items, constraints)


def test_restore_case_is_not_trivial(
    restore_case: tuple[list[DedupItem], ClusterConstraints, list[dict[int, int]]],
) -> None:
    items, _, snapshots = restore_case
    final = snapshots[-1]
    sizes = sorted(list(final.values()).count(key) for key in set(final.values()))
    assert sizes[-1] >= 5 and 20 <= len(sizes) < len(items)
    # must-links merged clusters: some question's key changed after it was added
    assert any(snapshots[-1][qid] != snapshots[qid][qid] for qid in final)


@pytest.mark.parametrize("stored", [1, 2, 37, 150, 299, 300])
@pytest.mark.parametrize("shuffle", [False, True])
def test_restore_then_add_equals_adding_all(
    model: DedupModel,
    restore_case: tuple[list[DedupItem], ClusterConstraints, list[dict[int, int]]],
    stored: int,
    *,
    shuffle: bool,
) -> None:
    items, constraints, snapshots = restore_case
    keys = snapshots[stored]
    restored = items[:stored]
    if shuffle:
        restored = random.Random(stored).sample(restored, len(restored))
    index = DedupIndex(model, constraints)
    for item in restored:
        index.restore(item, keys[item.question_id])
    assert index.assignments() == keys
    for item in items[stored:]:
        returned = index.add(item)
        assert returned == snapshots[item.question_id][item.question_id]
    assert index.assignments() == snapshots[-1]
    assert len(index) == len(items)


def test_restore_keeps_a_key_that_comes_later_or_never(model: DedupModel) -> None:
    items = _items()
    index = DedupIndex(model)
    index.restore(items[3], 1)  # "Mit welchem Fördersatz ..." in the cluster keyed 1
    index.restore(items[2], 1)
    assert index.assignments() == {4: 1, 3: 1}
    assert (
        index.add(DedupItem(11, "Wie hoch ist die Förderquote?", "foerderung", "x", "sprechstunde"))
        == 1
    )
    index.restore(items[0], 1)
    assert index.assignments() == {1: 1, 3: 1, 4: 1, 11: 1}


def test_adding_a_pending_cluster_key_is_refused(model: DedupModel) -> None:
    items = _items()
    index = DedupIndex(model)
    index.restore(items[3], 1)
    with pytest.raises(ValueError, match="key of restored"):
        index.add(items[0])


@pytest.mark.parametrize(
    ("restores", "message"),
    [
        ([(1, 1), (1, 1)], "already added"),
        ([(1, 1), (1, 2)], "already added"),
        ([(2, 3)], "not its smallest"),
        ([(2, 5)], "not its smallest"),
        ([(3, 1), (5, 3)], "itself in cluster"),
        ([(5, 3), (3, 1)], "key of restored"),
        ([(5, 3), (3, 3), (4, 3), (6, 4)], "itself in cluster"),
    ],
)
def test_contradictory_restores_are_refused(
    model: DedupModel, restores: list[tuple[int, int]], message: str
) -> None:
    items = {item.question_id: item for item in _items()}
    index = DedupIndex(model)
    *valid, last = restores
    for qid, key in valid:
        index.restore(items[qid], key)
    with pytest.raises(ValueError, match=message):
        index.restore(items[last[0]], last[1])


def test_restoring_after_adding_is_refused_for_the_same_question(model: DedupModel) -> None:
    index = DedupIndex(model)
    item = _items()[0]
    index.add(item)
    with pytest.raises(ValueError, match="already added"):
        index.restore(item, 1)


# ---------------------------------------------------------------- the index's shortcuts
# The index's specification, written plainly and slowly: candidates are the stored questions
# of the same event with the largest weighted overlap of index keys (concept 2, content
# token 1, five-letter prefix of a longer token 0.5) over the newest 250 questions of each
# key, the 24 best (ties: the smaller id); the question joins the root of its most similar
# candidate when that reaches the threshold (ties: the smaller root).
SPEC_CANDIDATES = 24
SPEC_POSTING_CAP = 250


def _spec_keys(model: DedupModel, item: DedupItem) -> dict[tuple[str | None, str], float]:
    analysis = model.analyse(item.text)
    keys: dict[tuple[str | None, str], float] = {}
    for concept in analysis.concepts:
        keys[(item.event_id, "c:" + concept)] = 2.0
    for token in analysis.content:
        keys[(item.event_id, "t:" + token)] = 1.0
        if len(token) > 5:
            keys.setdefault((item.event_id, "p:" + token[:5]), 0.5)
    return keys


def _spec_clusters(model: DedupModel, items: list[DedupItem]) -> list[int]:
    """The cluster key of each item when it is added, by the plain specification."""
    postings: dict[tuple[str | None, str], list[int]] = {}
    parent: dict[int, int] = {}
    by_id = {item.question_id: item for item in items}

    def root_of(qid: int) -> int:
        while parent[qid] != qid:
            qid = parent[qid]
        return qid

    keys_returned = []
    for item in items:
        keys = _spec_keys(model, item)
        overlap: dict[int, float] = {}
        for key, weight in keys.items():
            for qid in postings.get(key, [])[-SPEC_POSTING_CAP:]:
                overlap[qid] = overlap.get(qid, 0.0) + weight
        ranked = sorted(overlap, key=lambda qid: (-overlap[qid], qid))[:SPEC_CANDIDATES]
        scored = [
            (question_similarity(item.text, by_id[q].text, model, item.topic, by_id[q].topic), q)
            for q in ranked
        ]
        eligible = [(score, -root_of(q)) for score, q in scored if score >= model.threshold]
        parent[item.question_id] = item.question_id
        if eligible:
            parent[item.question_id] = -max(eligible)[1]
        for key in keys:
            postings.setdefault(key, []).append(item.question_id)
        keys_returned.append(root_of(item.question_id))
    return keys_returned


def _crowded_items(count: int, seed: int) -> list[DedupItem]:
    """Few terms and places, mostly one event: keys with far more than 250 questions,
    many verbatim repeats, many ties."""
    rng = random.Random(seed)
    lexicon = read_lexicon(LEXICON)
    terms = rng.sample(sorted(term for concept in lexicon.concepts for term in concept.terms), 4)
    items = []
    for qid in range(1, count + 1):
        text = rng.choice(TEMPLATES).format(
            a=rng.choice(terms), b=rng.choice(terms), place=rng.choice(PLACES[:2])
        )
        event = "sprechstunde" if rng.random() < 0.85 else None
        items.append(DedupItem(qid, text, rng.choice(TOPICS), f"asker-{qid}", event))
    return items


@pytest.mark.parametrize("seed", [11, 12])
def test_index_follows_the_plain_specification(model: DedupModel, seed: int) -> None:
    items = _crowded_items(700, seed)
    event_count = sum(item.event_id == "sprechstunde" for item in items)
    assert event_count > 2 * SPEC_POSTING_CAP  # the cap on posting lists is exercised
    index = DedupIndex(model)
    assert [index.add(item) for item in items] == _spec_clusters(model, items)


@pytest.mark.parametrize(("a", "b"), PARAPHRASES + HARD_NEGATIVES)
@pytest.mark.parametrize("floor", [0.1, 0.39, 0.5, 0.8, 1.0])
def test_a_floor_never_hides_a_score_that_reaches_it(
    model: DedupModel, a: str, b: str, floor: float
) -> None:
    profile_a = profile_of(model.analyse(a), model, "foerderung")
    profile_b = profile_of(model.analyse(b), model, "foerderung")
    exact = profile_similarity(profile_a, profile_b, model)
    assert exact == question_similarity(a, b, model, "foerderung", "foerderung")
    with_floor = profile_similarity(profile_a, profile_b, model, floor)
    if exact >= floor:
        assert with_floor == exact
    else:
        assert exact <= with_floor < floor


def test_repeated_questions_share_their_analysis_but_not_their_cluster(model: DedupModel) -> None:
    text = "Wo finde ich den Zugangslink?"
    constraints = ClusterConstraints(cannot_link=frozenset({(1, 2)}))
    index = DedupIndex(model, constraints)
    keys = [
        index.add(DedupItem(qid, text, "organisation", f"a{qid}", "sprechstunde"))
        for qid in (1, 2, 3)
    ]
    keys.append(index.add(DedupItem(4, text, "organisation", "a4", "spotlight")))
    assert keys == [1, 2, 1, 4]


# ---------------------------------------------------------------- lemma table and its cache
@pytest.fixture(scope="module")
def language_data() -> LanguageData:
    return load_language_data()


def test_lemma_table_is_the_one_spacy_loads(language_data: LanguageData) -> None:
    from spacy.lookups import load_lookups

    spacy_table = load_lookups("de", ["lemma_lookup"]).get_table("lemma_lookup")
    assert len(language_data.lemmas) == len(spacy_table) > 100_000
    assert all(spacy_table.get(word) == lemma for word, lemma in language_data.lemmas.items())


@pytest.mark.parametrize(
    ("word", "lemma"),
    [("Sätze", "Satz"), ("Anträge", "Antrag"), ("Antrag", "Antrag"), ("Xqzt", None)],
)
def test_lemma_lookup_answers_lemmas_and_unknown_words(
    language_data: LanguageData, word: str, lemma: str | None
) -> None:
    assert lemma_lookup(language_data.lemmas)(word) == lemma


def test_stop_words_are_spacys_german_and_english(language_data: LanguageData) -> None:
    from spacy.lang.de.stop_words import STOP_WORDS as GERMAN
    from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH

    assert language_data.stop_words == frozenset(GERMAN | ENGLISH)


def test_cache_gives_the_same_data_and_is_reused(
    tmp_path: Path, language_data: LanguageData
) -> None:
    cache = tmp_path / "cache"
    assert load_language_data(cache) == language_data
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".bin"
    assert load_language_data(cache) == language_data


def test_broken_cache_is_rebuilt(tmp_path: Path, language_data: LanguageData) -> None:
    load_language_data(tmp_path)
    (cache_file,) = tmp_path.iterdir()
    cache_file.write_bytes(b"\x00broken")
    assert load_language_data(tmp_path) == language_data
    assert cache_file.stat().st_size > 1_000_000


def test_model_from_cache_analyses_like_the_model_without(
    tmp_path: Path, model: DedupModel
) -> None:
    load_dedup_model(LEXICON, tmp_path)
    cached = load_dedup_model(LEXICON, tmp_path)
    for text in QUESTIONS + [a for a, _ in PARAPHRASES]:
        assert cached.analyse(text) == model.analyse(text)


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


def test_importing_the_package_does_not_import_spacy() -> None:
    code = "import sys, ikz_inbox.dedup; print('spacy' in sys.modules)"
    assert _run_python(code) == "False"


def test_a_warm_cache_spares_importing_spacy(tmp_path: Path) -> None:
    load_language_data(tmp_path)
    code = (
        "import sys; from pathlib import Path; from ikz_inbox.dedup import load_dedup_model; "
        f"load_dedup_model(Path({str(LEXICON)!r}), Path({str(tmp_path)!r})); "
        "print('spacy' in sys.modules)"
    )
    assert _run_python(code) == "False"
