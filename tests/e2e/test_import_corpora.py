"""Every real-world message of ../shared/corpora is stored, processed or quarantined with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ikz_inbox import ingest, service
from ikz_inbox.app import open_app
from ikz_inbox.fingerprint import content_sha256
from ikz_inbox.store import repository, session_scope
from ikz_inbox.types import RawMail

ROOT = Path(__file__).resolve().parents[2]
MAIL_FOLDERS = ("spamscope-mail-parser", "mikel-mail", "enmime", "cpython-email")


def corpus_files(shared: Path) -> list[Path]:
    corpora = shared / "corpora"
    files = [
        p
        for folder in MAIL_FOLDERS
        for p in sorted((corpora / folder).rglob("*"))
        if p.is_file() and not p.name.startswith("UPSTREAM")
    ]
    files += sorted((corpora / "talon").rglob("*.eml"))
    return files


def test_every_corpus_message_is_stored_with_a_status(shared_dir: Path, tmp_path: Path) -> None:
    files = corpus_files(shared_dir)
    assert len(files) > 250
    app = open_app(ROOT / "config" / "ikz-inbox.toml", f"sqlite:///{tmp_path}/corpora.sqlite3")
    now = datetime.now(UTC)
    mails = [RawMail(raw=path.read_bytes(), source=f"file:{path}") for path in files]
    with session_scope(app.database) as session:
        # The flow of `ikz-inbox import` and of a poll: stages, one commit per batch, grouping.
        ingest.ingest(session, app, ingest.MailSource(mails), now=lambda: now)
        service.regroup(session, app.dedup, app.events, now)
        messages = repository.list_messages(session)
    distinct = {content_sha256(path.read_bytes()) for path in files}
    assert len(messages) == len(distinct)
    assert {m.status for m in messages} <= {"processed", "quarantined"}
    assert all(m.error for m in messages if m.status == "quarantined")
    automatic = [m for m in messages if m.kind in ("spam", "unzustellbar", "abwesenheit")]
    assert automatic  # real spam and bounces are recognised as such
