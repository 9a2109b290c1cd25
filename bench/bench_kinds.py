"""Message kinds on a labelled folder: per-kind precision/recall, confusion table, timing.

    .venv/bin/python bench/bench_kinds.py FOLDER [--model DIR | --rules] [--mistakes]
    .venv/bin/python bench/bench_kinds.py --training config/training/kinds [--model DIR]

FOLDER holds ``*.eml`` and ``labels.jsonl`` (the evaluation layout; its ``events.toml`` is
used when present). Every message goes through ``parse_message`` and ``extract_message`` as
in the service; the kind is compared with the label (resends, rows with ``resend_of``, are
left out, as ``ikz-inbox evaluate`` does). ``--training`` scores the training files instead
(each example built as a message by ``kind_model.example_message``): a check of the data, not
of generalisation. Prints per-kind precision/recall/F1, macro F1 over the kinds (as
``evaluation.macro_f1``), the confusion table, frage lost, spam missed, and the microseconds
per message (fastest of ``TIMING_RUNS``) of the kind decision (``settle_kind`` +
``final_kind``, without question extraction) and of the model's features and probabilities
alone. ``--mistakes`` lists the file names of wrong kinds (never their text). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ikz_inbox.config import load_events  # noqa: E402
from ikz_inbox.errors import ParseError  # noqa: E402
from ikz_inbox.evaluation import KINDS, load_labels, macro_f1  # noqa: E402
from ikz_inbox.extract import (  # noqa: E402
    _JOINER,
    ExtractResources,
    _new_text_parts,
    extract_message,
    load_extract_resources,
)
from ikz_inbox.extract.kind_model import (  # noqa: E402
    example_message,
    read_training_examples,
)
from ikz_inbox.extract.kinds import final_kind, kind_signals, settle_kind  # noqa: E402
from ikz_inbox.parse import parse_message, read_attachment  # noqa: E402
from ikz_inbox.types import Event, ParsedMail  # noqa: E402

GAZETTEER = ROOT / "config" / "gazetteer" / "nrw-kommunen.csv"
DEFAULT_MODEL = ROOT / "models" / "kinds"
TIMING_RUNS = 5  # the fastest run counts: the machine is shared

Case = tuple[str, str, ParsedMail]  # (name, gold kind, parsed mail)


def folder_cases(folder: Path) -> list[Case]:
    """The labelled messages of an evaluation folder, matched by Message-ID."""
    labels = {_bare(row["message_id"]): row for row in load_labels(folder / "labels.jsonl")}
    cases: list[Case] = []
    for path in sorted(folder.glob("*.eml")):
        try:
            parsed = parse_message(path.read_bytes())
        except ParseError:
            continue
        # A resend repeats its original's Message-ID: the first file counts, as in evaluate.
        row = labels.pop(_bare(parsed.message_id or ""), None)
        if row is not None:
            cases.append((path.name, str(row["kind"]), parsed))
    return cases


def training_cases(folder: Path) -> list[Case]:
    """The training examples, built as messages."""
    return [
        (where, str(row["kind"]), parse_message(example_message(row, index)))
        for index, (where, row) in enumerate(read_training_examples(folder))
    ]


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def kind_table(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Per-kind precision, recall, F1 and support, then macro F1."""
    lines = [f"{'kind':14s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'gold':>5s} {'pred':>5s}"]
    for kind in KINDS:
        tp = sum(1 for gold, pred in pairs if gold == kind == pred)
        gold_n = sum(1 for gold, _ in pairs if gold == kind)
        pred_n = sum(1 for _, pred in pairs if pred == kind)
        if not gold_n and not pred_n:
            continue
        precision = tp / pred_n if pred_n else 0.0
        recall = tp / gold_n if gold_n else 0.0
        f1 = 2 * tp / (gold_n + pred_n) if gold_n + pred_n else 0.0
        lines.append(f"{kind:14s} {precision:6.3f} {recall:6.3f} {f1:6.3f} {gold_n:5d} {pred_n:5d}")
    accuracy = sum(gold == pred for gold, pred in pairs) / len(pairs) if pairs else 0.0
    lines.append(f"kind_macro_f1  {macro_f1(pairs, KINDS):.3f}   kind_accuracy {accuracy:.3f}")
    return lines


