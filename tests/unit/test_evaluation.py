"""Our metrics must equal the reference scorer's (shared/evalsets/score.py) on any export."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ikz_inbox.evaluation import load_labels, score_export, token_f1, tokens


def reference_scorer(shared_dir: Path) -> ModuleType:
    path = shared_dir / "evalsets" / "score.py"
    spec = importlib.util.spec_from_file_location("reference_score", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def perturbed_export(labels: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """An imperfect export built from the labels: wrong kinds, lost and extra questions."""
    rng = random.Random(seed)
    kinds = ["frage", "anmeldung", "spam", "sonstiges"]
    messages: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    clusters: dict[int, int | None] = {}
    for row in labels:
        if rng.random() < 0.05:
            continue  # message missing from the export
        messages.append(
            {
                "message_id": row["message_id"],
                "kind": row["kind"] if rng.random() < 0.8 else rng.choice(kinds),
                "event": row["event"] if rng.random() < 0.8 else None,
                "sender_org": row["sender_org"] if rng.random() < 0.7 else "Stadt Irgendwo",
            }
        )
        for q in row.get("questions") or []:
            if rng.random() < 0.1:
                continue
            words = q["text"].split()
            text = " ".join(words[: max(1, int(len(words) * rng.uniform(0.3, 1.0)))])
            cluster = int(q["group"][1:]) if rng.random() < 0.7 else rng.randint(1, 40)
            clusters.setdefault(cluster, rng.choice([None, *range(1, 15)]))
            questions.append(
                {
                    "id": len(questions) + 1,
                    "message_id": row["message_id"],
                    "text": text,
                    "topic": q["topic"] if rng.random() < 0.8 else "sonstiges",
                    "cluster_id": cluster,
                }
            )
        if rng.random() < 0.2:
            questions.append(
                {
                    "id": len(questions) + 1,
                    "message_id": row["message_id"],
                    "text": "Vielen Dank im Voraus?",
                    "topic": "sonstiges",
                    "cluster_id": None,
                }
            )
    return {
        "schema": "ikz-inbox/export/1",
        "messages": messages,
        "questions": questions,
        "clusters": [{"id": cid, "rank": rank} for cid, rank in clusters.items()],
    }


@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_reference_scorer_on_perturbed_exports(shared_dir: Path, seed: int) -> None:
    reference = reference_scorer(shared_dir)
    labels = load_labels(shared_dir / "evalsets" / "dev" / "labels.jsonl")
    export = perturbed_export(labels, seed)
    ours = score_export(labels, export)
    theirs = reference.score(
        reference.load_labels(str(shared_dir / "evalsets/dev/labels.jsonl")),
        json.loads(json.dumps(export)),
    )
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_export_scores_one(shared_dir: Path) -> None:
    labels = load_labels(shared_dir / "evalsets" / "dev" / "labels.jsonl")
    export = perturbed_export(labels, seed=0)
    export["messages"] = [
        {
            "message_id": r["message_id"],
            "kind": r["kind"],
            "event": r["event"],
            "sender_org": r["sender_org"],
        }
        for r in labels
    ]
    groups = sorted({q["group"] for r in labels for q in r.get("questions") or []})
    export["questions"] = [
        {
            "id": i,
            "message_id": r["message_id"],
            "text": q["text"],
            "topic": q["topic"],
            "cluster_id": groups.index(q["group"]),
        }
        for i, (r, q) in enumerate((r, q) for r in labels for q in r.get("questions") or [])
    ]
    export["clusters"] = [{"id": i, "rank": i + 1} for i in range(len(groups))]
    metrics = score_export(labels, export)
    for key in ("kind_accuracy", "question_f1", "topic_macro_f1", "dedup_pairwise_f1"):
        assert metrics[key] == pytest.approx(1.0), key


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("Förderquote?", "foerderquote", 1.0), ("a b c d", "a b", 2 / 3), ("", "x", 0.0)],
)
def test_token_f1(a: str, b: str, expected: float) -> None:
    assert token_f1(a, b) == pytest.approx(expected)


def test_tokens_keep_paragraph_sign() -> None:
    assert tokens("Gilt § 2b UStG?") == ["gilt", "§", "2b", "ustg"]


def test_top_ten_purity_counts_mixed_asks_in_top_clusters() -> None:
    labels = [
        {
            "message_id": "<a>",
            "kind": "frage",
            "questions": [
                {"text": "Wie hoch ist die Förderquote", "topic": "foerderung", "group": "G1"},
                {"text": "Bis wann läuft die Antragsfrist", "topic": "foerderung", "group": "G2"},
                {"text": "Wer ist Arbeitgeber bei Gestellung", "topic": "personal", "group": "G3"},
            ],
        }
    ]
    export = {
        "messages": [{"message_id": "<a>", "kind": "frage"}],
        "questions": [
            {"id": 1, "message_id": "<a>", "text": "Wie hoch ist die Förderquote", "cluster_id": 7},
            {
                "id": 2,
                "message_id": "<a>",
                "text": "Bis wann läuft die Antragsfrist",
                "cluster_id": 7,
            },
            {
                "id": 3,
                "message_id": "<a>",
                "text": "Wer ist Arbeitgeber bei Gestellung",
                "cluster_id": 8,
            },
        ],
        "clusters": [{"id": 7, "rank": 1}, {"id": 8, "rank": 11}],
    }
    metrics = score_export(labels, export)
    assert metrics["top10_purity"] == pytest.approx(0.5)  # only cluster 7 is in the top ten
    assert metrics["top10_max_groups"] == 2


def test_matched_questions_pair_labelled_and_exported_questions_one_to_one() -> None:
    from ikz_inbox.evaluation import matched_questions

    labels = [
        {
            "message_id": "<m>",
            "kind": "frage",
            "questions": [
                {"text": "Wie hoch ist die Förderquote", "topic": "foerderung", "group": "G1"},
                {"text": "Bis wann läuft die Antragsfrist", "topic": "foerderung", "group": "G2"},
            ],
        }
    ]
    export = {
        "questions": [
            {"id": 5, "message_id": "<m>", "text": "Bis wann läuft die Antragsfrist?"},
            {"id": 6, "message_id": "<m>", "text": "Ganz etwas anderes"},
        ]
    }
    pairs = matched_questions(labels, export)
    assert [(gold["group"], pred["id"]) for gold, pred in pairs] == [("G2", 5)]
