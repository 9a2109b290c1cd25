"""How many staff decisions bring a labelled folder's grouping to a target pairwise F1.

    .venv/bin/python bench/bench_staff.py ../shared/evalsets/spring-2025 [--target 0.95]
        [--max-decisions 300]

Imports DIR/*.eml into a throwaway SQLite database (with DIR/events.toml when present, as
``ikz-inbox evaluate`` does), then plays a staff member who knows the labels: it takes the
first suggestion of ``clusters suggest`` (the most uncertain decision), accepts it when the
labels agree (a merge of two questions of one labelled group, a split of a question from
another group) and rejects it otherwise, exactly as ``clusters accept|reject`` would. It
prints the pairwise F1 of SCORING.md before, every ten decisions, and when the target is
reached or no suggestion is left. Run by hand; nothing is tuned on the folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ikz_inbox import service
from ikz_inbox.app import open_app
from ikz_inbox.evaluation import load_labels, matched_questions, score_export
from ikz_inbox.store import session_scope

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--max-decisions", type=int, default=300)
    parser.add_argument("--similarity", choices=["lexicon", "learned"], default="lexicon")
    args = parser.parse_args()
    labels = load_labels(args.folder / "labels.jsonl")
    with tempfile.TemporaryDirectory(prefix="bench-staff-") as scratch:
        config = write_config(Path(scratch), args.folder, args.similarity)
        database = f"sqlite:///{scratch}/staff.sqlite3"
        binary = str(Path(sys.executable).parent / "ikz-inbox")
        eml = sorted(str(path) for path in args.folder.glob("*.eml"))
        subprocess.run(
            [binary, "--config", str(config), "--db", database, "import", *eml],
            check=True,
            capture_output=True,
        )
        simulate(config, database, labels, args.target, args.max_decisions)


def write_config(scratch: Path, folder: Path, similarity: str = "lexicon") -> Path:
    """A config naming the folder's events and the repository's data, state in ``scratch``."""
    events = folder / "events.toml"
    paths = {
        "events": events if events.is_file() else CONFIG / "events.toml",
        "taxonomy": CONFIG / "taxonomy.toml",
        "gazetteer": CONFIG / "gazetteer" / "nrw-kommunen.csv",
        "lexicon": CONFIG / "lexicon.toml",
        "training": CONFIG / "training",
        "spacy_config": CONFIG / "spacy" / "topics.cfg",
        "topic_model": ROOT / "models" / "topics",
        "grouping_model": ROOT / "models" / "grouping",
        "report_dir": scratch,
        "lock_dir": scratch,
        "cache_dir": scratch / "cache",
    }
    lines = ["[paths]", *(f'{key} = "{value.resolve()}"' for key, value in paths.items())]
    lines += ["[worker]", "processes = 0", "[grouping]", f'similarity = "{similarity}"']
    config = scratch / "ikz-inbox.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def simulate(
    config: Path, database: str, labels: list[dict[str, Any]], target: float, limit: int
) -> None:
    application = open_app(config, database)
    now = datetime.now(UTC)
    decisions = accepted = 0
    started = time.perf_counter()
    try:
        with session_scope(application.database) as session:
            service.regroup(session, application.dedup, application.events, now)
            figures, gold = score(session, application, labels, now)
            print(f"similarity {application.dedup.version}")
            print(f"before: pairwise F1 {line(figures)}")
            while figures["dedup_pairwise_f1"] < target and decisions < limit:
                suggestions = service.grouping_suggestions(session, application.dedup, limit=1)
                if not suggestions:
                    print("no suggestion left")
                    break
                suggestion = suggestions[0]
                agree = staff_agrees(
                    suggestion.action, suggestion.question_id, suggestion.other_question_id, gold
                )
                service.decide_suggestion(
                    session,
                    suggestion.key,
                    application.dedup,
                    application.events,
                    accept=agree,
                    actor="bench-staff",
                    note=None,
                    now=now,
                )
                decisions += 1
                accepted += agree
                figures, gold = score(session, application, labels, now)
                if decisions % 10 == 0:
                    print(f"after {decisions:>3} decisions ({accepted} accepted): {line(figures)}")
    finally:
        application.close()
    print(
        f"end: {decisions} decisions ({accepted} accepted, {decisions - accepted} rejected), "
        f"{line(figures)}; {time.perf_counter() - started:.0f} s"
    )


def score(
    session: Any, application: Any, labels: list[dict[str, Any]], now: datetime
) -> tuple[dict[str, Any], dict[int, str]]:
    """The metrics of the current grouping, and question id -> labelled group (by the
    scorer's matching) for the staff member's answers; one export serves both."""
    document = service.build_export(session, application.events, now, application.dedup)
    gold = {pred["id"]: label["group"] for label, pred in matched_questions(labels, document)}
    return score_export(labels, document), gold


def line(figures: dict[str, Any]) -> str:
    return (
        f"{figures['dedup_pairwise_f1']:.3f} (P {figures['dedup_pairwise_precision']:.3f} "
        f"R {figures['dedup_pairwise_recall']:.3f}), top10 purity {figures['top10_purity']:.3f}"
    )


def staff_agrees(action: str, first: int, second: int, gold: dict[int, str]) -> bool:
    """A merge is right when both questions have one labelled group; a split when not."""
    same = first in gold and gold.get(first) == gold.get(second)
    return same if action == "merge" else not same


if __name__ == "__main__":
    main()
