"""Incremental grouping (worker, import) and a full re-grouping give the same clusters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ikz_inbox import ingest as flow
from ikz_inbox import service
from ikz_inbox.app import App, open_app
from ikz_inbox.sources import iter_raw_mails
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import RawMail

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 10, 1, tzinfo=UTC)


def partition(app: App) -> set[frozenset[int]]:
    with session_scope(app.database) as session:
        return {frozenset(c.question_ids) for c in repository.list_clusters(session)}


def ingest(app: App, mails: list[RawMail]) -> None:
    with session_scope(app.database) as session:
        flow.ingest(session, app, flow.MailSource(mails), now=lambda: NOW)


def test_incremental_batches_equal_full_regrouping(tmp_path: Path) -> None:
    app = open_app(ROOT / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/g.sqlite3")
    mails = list(iter_raw_mails([ROOT / "examples" / "inbox"]))
    ingest(app, mails[:12])
    ingest(app, mails[12:24])
    other_process = open_app(ROOT / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/g.sqlite3")
    ingest(other_process, mails[24:])  # a fresh process restores the index from the store
    incremental = partition(app)
    with session_scope(app.database) as session:
        service.regroup(session, app.dedup, app.events, NOW)
    assert partition(app) == incremental
    assert sum(len(group) for group in incremental) > 40
    assert any(len(group) >= 3 for group in incremental)


def test_stale_index_is_rebuilt_after_a_staff_merge(tmp_path: Path) -> None:
    app = open_app(ROOT / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/g.sqlite3")
    mails = list(iter_raw_mails([ROOT / "examples" / "inbox"]))
    ingest(app, mails[:20])
    staff = open_app(ROOT / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/g.sqlite3")
    with session_scope(staff.database) as session:
        singles = [c for c in repository.list_clusters(session) if len(c.question_ids) == 1]
        service.merge_clusters(
            session,
            [singles[0].id, singles[1].id],
            staff.dedup,
            staff.events,
            actor="test",
            note=None,
            now=NOW,
        )
    merged = singles[0].question_ids[0], singles[1].question_ids[0]
    ingest(app, mails[20:])  # the worker's cached index must notice the merge
    holder = [group for group in partition(app) if merged[0] in group]
    assert merged[1] in holder[0]
    with session_scope(app.database) as session:
        service.regroup(session, app.dedup, app.events, NOW)
    holder = [group for group in partition(app) if merged[0] in group]
    assert merged[1] in holder[0]
