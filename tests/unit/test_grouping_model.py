"""The learned grouping model: ask model, pair model, the coherence rule, training."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ikz_inbox.dedup import DedupIndex, cluster_questions, load_dedup_model
from ikz_inbox.dedup.asks import AskModel, ask_features, load_ask_model
from ikz_inbox.dedup.learn import read_asks, train_grouping_model
from ikz_inbox.dedup.pairs import FEATURE_NAMES, PAIR_MODEL_FORMAT, PairModel, load_pair_model
from ikz_inbox.dedup.similarity import DedupModel, profile_of, profile_similarity
from ikz_inbox.errors import ConfigError, ModelError
from ikz_inbox.modelfiles import is_held_out_ask
from ikz_inbox.types import DedupItem

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "dedup" / "paraphrases"


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> DedupModel:
    cache = tmp_path_factory.mktemp("cache")
    return load_dedup_model(REPO / "config" / "lexicon.toml", cache_dir=cache)


def token_overlap_model(base: DedupModel, *, threshold: float, share: float) -> DedupModel:
    """A learned model whose similarity is a steep function of content-lemma overlap only:
    probability sigmoid(10 * cosine - 3), so half the lemmas shared gives 0.88, none 0.05."""
    no_ask = AskModel(("any",), {}, np.zeros((1, 0)), np.zeros(1))
    weights = tuple(10.0 if name == "token_cosine" else 0.0 for name in FEATURE_NAMES)
    pairs = PairModel(weights, {}, -3.0, threshold, share, {})
    return replace(base, asks=no_ask, pairs=pairs)


def item(qid: int, text: str, topic: str = "sonstiges") -> DedupItem:
    return DedupItem(question_id=qid, text=text, topic=topic, asker=f"a{qid}", event_id="e1")


# Four questions in a chain: each shares half its content words with the next only.
CHAIN = [
    "Bauhof Streusalz Winterdienst Kehrmaschine",
    "Winterdienst Kehrmaschine Friedhof Grabfeld",
    "Friedhof Grabfeld Standesamt Trauzimmer",
    "Standesamt Trauzimmer Feuerwehr Drehleiter",
]


def test_a_chain_through_one_neighbour_does_not_join_a_cluster(base_model: DedupModel) -> None:
    model = token_overlap_model(base_model, threshold=0.5, share=0.5)
    items = [item(i + 1, text) for i, text in enumerate(CHAIN)]
    clusters = cluster_questions(items, model)
    # 2 joins 1 (half shared); 3 matches 2 but not the representative 1; 4 then joins 3.
    assert clusters == {1: 1, 2: 1, 3: 3, 4: 3}


def test_without_the_coherence_rule_the_chain_joins_everything(base_model: DedupModel) -> None:
    model = token_overlap_model(base_model, threshold=0.5, share=0.0)
    clusters = cluster_questions([item(i + 1, text) for i, text in enumerate(CHAIN)], model)
    assert set(clusters.values()) == {1}


def test_a_question_must_reach_most_members_not_only_the_representative(
    base_model: DedupModel,
) -> None:
    members = [
        "Bauhof Streusalz Winterdienst Kehrmaschine",
        "Bauhof Streusalz Winterdienst Kehrmaschine Fahrzeug",
        "Bauhof Streusalz Winterdienst Kehrmaschine Fahrzeug Halle",
    ]
    newcomer = "Bauhof Streusalz Friedhof Grabfeld Trauzimmer Drehleiter"
    strict = token_overlap_model(base_model, threshold=0.7, share=1.0)
    index = DedupIndex(strict)
    keys = [index.add(item(i + 1, text)) for i, text in enumerate(members)]
    assert keys == [1, 1, 1]
    probabilities = [
        profile_similarity(
            profile_of(strict.analyse(newcomer), strict),
            profile_of(strict.analyse(text), strict),
            strict,
        )
        for text in members
    ]
    assert probabilities[0] >= 0.7 > min(probabilities)  # the representative alone is reached
    assert index.add(item(4, newcomer)) == 4


def test_incremental_and_restored_indexes_agree_under_the_coherence_rule(
    base_model: DedupModel,
) -> None:
    model = token_overlap_model(base_model, threshold=0.5, share=0.5)
    items = [item(i + 1, text) for i, text in enumerate(CHAIN)]
    full = cluster_questions(items, model)
    restored = DedupIndex(model)
    for stored in items[:3]:
        restored.restore(stored, full[stored.question_id])
    assert restored.add(items[3]) == full[4]


def test_the_learned_similarity_ignores_topics(base_model: DedupModel) -> None:
    model = token_overlap_model(base_model, threshold=0.5, share=0.5)
    a, b = model.analyse(CHAIN[0]), model.analyse(CHAIN[1])
    same = profile_similarity(
        profile_of(a, model, "finanzen"), profile_of(b, model, "finanzen"), model
    )
    other = profile_similarity(
        profile_of(a, model, "finanzen"), profile_of(b, model, "steuern"), model
    )
    assert same == other


def test_ask_features_mark_the_opening_words() -> None:
    features = ask_features(("bis", "wann", "antrag"))
    assert {"w:bis", "b:bis_wann", "o0:bis", "o1:wann", "o2:antrag"} <= set(features)


def test_trained_models_round_trip_and_score_the_same(
    base_model: DedupModel, tmp_path: Path
) -> None:
    result = train_grouping_model(SAMPLE, base_model, tmp_path)
    assert (tmp_path / "asks.npz").is_file() and (tmp_path / "pairs.json").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["asks"] == result.asks == len(read_asks(SAMPLE))
    assert metrics["held_out_asks"] == sum(is_held_out_ask(ask.id) for ask in read_asks(SAMPLE))
    assert 0.0 <= metrics["held_out"]["f1"] <= 1.0
    loaded = load_dedup_model(
        REPO / "config" / "lexicon.toml", cache_dir=tmp_path / "cache", model_dir=tmp_path
    )
    assert loaded.pairs is not None and loaded.asks is not None
    assert loaded.version.startswith("learned-")
    a = profile_of(loaded.analyse("Wie hoch ist die Förderquote?"), loaded)
    b = profile_of(loaded.analyse("Wie viel Prozent übernimmt das Land?"), loaded)
    ask_model = load_ask_model(tmp_path / "asks.npz")
    pair_model = load_pair_model(tmp_path / "pairs.json")
    assert pair_model.threshold == loaded.threshold
    again = replace(loaded, asks=ask_model, pairs=pair_model)
    assert profile_similarity(a, b, loaded) == profile_similarity(
        profile_of(again.analyse("Wie hoch ist die Förderquote?"), again),
        profile_of(again.analyse("Wie viel Prozent übernimmt das Land?"), again),
        again,
    )


def test_the_held_out_fold_is_stable() -> None:
    # crc32 of the id decides, so a re-run or another machine holds out the same asks.
    assert [is_held_out_ask(f"ask-{n}") for n in range(10)] == [
        is_held_out_ask(f"ask-{n}") for n in range(10)
    ]
    shares = sum(is_held_out_ask(f"ask-{n}") for n in range(1000)) / 1000
    assert 0.15 < shares < 0.25


def test_a_model_with_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(
        json.dumps(
            {
                "format": PAIR_MODEL_FORMAT,
                "features": ["something_else"],
                "coefficients": [1.0],
                "intercept": 0.0,
                "threshold": 0.5,
                "member_share": 0.5,
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match="other features"):
        load_pair_model(path)


def test_missing_model_files_fall_back_to_the_lexicon_blend(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        model = load_dedup_model(
            REPO / "config" / "lexicon.toml", cache_dir=tmp_path / "cache", model_dir=tmp_path
        )
    assert model.version == "lexicon-blend"
    assert model.pairs is None
    assert "falling back to the lexicon blend" in caplog.text


def test_invalid_paraphrase_data_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text(
        '{"id": "x", "topic": "steuern", "object": "o", "ask": "other", "wordings": ["nur eine"]}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"bad.jsonl:1"):
        read_asks(tmp_path)


def test_suggestions_list_near_misses_and_doubtful_members(base_model: DedupModel) -> None:
    from ikz_inbox.dedup.suggest import suggest_decisions
    from ikz_inbox.types import GroupedQuestions

    model = token_overlap_model(base_model, threshold=0.9, share=0.5)
    clusters = [
        GroupedQuestions(1, "e1", ((1, CHAIN[0]), (2, CHAIN[1]))),  # half shared: doubtful
        GroupedQuestions(3, "e1", ((3, CHAIN[2]),)),  # half shared with 2, none with 1
        GroupedQuestions(4, "e2", ((4, CHAIN[0]),)),  # another event: never merged with 1
    ]
    found = suggest_decisions(clusters, model)
    keys = {s.key for s in found}
    assert "split:1:2" in keys
    assert not any(
        s.action == "merge" and {s.question_id, s.other_question_id} == {1, 4} for s in found
    )
    distances = [abs(s.similarity - model.threshold) for s in found]
    assert distances == sorted(distances)


def test_lexicon_member_share_is_validated(tmp_path: Path) -> None:
    from ikz_inbox.dedup.lexicon import read_lexicon

    text = (REPO / "config" / "lexicon.toml").read_text(encoding="utf-8")
    bad = tmp_path / "lexicon.toml"
    bad.write_text(text.replace("[model]\n", "[model]\nmember_share = 2\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="member_share"):
        read_lexicon(bad)
    good = tmp_path / "good.toml"
    good.write_text(text.replace("[model]\n", "[model]\nmember_share = 0.5\n", 1), encoding="utf-8")
    assert read_lexicon(good).settings.member_share == 0.5
    assert read_lexicon(REPO / "config" / "lexicon.toml").settings.member_share == 0.0


def test_a_chained_cluster_is_flagged_incoherent(base_model: DedupModel) -> None:
    from ikz_inbox.dedup import cluster_coherence, is_incoherent

    same = ["Wie hoch ist die Förderquote?", "Wie hoch ist die Förderquote genau?"]
    assert not is_incoherent(cluster_coherence(same, base_model), base_model)
    assert is_incoherent(cluster_coherence(CHAIN, base_model), base_model)
    assert cluster_coherence(same[:1], base_model) == 1.0


def test_cosine_concept_overlap_forgives_context_the_other_question_leaves_out(
    tmp_path: Path,
) -> None:
    from ikz_inbox.dedup.lexicon import read_lexicon

    text = (REPO / "config" / "lexicon.toml").read_text(encoding="utf-8")
    jaccard = tmp_path / "jaccard.toml"
    jaccard.write_text(
        text.replace('concept_overlap = "cosine"', 'concept_overlap = "jaccard"'), encoding="utf-8"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('concept_overlap = "cosine"', 'concept_overlap = "dice"'), "utf-8")
    with pytest.raises(ConfigError, match="concept_overlap"):
        read_lexicon(bad)
    short = "Wie hoch ist die Förderquote?"
    with_context = "Wie hoch ist die Förderquote für den gemeinsamen Bauhof in der LEADER-Region?"
    scores = {}
    for name, path in (("cosine", REPO / "config" / "lexicon.toml"), ("jaccard", jaccard)):
        model = load_dedup_model(path, cache_dir=tmp_path / "cache")
        a, b = (profile_of(model.analyse(t), model) for t in (short, with_context))
        scores[name] = profile_similarity(a, b, model)
    assert scores["cosine"] > scores["jaccard"]
