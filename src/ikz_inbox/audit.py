"""Audit entries for staff actions outside the store's own (retraining a model).

``model_fingerprint(folder)`` is a short digest of a model folder's files, so the audit can
say which model was there before and which after a ``train``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox.store import repository

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Characters of the hex digest shown; 64 bits tell model versions apart.
FINGERPRINT_LENGTH = 16


def model_fingerprint(folder: Path) -> str | None:
    """Digest of every file under ``folder`` (names and bytes); None when there is none."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        return None
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def record_retrain(
    session: Session,
    model: str,
    folder: Path,
    before: str | None,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Audit that ``model`` was retrained into ``folder`` (fingerprints before/after). Commits."""
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="retrain",
        target_type="model",
        target_id=model,
        details={"before": before, "after": model_fingerprint(folder), "folder": str(folder)},
    )
    session.commit()
