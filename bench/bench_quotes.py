"""Measure new-text isolation on public quote fixtures, next to mail-parser-reply alone.

Run by hand: ``.venv/bin/python bench/bench_quotes.py``. Prints the share of
email-reply-trimmer fixtures handled exactly (German ones on their own line), the talon
standard replies, and the median run time per fixture.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from mailparser_reply import EmailReplyParser

from ikz_inbox.extract.newtext import isolate_new_text

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
TRIMMER = SHARED / "corpora" / "email-reply-trimmer" / "test"
TALON = SHARED / "corpora" / "talon" / "tests" / "fixtures" / "standard_replies"
PATHOLOGICAL = SHARED / "corpora" / "mail-parser-reply" / "test" / "emails" / "pathological.txt"
REPEATS = 5  # runs per fixture for the timing median


def baseline(body: str) -> str:
    """mail-parser-reply alone, with German and English enabled."""
    return str(EmailReplyParser(languages=["de", "en"]).parse_reply(body))


def trimmer_cases() -> list[tuple[str, str, str]]:
    """(name, input, expected) for every email-reply-trimmer fixture."""
    cases = []
    for path in sorted((TRIMMER / "emails").glob("*.txt")):
        expected = TRIMMER / "trimmed" / path.name
        raw = path.read_bytes().decode("utf-8")
        cases.append((path.stem, raw, expected.read_text(encoding="utf-8")))
    return cases


def first_plain_part(path: Path) -> str:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    return "" if part is None else str(part.get_content())


def talon_cases() -> list[tuple[str, str, str]]:
    cases = []
    for path in sorted(TALON.glob("*.eml")):
        expected_file = TALON / f"{path.stem}_reply_text"
        expected = expected_file.read_text(encoding="utf-8") if expected_file.exists() else "Hello"
        cases.append((path.stem, first_plain_part(path), expected))
    return cases


def share(cases: list[tuple[str, str, str]], strip: Callable[[str], str]) -> tuple[int, int]:
    exact = sum(1 for _, body, expected in cases if strip(body).strip() == expected.strip())
    return exact, len(cases)


def report(label: str, cases: list[tuple[str, str, str]]) -> None:
    ours = share(cases, isolate_new_text)
    theirs = share(cases, baseline)
    print(
        f"{label:<28} ours {ours[0]:>3}/{ours[1]:<3} ({ours[0] / ours[1]:.0%})   "
        f"mail-parser-reply {theirs[0]:>3}/{theirs[1]:<3} ({theirs[0] / theirs[1]:.0%})"
    )


def median_ms(cases: list[tuple[str, str, str]], strip: Callable[[str], str]) -> float:
    timings = []
    for _, body, _ in cases:
        for _ in range(REPEATS):
            started = time.perf_counter()
            strip(body)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> int:
    if not TRIMMER.is_dir():
        print(f"fixtures not found under {SHARED}")
        return 1
    cases = trimmer_cases()
    german = [case for case in cases if case[0].startswith("embedded_email_german")]
    report("email-reply-trimmer, all", cases)
    report("email-reply-trimmer, German", german)
    report("talon standard_replies", talon_cases())
    print(
        f"median ms per fixture        ours {median_ms(cases, isolate_new_text):.3f}   "
        f"mail-parser-reply {median_ms(cases, baseline):.3f}"
    )
    body = PATHOLOGICAL.read_text(encoding="utf-8")
    started = time.perf_counter()
    isolate_new_text(body)
    print(f"pathological.txt             ours {(time.perf_counter() - started) * 1000:.1f} ms")
    if "-v" in sys.argv:
        for name, body, expected in cases:
            if isolate_new_text(body).strip() != expected.strip():
                print("MISS", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