def confusion_table(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Rows: gold kind; columns: predicted kind (first four letters)."""
    counts = Counter(pairs)
    header = "gold \\ pred    " + " ".join(f"{kind[:4]:>5s}" for kind in KINDS)
    lines = [header]
    for gold in KINDS:
        if not any(g == gold for g, _ in pairs):
            continue
        cells = " ".join(f"{counts[(gold, pred)] or '.':>5}" for pred in KINDS)
        lines.append(f"{gold:14s} {cells}")
    return lines


def time_decisions(cases: Sequence[Case], resources: ExtractResources) -> tuple[float, float]:
    """Microseconds per message (fastest of TIMING_RUNS) of the kind decision and of the
    model alone (features and probabilities)."""
    prepared = [(parsed, _JOINER.join(_new_text_parts(parsed))) for _name, _gold, parsed in cases]
    model = resources.kind_model
    decision_runs, model_runs = [], []
    for _ in range(TIMING_RUNS):
        start = time.perf_counter()
        for parsed, new_text in prepared:
            decision = settle_kind(parsed, parsed.body_text, new_text, model)
            final_kind(decision, parsed, new_text, has_questions=False)
        decision_runs.append((time.perf_counter() - start) / max(len(prepared), 1))
        if model is not None:
            signals = [kind_signals(p, p.body_text) for p, _text in prepared]
            start = time.perf_counter()
            for (parsed, new_text), signal in zip(prepared, signals, strict=True):
                model.probabilities(parsed, new_text, signal)
            model_runs.append((time.perf_counter() - start) / max(len(prepared), 1))
    decision_us = min(decision_runs) * 1e6
    model_us = min(model_runs) * 1e6 if model_runs else 0.0
    return decision_us, model_us


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--training", type=Path, help="score these training files instead")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rules", action="store_true", help="no model: the rules alone")
    parser.add_argument("--mistakes", action="store_true", help="list wrong kinds by file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    events: tuple[Event, ...] = ()
    if args.training is not None:
        cases = training_cases(args.training)
    elif args.folder is not None:
        cases = folder_cases(args.folder)
        own_events = args.folder / "events.toml"
        events = load_events(own_events if own_events.is_file() else ROOT / "config/events.toml")
    else:
        parser.error("name a FOLDER or --training DIR")
    # --rules: a directory that holds no model, so the rules decide (as with a missing model).
    model_dir = Path("/nonexistent/kind-model") if args.rules else args.model
    resources = load_extract_resources(
        GAZETTEER, events, kind_model_dir=model_dir, read_attachment=read_attachment
    )
    if not args.rules and resources.kind_model is None:
        print(f"no kind model in {model_dir}; the rules decide")
    version = resources.kind_model.model_version if resources.kind_model else "rules"
    pairs: list[tuple[str, str]] = []
    lost_questions = 0
    mistakes: list[str] = []
    for name, gold, parsed in cases:
        extraction = extract_message(parsed, resources)
        pred = extraction.kind.value
        pairs.append((gold, pred))
        if gold != pred:
            mistakes.append(f"  {name}: {gold} -> {pred}")
            if gold == "frage":
                lost_questions += 1
    print(f"{len(pairs)} messages, kinds by {version}")
    print("\n".join(kind_table(pairs)))
    print()
    print("\n".join(confusion_table(pairs)))
    spam_gold = sum(1 for gold, _ in pairs if gold == "spam")
    spam_hit = sum(1 for gold, pred in pairs if gold == pred == "spam")
    false_spam = sum(1 for gold, pred in pairs if pred == "spam" != gold)
    print(f"\nfrage lost: {lost_questions}   spam recognised: {spam_hit}/{spam_gold}"
          f"   false spam: {false_spam}")  # fmt: skip
    decision_us, model_us = time_decisions(cases, resources)
    print(f"kind decision: {decision_us:.0f} us/message (model alone {model_us:.0f} us)")
    if args.mistakes and mistakes:
        print("mistakes:\n" + "\n".join(mistakes))
    if args.json:
        figures = {
            "messages": len(pairs),
            "kind_macro_f1": macro_f1(pairs, KINDS),
            "frage_lost": lost_questions,
            "spam_recognised": spam_hit,
            "spam": spam_gold,
            "false_spam": false_spam,
            "decision_us": decision_us,
            "model_us": model_us,
        }
        print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
