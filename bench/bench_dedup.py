"""Benchmark of the dedup stage; run by hand, prints figures.

    .venv/bin/python bench/bench_dedup.py [dev] [sts] [scale] [startup] [calibrate]
    .venv/bin/python bench/bench_dedup.py --workload generated [--count 10000]
        [--save-keys FILE | --compare-keys FILE]

dev        pairwise F1 of cluster_questions on ../shared/evalsets/dev (labelled questions,
           labelled topic and event, resends dropped) next to a TF-IDF cosine baseline whose
           threshold is the best in hindsight. Measures only; nothing is tuned on it.
sts        Spearman rho of question_similarity on stsb-multi-mt-de test, with the trained
           grouping model and with the lexicon blend, next to TF-IDF cosine.
scale      time and peak RSS of adding 1,000 new questions to 10k / 100k synthetic stored
           ones through DedupIndex, next to brute-force all-pairs similarity on 10k; then
           "restore": in a fresh process, DedupIndex.restore of the 100k stored questions with
           the keys add gave them (time, peak RSS) and adding the same 1,000 new ones.
startup    time of a fresh process to import ikz_inbox.dedup and load_dedup_model, without
           and with a warm lemma cache (cache_dir in a temporary directory).
calibrate  similarity threshold with the best F1 on tests/data/dedup/pairs.jsonl (pairs the
           team wrote), the figure that goes into config/lexicon.toml [model] threshold.

--workload generated  the questions of bench.mailgen.generate_messages(count, seed=2024) as
           the pipeline extracts and classifies them (parse, extract, shipped topic model),
           as DedupItems in message order; built once and pickled to /tmp. Times
           DedupIndex.add for all of them, in order, into an empty index: total seconds,
           median and p95 per add, clusters. --save-keys writes the keys add returned and
           the cluster_questions result as JSON; --compare-keys checks both against a file
           written before (a change of the code must not change a single cluster).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import pickle
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ikz_inbox.classify import load_taxonomy
from ikz_inbox.dedup import DedupIndex, DedupModel, cluster_questions, load_dedup_model
from ikz_inbox.dedup.lexicon import read_lexicon
from ikz_inbox.dedup.similarity import profile_of, profile_similarity, question_similarity
from ikz_inbox.types import DedupItem

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
LEXICON = ROOT / "config" / "lexicon.toml"
GROUPING_MODEL = ROOT / "models" / "grouping"
PAIRS = ROOT / "tests" / "data" / "dedup" / "pairs.jsonl"
SEED = 20241009


WORKLOAD_SEED = 2024
MODES = ("dev", "sts", "scale", "startup", "calibrate")


def main(argv: Sequence[str]) -> None:
    if argv[:1] == ["restore-child"]:
        _restore_child(Path(argv[1]))
        return
    parser = argparse.ArgumentParser(description="Benchmark of the dedup stage.")
    parser.add_argument("modes", nargs="*", help="dev, sts, scale, startup, calibrate")
    parser.add_argument("--workload", choices=["generated"])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--save-keys", type=Path)
    parser.add_argument("--compare-keys", type=Path)
    parser.add_argument(
        "--similarity",
        choices=["lexicon", "learned"],
        default="lexicon",
        help="the service's default lexicon blend, or the trained pair model of models/grouping",
    )
    args = parser.parse_args(argv)
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    if args.workload == "generated":
        print(f"== generated workload, {args.count} messages")
        bench_generated(args.count, args.save_keys, args.compare_keys)
        if not args.modes:
            return
    wanted = set(args.modes) or set(MODES)
    if "startup" in wanted:
        print("== startup")
        bench_startup()
    if not wanted - {"startup"}:
        return
    trained = GROUPING_MODEL if args.similarity == "learned" else None
    model = load_dedup_model(LEXICON, model_dir=trained)
    print(f"similarity: {model.version}, threshold {model.threshold}")
    for name, run in (
        ("calibrate", bench_calibrate),
        ("dev", bench_dev),
        ("sts", bench_sts),
        ("scale", bench_scale),
    ):
        if name in wanted:
            print(f"== {name}")
            run(model)


# ---------------------------------------------------------------- calibration
def bench_calibrate(model: DedupModel) -> None:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    scores = [
        question_similarity(r["a"], r["b"], model, r.get("topic_a"), r.get("topic_b")) for r in rows
    ]
    gold = [bool(r["same"]) for r in rows]
    grid = _threshold_grid()
    best_f1 = max(_binary_f1(scores, gold, t) for t in grid)
    best = [t for t in grid if _binary_f1(scores, gold, t) == best_f1]
    middle = best[len(best) // 2]
    print(f"pairs: {len(rows)} ({sum(gold)} same)")
    print(
        f"configured threshold {model.threshold:.2f}: F1 {_binary_f1(scores, gold, model.threshold):.3f}"
    )
    print(
        f"best F1 on own pairs {best_f1:.3f} for thresholds {best[0]:.2f}..{best[-1]:.2f}; middle {middle:.2f}"
    )
    for row, score, same in zip(rows, scores, gold, strict=True):
        if (score >= model.threshold) != same:
            print(f"  miss {score:.2f} same={same}: {row['a']} | {row['b']}")


def _binary_f1(scores: list[float], gold: list[bool], threshold: float) -> float:
    tp = sum(s >= threshold and g for s, g in zip(scores, gold, strict=True))
    fp = sum(s >= threshold and not g for s, g in zip(scores, gold, strict=True))
    fn = sum(s < threshold and g for s, g in zip(scores, gold, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _threshold_grid() -> list[float]:
    return [round(0.05 + 0.01 * i, 2) for i in range(91)]


# ---------------------------------------------------------------- dev set
def bench_dev(model: DedupModel) -> None:
    labels = SHARED / "evalsets" / "dev" / "labels.jsonl"
    if not labels.exists():
        print(f"skipped: {labels} not found")
        return
    items, groups = _dev_items(labels)
    gold_pairs = sum(n * (n - 1) // 2 for n in _sizes(groups.values()).values())
    started = time.perf_counter()
    ours = cluster_questions(items, model)
    elapsed = time.perf_counter() - started
    p, r, f = _pairwise(items, groups, ours, gold_pairs)
    print(f"questions {len(items)}, gold pairs {gold_pairs}, clustering took {elapsed:.3f} s")
    print(f"ikz_inbox.dedup   threshold {model.threshold:.2f}: P {p:.3f} R {r:.3f} F1 {f:.3f}")
    best = max(
        (
            (t, *_pairwise(items, groups, _tfidf_clusters(items, t), gold_pairs))
            for t in _threshold_grid()
        ),
        key=lambda row: row[3],
    )
    print(
        f"TF-IDF cosine     best threshold {best[0]:.2f}: P {best[1]:.3f} R {best[2]:.3f} F1 {best[3]:.3f}"
    )


def _dev_items(labels: Path) -> tuple[list[DedupItem], dict[int, str]]:
    items: list[DedupItem] = []
    groups: dict[int, str] = {}
    for line in labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("resend_of"):
            continue
        for question in row.get("questions") or []:
            qid = len(items) + 1
            items.append(
                DedupItem(
                    qid,
                    question["text"],
                    question["topic"],
                    row.get("sender_org") or "",
                    row.get("event"),
                )
            )
            groups[qid] = question["group"]
    return items, groups


def _sizes(values: Iterable[str]) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for value in values:
        sizes[value] += 1
    return sizes


def _pairwise(
    items: list[DedupItem], groups: dict[int, str], clusters: dict[int, int], gold_pairs: int
) -> tuple[float, float, float]:
    """The pairwise precision/recall/F1 of ../shared/evalsets/score.py."""
    tp = fp = 0
    ids = [item.question_id for item in items]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            same_pred = clusters[a] == clusters[b]
            tp += same_pred and groups[a] == groups[b]
            fp += same_pred and groups[a] != groups[b]
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / gold_pairs if gold_pairs else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _tfidf_clusters(items: list[DedupItem], threshold: float) -> dict[int, int]:
    """Plain baseline: word TF-IDF cosine, each question joins its best earlier match."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    matrix = TfidfVectorizer(lowercase=True).fit_transform([item.text for item in items])
    sims = cosine_similarity(matrix)
    cluster: dict[int, int] = {}
    for i, item in enumerate(items):
        best = max(range(i), key=lambda j: sims[i, j], default=None)
        if best is not None and sims[i, best] >= threshold:
            cluster[item.question_id] = cluster[items[best].question_id]
        else:
            cluster[item.question_id] = item.question_id
    return cluster


