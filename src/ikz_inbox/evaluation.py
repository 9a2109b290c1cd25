"""Score an export against a labelled folder, with the metrics of SCORING.md.

In: the labels (``labels.jsonl`` rows) and an export document. Out: a dict of metrics. The
figures must equal those of the reference scorer ``shared/evalsets/score.py``; a test
checks that on the dev set.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from ikz_inbox.textnorm import WORD_TOKEN, fold
from ikz_inbox.types import ORGANISATION_TOPIC, MessageKind

# kind_macro_f1 averages over these (every kind, in declaration order).
KINDS = tuple(kind.value for kind in MessageKind)
# Labelled and extracted questions match when their token F1 is at least this.
MATCH_THRESHOLD = 0.5
# ranking_recall_at_10: the most-asked labelled groups, and the rank they must reach.
TOP_GROUPS = 5
TOP_RANK = 10


Labels = list[dict[str, Any]]


def load_labels(path: Path) -> Labels:
    """Read labels.jsonl and drop resends (rows with ``resend_of``)."""
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [row for row in rows if not row.get("resend_of")]


def score_export(labels: Labels, export: Mapping[str, Any]) -> dict[str, float | int]:
    """Every metric of SCORING.md for one export."""
    messages = {m["message_id"]: m for m in export.get("messages", [])}
    questions_by_message = _questions_by_message(export)
    matched = _match_all(labels, questions_by_message)
    predicted_total = sum(len(questions_by_message.get(r["message_id"], [])) for r in labels)
    gold_total = sum(len(row.get("questions") or []) for row in labels)
    clusters = {c["id"]: c for c in export.get("clusters", [])}
    dedup_items = [(gold["group"], pred.get("cluster_id")) for gold, pred in matched]
    precision = len(matched) / predicted_total if predicted_total else 0.0
    recall = len(matched) / gold_total if gold_total else 0.0
    topic_pairs = [(gold["topic"], pred.get("topic")) for gold, pred in matched]
    pairwise = _pairwise(dedup_items, _gold_pair_count(labels))
    bcubed = _bcubed(dedup_items)
    return {
        "messages": len(labels),
        "messages_accounted": _share(sum(r["message_id"] in messages for r in labels), len(labels)),
        **_kind_metrics(labels, messages),
        "event_accuracy": _event_accuracy(labels, messages),
        "sender_org_accuracy": _sender_org_accuracy(labels, messages),
        "gold_questions": gold_total,
        "predicted_questions": predicted_total,
        "question_precision": precision,
        "question_recall": recall,
        "question_f1": _f1(precision, recall),
        "topic_accuracy": _share(sum(g == p for g, p in topic_pairs), len(topic_pairs)),
        "topic_macro_f1": macro_f1(topic_pairs, sorted({g for g, _ in topic_pairs})),
        "dedup_bcubed_precision": bcubed[0],
        "dedup_bcubed_recall": bcubed[1],
        "dedup_bcubed_f1": bcubed[2],
        "dedup_pairwise_precision": pairwise[0],
        "dedup_pairwise_recall": pairwise[1],
        "dedup_pairwise_f1": pairwise[2],
        "ranking_recall_at_10": _ranking_recall(labels, matched, clusters),
        **_top_purity(matched, clusters),
    }


def matched_questions(
    labels: Labels, export: Mapping[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (labelled, exported) question pairs the metrics read, by SCORING.md's matching."""
    return _match_all(labels, _questions_by_message(export))


