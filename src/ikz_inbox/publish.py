"""Write briefing files atomically and mail them: the I/O around ``report``.

``publish_briefing`` is the briefing job of the CLI (``ikz-inbox briefing``) and of the
scheduled worker: it picks the event, marks what is new since the previous briefing of that
event (whose question keys it keeps in ``.briefing-<event>.json`` beside the files), writes
HTML, PDF and Markdown, and mails them when ``[delivery]`` is configured and asked for.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox import service
from ikz_inbox.app import App
from ikz_inbox.errors import ConfigError
from ikz_inbox.report import (
    BRIEFING_FORMATS,
    BriefingFormat,
    ReportOptions,
    render_briefing,
    render_document,
)
from ikz_inbox.store import session_scope
from ikz_inbox.types import Briefing, PreviousBriefing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Characters an event id keeps in a file name; others become "_".
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
STATE_FORMAT = "ikz-inbox/briefing-state/1"


@dataclass(frozen=True)
class Published:
    """What a briefing job did: the briefing, the files written, whether it was mailed."""

    briefing: Briefing
    paths: tuple[Path, ...]
    mailed: bool = False


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write a file via a temporary file and a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    with tempfile.NamedTemporaryFile(
        "wb", dir=path.parent, delete=False, prefix=f".{path.name}.", suffix=".tmp"
    ) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    temporary.chmod(0o644)
    temporary.replace(path)


def briefing_stem(event_id: str | None) -> str:
    """The file name of an event's briefing without suffix ("briefing-alle" for all)."""
    return f"briefing-{_UNSAFE_NAME.sub('_', event_id) if event_id else 'alle'}"


def report_options(app: App) -> ReportOptions:
    """The rendering options of the configuration ([report])."""
    return ReportOptions(show_contact_details=app.settings.report.show_contact_details)


def prepare_briefing(
    session: Session, app: App, wanted_event: str | None, now: datetime
) -> Briefing:
    """The briefing for ``wanted_event`` (an id, "all", or None for the next event), with
    what is new since the previous written briefing of that event marked."""
    event_id, note = service.briefing_event(app.events, wanted_event, now)
    previous = read_previous_briefing(app.settings.report_dir, event_id)
    return service.build_briefing(
        session, app.events, event_id, now, app.dedup, previous=previous, note=note
    )


def publish_briefing(
    session: Session,
    app: App,
    wanted_event: str | None,
    now: datetime,
    *,
    formats: Sequence[BriefingFormat] = BRIEFING_FORMATS,
    mail: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Published:
    """Build the briefing, write its files into the report folder, mail it if asked."""
    briefing = prepare_briefing(session, app, wanted_event, now)
    paths = write_briefing_files(
        briefing, app.settings.report_dir, app.topic_labels, report_options(app), formats
    )
    if not mail:
        return Published(briefing, tuple(paths))
    mail_briefing(app, briefing, paths, os.environ if environ is None else environ)
    return Published(briefing, tuple(paths), mailed=True)


def publish_scheduled_briefing(app: App, now: datetime) -> list[Path]:
    """The briefing job: write HTML, PDF and Markdown of the next event's briefing (the next
    one that has not ended, else the most recent); mail them when [delivery] is configured."""
    with session_scope(app.database) as session:
        published = publish_briefing(
            session, app, None, now, mail=app.settings.delivery is not None
        )
    return list(published.paths)


def write_briefing_files(
    briefing: Briefing,
    report_dir: Path,
    topic_labels: Mapping[str, str],
    options: ReportOptions | None = None,
    formats: Sequence[BriefingFormat] = BRIEFING_FORMATS,
) -> list[Path]:
    """Write the briefing in each format into ``report_dir``, then remember its questions
    for the next briefing's "neu" marks; return the paths of the documents."""
    event_id = briefing.event.id if briefing.event else None
    stem = briefing_stem(event_id)
    paths = []
    for fmt in formats:
        path = report_dir / f"{stem}.{fmt}"
        write_atomically(path, render_document(briefing, fmt, topic_labels, options))
        paths.append(path)
    if event_id is not None:
        write_atomically(_state_path(report_dir, event_id), _state_json(briefing))
    logger.info("briefing written: %s", ", ".join(str(path) for path in paths))
    return paths


def read_previous_briefing(report_dir: Path, event_id: str | None) -> PreviousBriefing | None:
    """What the last written briefing of this event held (None: none yet, or unreadable)."""
    if event_id is None:
        return None
    path = _state_path(report_dir, event_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PreviousBriefing(
            generated_at=datetime.fromisoformat(data["generated_at"]),
            question_keys=frozenset(data["questions"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("previous briefing state %s unreadable (%s); nothing marked new", path, exc)
        return None


def _state_path(report_dir: Path, event_id: str) -> Path:
    return report_dir / f".{briefing_stem(event_id)}.json"


def _state_json(briefing: Briefing) -> str:
    state = {
        "format": STATE_FORMAT,
        "generated_at": briefing.generated_at.isoformat(),
        "questions": sorted(briefing.question_keys),
    }
    return json.dumps(state, indent=0) + "\n"


def mail_briefing(
    app: App, briefing: Briefing, paths: Sequence[Path], environ: Mapping[str, str]
) -> None:
    """Mail the written briefing to the configured moderators ([delivery])."""
    from ikz_inbox.delivery import briefing_message, send_message, smtp_password

    section = app.settings.delivery
    if section is None:
        raise ConfigError("Kein Versand konfiguriert: Abschnitt [delivery] fehlt.")
    text = render_briefing(briefing, "md", app.topic_labels, report_options(app))
    attachments = [path for path in paths if path.suffix.lstrip(".") in section.attach]
    message = briefing_message(section, briefing.title, text, attachments)
    send_message(section, message, smtp_password(section, environ))