# ---------------------------------------------------------------- STS benchmark
def bench_sts(model: DedupModel) -> None:
    data = SHARED / "corpora" / "stsb-multi-mt-de" / "data"
    if not (data / "stsb-de-test.csv").exists():
        print(f"skipped: {data} not found")
        return
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.feature_extraction.text import TfidfVectorizer

    test = _read_sts(data / "stsb-de-test.csv")
    train = _read_sts(data / "stsb-de-train.csv")
    gold = [score for _, _, score in test]
    started = time.perf_counter()
    ours = [question_similarity(a, b, model) for a, b, _ in test]
    per_pair = (time.perf_counter() - started) / len(test)
    other_model = load_dedup_model(LEXICON, model_dir=None if model.pairs else GROUPING_MODEL)
    other = [question_similarity(a, b, other_model) for a, b, _ in test]
    vectorizer = TfidfVectorizer(lowercase=True).fit([s for a, b, _ in train for s in (a, b)])
    left = vectorizer.transform([a for a, _, _ in test])
    right = vectorizer.transform([b for _, b, _ in test])
    baseline = np.asarray(left.multiply(right).sum(axis=1)).ravel()
    print(f"pairs {len(test)}; question_similarity {per_pair * 1e6:.0f} us per pair")
    print(f"Spearman question_similarity ({model.version}): {spearmanr(ours, gold).statistic:.4f}")
    print(f"Spearman ({other_model.version}): {spearmanr(other, gold).statistic:.4f}")
    print(f"Spearman TF-IDF cosine:       {spearmanr(baseline, gold).statistic:.4f}")
    print("published (MANIFEST): cross-en-de-roberta 0.8550, paraphrase-multilingual-mpnet 0.8355")