def _questions_by_message(export: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_message: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for question in export.get("questions", []):
        by_message[question["message_id"]].append(question)
    return by_message


def tokens(text: str | None) -> list[str]:
    """Lower-cased, umlaut-folded tokens of letters, digits and §."""
    folded = fold(text or "")
    return WORD_TOKEN.findall(folded)


def token_f1(a: str, b: str) -> float:
    """Token-multiset F1 of two texts."""
    left, right = Counter(tokens(a)), Counter(tokens(b))
    common = sum((left & right).values())
    if not common:
        return 0.0
    precision, recall = common / sum(right.values()), common / sum(left.values())
    return 2 * precision * recall / (precision + recall)


def macro_f1(pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]) -> float:
    """F1 averaged over the labels that occur as gold or prediction."""
    scores = []
    for label in labels:
        tp = sum(1 for gold, pred in pairs if gold == label and pred == label)
        fp = sum(1 for gold, pred in pairs if gold != label and pred == label)
        fn = sum(1 for gold, pred in pairs if gold == label and pred != label)
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def _match_all(
    labels: Labels, predicted: Mapping[str, list[dict[str, Any]]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    matched = []
    for row in labels:
        matched.extend(
            _match_message(row.get("questions") or [], predicted.get(row["message_id"], []))
        )
    return matched


def _match_message(
    gold: Sequence[dict[str, Any]], predicted: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Greedy one-to-one matching by falling token F1, while it is at least the threshold."""
    candidates = sorted(
        (
            (token_f1(g["text"], p["text"]), gi, pi)
            for gi, g in enumerate(gold)
            for pi, p in enumerate(predicted)
        ),
        reverse=True,
    )
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    pairs = []
    for similarity, gi, pi in candidates:
        if similarity < MATCH_THRESHOLD:
            break
        if gi in used_gold or pi in used_pred:
            continue
        used_gold.add(gi)
        used_pred.add(pi)
        pairs.append((gold[gi], predicted[pi]))
    return pairs


def _kind_metrics(labels: Labels, messages: Mapping[str, Any]) -> dict[str, float]:
    pairs = [
        (row["kind"], (messages.get(row["message_id"]) or {}).get("kind", "missing"))
        for row in labels
    ]
    # a missing message counts as wrong: its prediction is "missing"
    return {
        "kind_accuracy": _share(sum(g == p for g, p in pairs), len(pairs)),
        "kind_macro_f1": macro_f1(pairs, KINDS),
    }


def _event_accuracy(labels: Labels, messages: Mapping[str, Any]) -> float:
    rows = [row for row in labels if row["kind"] == MessageKind.FRAGE]
    hits = sum(
        1
        for row in rows
        if row["message_id"] in messages
        and messages[row["message_id"]].get("event") == row.get("event")
    )
    return _share(hits, len(rows))


def _sender_org_accuracy(labels: Labels, messages: Mapping[str, Any]) -> float:
    rows = [row for row in labels if row.get("sender_org")]
    hits = sum(
        1
        for row in rows
        if row["message_id"] in messages
        and tokens(messages[row["message_id"]].get("sender_org")) == tokens(row["sender_org"])
    )
    return _share(hits, len(rows))


def _gold_pair_count(labels: Labels) -> int:
    sizes = Counter(q["group"] for row in labels for q in row.get("questions") or [])
    return sum(n * (n - 1) // 2 for n in sizes.values())


def _pairwise(items: Sequence[tuple[str, Hashable]], gold_pairs: int) -> tuple[float, float, float]:
    tp = fp = 0
    for (group_a, cluster_a), (group_b, cluster_b) in combinations(items, 2):
        if cluster_a is None or cluster_a != cluster_b:
            continue
        if group_a == group_b:
            tp += 1
        else:
            fp += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / gold_pairs if gold_pairs else 0.0
    return precision, recall, _f1(precision, recall)


def _bcubed(items: Sequence[tuple[str, Hashable]]) -> tuple[float, float, float]:
    if not items:
        return 0.0, 0.0, 0.0
    gold_sizes = Counter(group for group, _ in items)
    cluster_sizes = Counter(cluster for _, cluster in items)
    both = Counter(items)
    precision = sum(both[item] / cluster_sizes[item[1]] for item in items) / len(items)
    recall = sum(both[item] / gold_sizes[item[0]] for item in items) / len(items)
    return precision, recall, _f1(precision, recall)


def _ranking_recall(
    labels: Labels,
    matched: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    clusters: Mapping[Any, Mapping[str, Any]],
) -> float:
    askers: dict[str, set[str]] = defaultdict(set)
    for row in labels:
        for question in row.get("questions") or []:
            if question["topic"] != ORGANISATION_TOPIC:
                askers[question["group"]].add(row["message_id"])
    top = sorted(askers, key=lambda group: (-len(askers[group]), group))[:TOP_GROUPS]
    best: dict[str, float] = {}
    for gold, pred in matched:
        rank = (clusters.get(pred.get("cluster_id")) or {}).get("rank")
        if rank is not None:
            best[gold["group"]] = min(best.get(gold["group"], float("inf")), rank)
    return _share(sum(best.get(group, float("inf")) <= TOP_RANK for group in top), len(top))


def _top_purity(
    matched: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    clusters: Mapping[Any, Mapping[str, Any]],
) -> dict[str, float | int]:
    """How many different labelled asks the clusters ranked in the top ten mix.

    ``top10_purity``: per top-ranked cluster holding a matched question, the share of its
    matched questions in its largest labelled group, averaged; ``top10_max_groups``: the most
    labelled groups found in one such cluster.
    """
    members: dict[Hashable, list[str]] = defaultdict(list)
    for gold, pred in matched:
        rank = (clusters.get(pred.get("cluster_id")) or {}).get("rank")
        if rank is not None and rank <= TOP_RANK:
            members[pred["cluster_id"]].append(gold["group"])
    shares = [max(Counter(groups).values()) / len(groups) for groups in members.values()]
    return {
        "top10_purity": sum(shares) / len(shares) if shares else 0.0,
        "top10_max_groups": max((len(set(groups)) for groups in members.values()), default=0),
    }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class MetricLine:
    """One printable metric."""

    name: str
    value: float | int

    def __str__(self) -> str:
        shown = f"{self.value:.3f}" if isinstance(self.value, float) else str(self.value)
        return f"{self.name:28s} {shown}"
