"""Short fuzz: mutated real-world mail (byte flips, truncation, header and boundary
mangling, charset swaps, NUL bytes) goes through import without an unhandled exception,
and every message ends in the store as processed or quarantined, or as a duplicate."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_fuzz import corpus_files, mutated_mails

from ikz_inbox import ingest
from ikz_inbox.app import open_app
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import RawMail

# Enough to run every mutation many times in a few seconds; bench_fuzz.py runs 10,000.
COUNT = 400


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
