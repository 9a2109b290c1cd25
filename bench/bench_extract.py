"""Benchmark of the extract stage; run by hand, prints figures (medians), asserts nothing.

    .venv/bin/python bench/bench_extract.py [--count 2000] [--seed 2024] [--runs 5] [--profile]

Generates ``--count`` messages with ``bench.mailgen.generate_messages`` (seeded), parses
them once, builds the extract resources once (config/events.toml and the gazetteer), warms
up, then times ``extract_message`` on every message, ``--runs`` times over. Prints the
median ms/message of each run and the median over runs, then the split per sub-stage: the
public functions ``extract_message`` composes, called the same way on the same message
(kind, new text, questions, sender, event), as median and mean ms/message of one run.
``--profile`` adds a cProfile of one run of ``extract_message`` (top functions by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mailgen import generate_messages  # noqa: E402
from ikz_inbox.config import load_events  # noqa: E402
from ikz_inbox.errors import ParseError  # noqa: E402
from ikz_inbox.extract import (  # noqa: E402
    ExtractResources,
    extract_message,
    load_extract_resources,
)
from ikz_inbox.extract.event import assign_event  # noqa: E402
from ikz_inbox.extract.kinds import detect_automatic_kind, detect_human_kind  # noqa: E402
from ikz_inbox.extract.newtext import isolate_new_text_with_subject  # noqa: E402
from ikz_inbox.extract.questions import extract_questions  # noqa: E402
from ikz_inbox.extract.sender import find_sender_org  # noqa: E402
from ikz_inbox.parse import parse_message, read_attachment  # noqa: E402
from ikz_inbox.types import MessageKind, ParsedMail  # noqa: E402

EVENTS = ROOT / "config" / "events.toml"
GAZETTEER = ROOT / "config" / "gazetteer" / "nrw-kommunen.csv"
WARM_UP = 200  # messages extracted once before timing (imports, regex and spaCy caches)
PROFILE_TOP = 25

Split = dict[str, float]


def parse_all(count: int, seed: int) -> list[ParsedMail]:
    """The generated messages, parsed once (ParseError ones left out)."""
    parsed: list[ParsedMail] = []
    for raw in generate_messages(count, seed=seed):
        try:
            parsed.append(parse_message(raw))
        except ParseError:
            continue
    return parsed


def time_run(mails: list[ParsedMail], resources: ExtractResources) -> list[float]:
    """Seconds of ``extract_message`` per message, in message order."""
    times: list[float] = []
    for parsed in mails:
        start = time.perf_counter()
        extract_message(parsed, resources)
        times.append(time.perf_counter() - start)
    return times


def _timed(split: Split, label: str, func: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = func()
    split[label] = split.get(label, 0.0) + time.perf_counter() - start
    return result


def split_one(parsed: ParsedMail, resources: ExtractResources) -> Split:
    """Seconds per sub-stage for one message, composed as ``extract_message`` does."""
    split: Split = {}
    body = parsed.body_text
    kind = _timed(split, "kind (automatic)", lambda: detect_automatic_kind(parsed, body))
    if kind is not None:
        _timed(split, "new text", lambda: isolate_new_text_with_subject(body, parsed.subject))
        return split
    texts = [parsed.body_text] + [mail.body_text for mail in parsed.embedded]
    subjects = [parsed.subject] + [mail.subject for mail in parsed.embedded]
    parts = _timed(
        split,
        "new text",
        lambda: [isolate_new_text_with_subject(t, s) for t, s in zip(texts, subjects, strict=True)],
    )
    assert isinstance(parts, list)
    new_text = "\n\n".join(part for part in parts if part.strip())
    questions = _timed(
        split,
        "questions",
        lambda: [extract_questions(part, "", resources.nlp) for part in parts if part.strip()],
    )
    assert isinstance(questions, list)
    has_questions = any(questions)
    human = _timed(
        split,
        "kind (human)",
        lambda: detect_human_kind(parsed, new_text, has_questions=has_questions),
    )
    _timed(split, "sender", lambda: find_sender_org(parsed, body, resources.gazetteer))
    _timed(split, "event", lambda: _event(parsed, new_text, resources, human))
    return split


def _event(
    parsed: ParsedMail, new_text: str, resources: ExtractResources, kind: object
) -> str | None:
    events = resources.event_matchers
    named = assign_event(parsed.subject, new_text, parsed.date, events, fallback=False)
    if named is not None:
        return named
    fallback = kind in (MessageKind.FRAGE, MessageKind.ANMELDUNG)
    return assign_event(parsed.subject, parsed.body_text, parsed.date, events, fallback=fallback)


def report_split(mails: list[ParsedMail], resources: ExtractResources) -> None:
    per_stage: dict[str, list[float]] = {}
    for parsed in mails:
        for label, seconds in split_one(parsed, resources).items():
            per_stage.setdefault(label, []).append(seconds)
    print("split per sub-stage (one run; median over the messages that reach it, mean over all):")
    for label, times in per_stage.items():
        median = statistics.median(times) * 1e3
        mean = sum(times) / len(mails) * 1e3
        print(f"  {label:<18} median {median:6.3f} ms  mean {mean:6.3f} ms  n={len(times)}")


def profile_run(mails: list[ParsedMail], resources: ExtractResources) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for parsed in mails:
        extract_message(parsed, resources)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(PROFILE_TOP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    mails = parse_all(args.count, args.seed)
    resources = load_extract_resources(
        GAZETTEER, load_events(EVENTS), read_attachment=read_attachment
    )
    print(f"{len(mails)} messages parsed (seed {args.seed}), {len(resources.events)} events")
    time_run(mails[:WARM_UP], resources)
    medians: list[float] = []
    for run in range(args.runs):
        times = time_run(mails, resources)
        medians.append(statistics.median(times))
        total = sum(times)
        print(
            f"run {run + 1}: median {medians[-1] * 1e3:6.3f} ms/message"
            f"  mean {total / len(times) * 1e3:6.3f} ms  total {total:5.2f} s"
        )
    print(f"extract_message: median of run medians {statistics.median(medians) * 1e3:6.3f} ms")
    report_split(mails, resources)
    if args.profile:
        profile_run(mails, resources)


if __name__ == "__main__":
    main()