def _read_sts(path: Path) -> list[tuple[str, str, float]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(a, b, float(score)) for a, b, score in csv.reader(handle)]


# ---------------------------------------------------------------- scale
def bench_scale(model: DedupModel) -> None:
    generator = QuestionGenerator(LEXICON, random.Random(SEED))
    new = [generator.item(200_000 + i) for i in range(1_000)]
    for stored_count in (10_000, 100_000):
        index = DedupIndex(model)
        started = time.perf_counter()
        stored = [generator.item(qid) for qid in range(1, stored_count + 1)]
        for item in stored:
            index.add(item)
        load_time = time.perf_counter() - started
        stored_keys = index.assignments()
        gc.collect()  # the build's garbage is not the adds' cost
        timings = []
        started = time.perf_counter()
        for item in new:
            t0 = time.perf_counter()
            index.add(item)
            timings.append(time.perf_counter() - t0)
        add_time = time.perf_counter() - started
        clusters = len(set(index.assignments().values()))
        print(
            f"stored {stored_count:>7}: building took {load_time:.1f} s, {clusters} clusters; "
            f"adding 1,000 took {add_time:.2f} s (median {statistics.median(timings) * 1e3:.2f} ms, "
            f"p95 {statistics.quantiles(timings, n=20)[-1] * 1e3:.2f} ms), "
            f"peak RSS {_peak_rss_mb():.0f} MB"
        )
    added = {item.question_id: index.assignments()[item.question_id] for item in new}
    _bench_restore(stored, stored_keys, new, added)
    _bench_brute_force(model, generator)


