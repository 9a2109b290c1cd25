"""Short fuzz: mutated real-world mail (byte flips, truncation, header and boundary
mangling, charset swaps, NUL bytes) goes through import without an unhandled exception,
and every message ends in the store as processed or quarantined, or as a duplicate."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ikz_inbox import ingest
from ikz_inbox.app import open_app
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import RawMail

# Enough to run every mutation many times in a few seconds; bench_fuzz.py runs 10,000
# (with its own, richer mutations: the test builds its inputs itself).
COUNT = 400
MAIL_FOLDERS = ("spamscope-mail-parser", "mikel-mail", "enmime", "cpython-email", "talon")
CHARSETS = (b"utf-8", b"iso-8859-1", b"windows-1252", b"utf-16", b"x-bogus-7", b"", b"us-ascii")
_CHARSET = re.compile(rb"charset=\"?[\w.:-]*\"?", re.IGNORECASE)
_BOUNDARY = re.compile(rb"boundary=\"?([^\";\r\n]+)\"?", re.IGNORECASE)
Mutation = Callable[[bytes, random.Random], bytes]


def corpus_files(corpora: Path) -> list[Path]:
    """The real-world messages to mutate."""
    return [
        path
        for folder in MAIL_FOLDERS
        for path in sorted((corpora / folder).rglob("*"))
        if path.is_file() and not path.name.startswith(("UPSTREAM", "README", "LICENSE"))
    ]


def _flip_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 20) if data else 0):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _insert(raw: bytes, rng: random.Random, what: bytes) -> bytes:
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + what + raw[at:]


def _wrong_boundary(raw: bytes, rng: random.Random) -> bytes:
    found = _BOUNDARY.search(raw)
    if not found:
        return _flip_bytes(raw, rng)
    return raw[: found.start(1)] + found.group(1)[::-1] + raw[found.end(1) :]


MUTATIONS: Sequence[Mutation] = (
    _flip_bytes,
    lambda raw, rng: raw[: rng.randrange(len(raw) + 1)],  # truncated
    lambda raw, rng: raw.replace(b"\n", b"\n\x80\xff no colon\n", 1),  # garbage header line
    lambda raw, rng: b"X-Long: " + b"A" * rng.randint(1000, 200_000) + b"\n" + raw,
    _wrong_boundary,
    lambda raw, rng: _CHARSET.sub(lambda _m: b"charset=" + rng.choice(CHARSETS), raw),
    lambda raw, rng: _insert(raw, rng, b"\x00" * rng.randint(1, 50)),
)


def mutated_mails(files: Sequence[Path], count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """``count`` (name, bytes) pairs: each file in turn with one to three mutations."""
    rng = random.Random(seed)
    originals = [path.read_bytes() for path in files]
    for index in range(count):
        raw = originals[index % len(files)]
        for _ in range(rng.randint(1, 3)):
            raw = rng.choice(MUTATIONS)(raw, rng)
        yield f"fuzz:{index}:{files[index % len(files)].name}", raw


def test_mutated_corpus_is_stored_without_unhandled_exceptions(
    shared_dir: Path, tmp_path: Path
) -> None:
    files = corpus_files(shared_dir / "corpora")
    assert len(files) > 250
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(f'[paths]\nlock_dir = "{tmp_path}"\n[worker]\nprocesses = 0\n')
    app = open_app(config, f"sqlite:///{tmp_path}/fuzz.sqlite3")
    mails = [RawMail(raw=raw, source=name) for name, raw in mutated_mails(files, COUNT, 18)]
    results: Counter[str] = Counter()
    try:
        with session_scope(app.database) as session:
            for first in range(0, COUNT, 100):
                batch = mails[first : first + 100]
                records = app.inline_processor.submit(batch, datetime.now(UTC)).result()
                results.update(r.value for r in ingest.store_results(session, records))
            stored = repository.list_messages(session)
    finally:
        app.close()
    assert sum(results.values()) == COUNT
    assert len(stored) == results["stored"] + results["quarantined"]
    assert {m.status for m in stored} <= {"processed", "quarantined"}
    assert all(m.error for m in stored if m.status == "quarantined")
    assert results["stored"] > COUNT // 2  # most mutations leave a readable message
