"""Fuzz the pipeline with mutated real-world mail (issue #18).

Usage:
    .venv/bin/python bench/bench_fuzz.py [--count 10000] [--seed 18] [--batch 100]

Takes the real-world messages of ``../shared/corpora`` (the folders the corpus import test
reads), mutates each copy (byte flips, truncation, header and boundary mangling, charset
swaps, a long header line, NUL bytes), and runs them through what ``ikz-inbox import``
does: the stages for a batch, then one store per batch, into a throwaway SQLite database.
It prints how many were stored as processed, quarantined or skipped as duplicates, how
many raised (must be 0), the time and the rate. The test suite runs a few hundred
(tests/e2e/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
MAIL_FOLDERS = ("spamscope-mail-parser", "mikel-mail", "enmime", "cpython-email", "talon")
CHARSETS = (b"utf-8", b"iso-8859-1", b"windows-1252", b"utf-16", b"x-bogus-7", b"", b"us-ascii")
_CHARSET = re.compile(rb"charset=\"?[\w.:-]*\"?", re.IGNORECASE)
_BOUNDARY = re.compile(rb"boundary=\"?([^\";\r\n]+)\"?", re.IGNORECASE)


def corpus_files(corpora: Path = CORPORA) -> list[Path]:
    """The real-world messages to mutate (empty when ../shared is absent)."""
    return [
        path
        for folder in MAIL_FOLDERS
        for path in sorted((corpora / folder).rglob("*"))
        if path.is_file() and not path.name.startswith(("UPSTREAM", "README", "LICENSE"))
    ]


def flip_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


def mangle_headers(raw: bytes, rng: random.Random) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    choice = rng.randrange(4)
    if choice == 0 and len(lines) > 1:  # drop a line (unfolds a continuation)
        del lines[rng.randrange(len(lines))]
    elif choice == 1:  # duplicate a line
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
    elif choice == 2:  # a colon-less garbage line
        lines.insert(rng.randrange(len(lines) + 1), b"\x80\xff garbage without colon")
    else:  # an endless header line
        lines.insert(1, b"X-Long: " + b"A" * rng.randint(1000, 200_000))
    return b"\n".join(lines) + sep + body


def mangle_boundary(raw: bytes, rng: random.Random) -> bytes:
    found = _BOUNDARY.search(raw)
    if not found:
        return flip_bytes(raw, rng)
    boundary = found.group(1)
    if rng.random() < 0.5:  # the declared boundary no longer matches the parts
        return raw[: found.start(1)] + boundary[::-1] + raw[found.end(1) :]
    marker = b"--" + boundary
    positions = [m.start() for m in re.finditer(re.escape(marker), raw)]
    if not positions:
        return raw
    cut = rng.choice(positions)  # a part delimiter lost or doubled
    return raw[:cut] + (marker + b"\n" if rng.random() < 0.5 else b"") + raw[cut + len(marker) :]


def swap_charset(raw: bytes, rng: random.Random) -> bytes:
    return _CHARSET.sub(lambda _m: b"charset=" + rng.choice(CHARSETS), raw)


def insert_nul(raw: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + b"\x00" * rng.randint(1, 50) + raw[at:]


MUTATIONS: Sequence[Callable[[bytes, random.Random], bytes]] = (
    flip_bytes,
    truncate,
    mangle_headers,
    mangle_boundary,
    swap_charset,
    insert_nul,
)


def mutate(raw: bytes, rng: random.Random) -> bytes:
    """One to three random mutations of ``raw``."""
    for _ in range(rng.randint(1, 3)):
        raw = rng.choice(MUTATIONS)(raw, rng)
    return raw


def mutated_mails(files: Sequence[Path], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` (name, mutated bytes) pairs, cycling through ``files``, reproducible."""
    rng = random.Random(seed)
    originals = [path.read_bytes() for path in files]
    for index in range(count):
        source = index % len(files)
        yield f"fuzz:{index}:{files[source].name}", mutate(originals[source], rng)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    files = corpus_files()
    if not files:
        print(f"no corpus under {CORPORA}")
        return 2
    from ikz_inbox import ingest
    from ikz_inbox.app import open_app
    from ikz_inbox.store import repository, session_scope
    from ikz_inbox.types import RawMail

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "ikz-inbox.toml"
        config.write_text(f'[paths]\nlock_dir = "{folder}"\n[worker]\nprocesses = 0\n')
        app = open_app(config, f"sqlite:///{folder}/fuzz.sqlite3")
        app.pipeline  # noqa: B018 - models loaded before the clock starts
        results: Counter[str] = Counter()
        raised = 0
        start = time.perf_counter()
        mails = [
            RawMail(raw=raw, source=name)
            for name, raw in mutated_mails(files, args.count, args.seed)
        ]
        with session_scope(app.database) as session:
            for first in range(0, len(mails), args.batch):
                batch = mails[first : first + args.batch]
                try:
                    records = app.inline_processor.submit(batch, datetime.now(UTC)).result()
                    results.update(r.value for r in ingest.store_results(session, records))
                except Exception as exc:  # noqa: BLE001 - the figure this bench exists for
                    raised += len(batch)
                    print(f"batch at {first} raised {type(exc).__name__}: {exc}")
            counts = repository.count_messages(session)
        seconds = time.perf_counter() - start
        app.close()
    print(
        f"{args.count} mutated messages from {len(files)} originals in {seconds:.1f} s "
        f"({args.count / seconds:.0f}/s): {results['stored']} stored, "
        f"{results['duplicate']} duplicates, {results['quarantined']} quarantined at intake; "
        f"in the store {counts.get('status:processed', 0)} processed, "
        f"{counts.get('status:quarantined', 0)} quarantined; unhandled exceptions: {raised}"
    )
    return 1 if raised else 0


if __name__ == "__main__":
    sys.exit(main())