def _bench_restore(
    stored: list[DedupItem],
    keys: dict[int, int],
    new: list[DedupItem],
    added: dict[int, int],
) -> None:
    """Restore the stored questions in a fresh process, so its peak RSS is restore's own."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "restore.pickle"
        data.write_bytes(pickle.dumps((stored, keys, new)))
        output = subprocess.run(
            [sys.executable, __file__, "restore-child", str(data)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(output)
    same = {int(qid): key for qid, key in result["added"].items()} == added
    print(
        f"restore {len(stored):>7}: {result['restore_s']:.1f} s "
        f"({result['restore_s'] / len(stored) * 1e6:.0f} us per question), "
        f"peak RSS {result['rss_mb']:.0f} MB (model and questions included); "
        f"then adding 1,000 took {result['add_s']:.2f} s "
        f"(median {result['add_median_ms']:.2f} ms); same keys as add: {same}"
    )


def _restore_child(data: Path) -> None:
    stored, keys, new = pickle.loads(data.read_bytes())
    model = load_dedup_model(LEXICON)
    index = DedupIndex(model)
    started = time.perf_counter()
    for item in stored:
        index.restore(item, keys[item.question_id])
    restore_s = time.perf_counter() - started
    rss_mb = _peak_rss_mb()
    gc.collect()
    timings = []
    for item in new:
        t0 = time.perf_counter()
        index.add(item)
        timings.append(time.perf_counter() - t0)
    assignments = index.assignments()
    result = {
        "restore_s": restore_s,
        "rss_mb": rss_mb,
        "add_s": sum(timings),
        "add_median_ms": statistics.median(timings) * 1e3,
        "added": {item.question_id: assignments[item.question_id] for item in new},
    }
    print(json.dumps(result))


# ---------------------------------------------------------------- generated workload
def bench_generated(count: int, save_keys: Path | None, compare_keys: Path | None) -> None:
    items = _generated_items(count)
    model = load_dedup_model(LEXICON)
    index = DedupIndex(model)
    keys: list[int] = []
    timings: list[float] = []
    gc.collect()
    cpu_started = time.process_time()
    for item in items:
        t0 = time.perf_counter()
        keys.append(index.add(item))
        timings.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu_started
    sizes = Counter(keys)
    full = cluster_questions(items, model)
    print(
        f"questions {len(items)}: add total {sum(timings):.2f} s (CPU {cpu:.2f} s), "
        f"median {statistics.median(timings) * 1e6:.0f} us, "
        f"p95 {statistics.quantiles(timings, n=20)[-1] * 1e6:.0f} us; "
        f"{len(sizes)} clusters ({sum(1 for size in sizes.values() if size > 1)} with 2+)"
    )
    result = {"add": keys, "cluster_questions": sorted(full.items())}
    if save_keys is not None:
        save_keys.write_text(json.dumps(result), encoding="utf-8")
        print(f"keys written to {save_keys}")
    if compare_keys is not None:
        before = json.loads(compare_keys.read_text(encoding="utf-8"))
        same_add = before["add"] == keys
        same_full = [tuple(pair) for pair in before["cluster_questions"]] == sorted(full.items())
        print(f"same add keys as {compare_keys}: {same_add}; same cluster_questions: {same_full}")


def _generated_items(count: int) -> list[DedupItem]:
    """The workload's DedupItems, built through the pipeline stages once and pickled."""
    cache = Path(tempfile.gettempdir()) / f"ikz-dedup-workload-{count}-{WORKLOAD_SEED}.pickle"
    if cache.exists():
        items: list[DedupItem] = pickle.loads(cache.read_bytes())
        return items
    started = time.perf_counter()
    items = _extract_items(count)
    cache.write_bytes(pickle.dumps(items))
    print(f"workload built in {time.perf_counter() - started:.0f} s, pickled to {cache}")
    return items


def _extract_items(count: int) -> list[DedupItem]:
    sys.path.insert(0, str(ROOT))
    from bench.mailgen import generate_messages
    from ikz_inbox.classify import load_taxonomy, load_topic_classifier
    from ikz_inbox.config import load_events
    from ikz_inbox.extract import extract_message, load_extract_resources
    from ikz_inbox.parse import parse_message, read_attachment
    from ikz_inbox.pipeline import classify_extractions

    resources = load_extract_resources(
        ROOT / "config" / "gazetteer" / "nrw-kommunen.csv",
        load_events(ROOT / "config" / "events.toml"),
        read_attachment=read_attachment,
    )
    classifier = load_topic_classifier(
        ROOT / "models" / "topics", load_taxonomy(ROOT / "config" / "taxonomy.toml")
    )
    items: list[DedupItem] = []
    for raw in generate_messages(count, seed=WORKLOAD_SEED):
        parsed = parse_message(raw)
        extraction = extract_message(parsed, resources)
        (topics,) = classify_extractions([extraction], classifier)
        asker = (extraction.sender_org or parsed.from_address).casefold()
        for question, topic in zip(extraction.questions, topics, strict=True):
            items.append(
                DedupItem(len(items) + 1, question.text, topic.topic, asker, extraction.event_id)
            )
    return items


# ---------------------------------------------------------------- start-up
_STARTUP_CODE = """
import sys, time
from pathlib import Path
started = time.perf_counter()
from ikz_inbox.dedup import load_dedup_model
imported = time.perf_counter()
load_dedup_model(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
print(imported - started, time.perf_counter() - imported)
"""


def bench_startup() -> None:
    with tempfile.TemporaryDirectory() as cache:
        for label, extra in (("no cache", []), ("warm cache", [cache])):
            if extra:
                _startup_run(extra)  # fills the cache
            runs = [_startup_run(extra) for _ in range(5)]
            imports = statistics.median(run[0] for run in runs)
            loads = statistics.median(run[1] for run in runs)
            print(
                f"fresh process, {label:<10}: import ikz_inbox.dedup {imports:.2f} s, "
                f"load_dedup_model {loads:.2f} s (medians of 5)"
            )


def _startup_run(extra: list[str]) -> tuple[float, float]:
    output = subprocess.run(
        [sys.executable, "-c", _STARTUP_CODE, str(LEXICON), *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    imported, loaded = output.split()
    return float(imported), float(loaded)


def _bench_brute_force(model: DedupModel, generator: QuestionGenerator) -> None:
    items = [generator.item(i) for i in range(1, 10_001)]
    profiles = [profile_of(model.analyse(item.text), model, item.topic) for item in items]
    sample = 200
    started = time.perf_counter()
    for i in range(sample):
        for j in range(len(profiles)):
            profile_similarity(profiles[i], profiles[j], model)
    per_row = (time.perf_counter() - started) / sample
    print(
        f"brute force on 10k: {per_row * 1e3:.0f} ms per new question against all stored "
        f"(1,000 new: {per_row * 1000:.0f} s; all pairs of 10k: {per_row * 10_000 / 2:.0f} s)"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class QuestionGenerator:
    """Varied synthetic questions from templates and the lexicon's concept terms."""

    TEMPLATES = (
        "Wie ist das mit {a} bei {place}?",
        "Wir planen mit {place} eine Kooperation. Was gilt für {a} und {b}?",
        "Können Sie etwas zu {a} sagen, insbesondere im Hinblick auf {b}?",
        "Frage aus {place}: {a} – wie gehen andere Kommunen damit um?",
        "Bis wann und in welcher Höhe gibt es Hinweise zu {a}?",
        "Welche Erfahrungen gibt es mit {a} in {place}?",
        "Is there guidance on {a} for {place}?",
        "Brauchen wir für {a} eine Genehmigung, wenn {place} mitmacht?",
    )
    PLACES = (
        "Lemgo",
        "Kalletal",
        "Detmold",
        "Höxter",
        "Brilon",
        "Attendorn",
        "Olpe",
        "Soest",
        "Lippstadt",
        "Bad Salzuflen",
        "Extertal",
        "Dörentrup",
        "Marsberg",
        "Winterberg",
        "den Kreis Lippe",
        "den Hochsauerlandkreis",
        "die Nachbargemeinde",
        "unseren Verbund",
    )
    EVENTS = ("sprechstunde", "spotlight-gesundheit", "erfahrungsaustausch-tourismus")

    def __init__(self, lexicon_path: Path, rng: random.Random) -> None:
        lexicon = read_lexicon(lexicon_path)
        self._terms = [term for concept in lexicon.concepts for term in concept.terms]
        taxonomy = load_taxonomy(ROOT / "config" / "taxonomy.toml")
        self._topics = [topic.id for topic in taxonomy if topic.id != "sonstiges"]
        self._rng = rng

    def item(self, qid: int) -> DedupItem:
        rng = self._rng
        text = rng.choice(self.TEMPLATES).format(
            a=rng.choice(self._terms), b=rng.choice(self._terms), place=rng.choice(self.PLACES)
        )
        return DedupItem(
            qid,
            f"{text} (Az. {rng.randrange(10_000)})",
            rng.choice(self._topics),
            f"asker-{rng.randrange(5_000)}",
            rng.choice(self.EVENTS),
        )


Baseline = Callable[[str, str], float]

if __name__ == "__main__":
    main(sys.argv[1:])
