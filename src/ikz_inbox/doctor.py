"""``ikz-inbox doctor``: check a deployment, one line per check.

In: the config file, database URL and environment a command would use, and the time.
Out: a list of ``Check`` results; the CLI prints them and exits 1 when one failed.
A check never raises for what it checks: each failure becomes a failed ``Check`` with one
line of detail (no secrets: mailbox errors are already redacted by ``mailbox.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ikz_inbox.classify import load_taxonomy, load_topic_model
from ikz_inbox.config import (
    ORIGIN_DEFAULT,
    REQUIRED_FILES,
    Settings,
    check_required_files,
    load_events,
    load_settings,
)
from ikz_inbox.errors import ConfigError, IkzInboxError
from ikz_inbox.mailbox import Mailbox, credentials_for, mailbox_config_for
from ikz_inbox.store import migrate, open_database, schema_is_current
from ikz_inbox.store.database import HEAD_REVISION

# Server capabilities the worker uses: UIDPLUS or MOVE for post_action = "move",
# IDLE for mode = "idle" (without it the worker asks with NOOP instead).
CAPABILITIES = ("UIDPLUS", "MOVE", "IDLE")


@dataclass(frozen=True)
class Check:
    """One checked aspect of the deployment and its outcome, as one line."""

    name: str
    ok: bool
    detail: str


def run_checks(
    config_path: Path | None,
    database_url: str | None,
    environ: Mapping[str, str],
    now: datetime,
) -> list[Check]:
    """Run every check; with an invalid configuration only that one can run."""
    try:
        settings = load_settings(config_path, database_url, environ)
        check_required_files(settings, tuple(k for k in REQUIRED_FILES if k != "events"))
    except ConfigError as exc:
        return [Check("Konfiguration", ok=False, detail=_one_line(exc))]
    checks = [
        Check("Konfiguration", ok=True, detail=f"gültig ({settings.config_path or 'keine Datei'})"),
        _check_database(settings),
        _check_topic_model(settings),
        _check_events(settings, now),
    ]
    checks += [_check_mailbox(settings, index, environ) for index in range(len(settings.mailboxes))]
    if not settings.mailboxes:
        checks.append(
            Check("IMAP", ok=False, detail="kein Postfach konfiguriert: Abschnitt [imap] fehlt")
        )
    checks.append(_check_report_dir(settings.report_dir))
    return checks


def _check_database(settings: Settings) -> Check:
    try:
        database = open_database(settings.database_url)
        try:
            migrate(database)
            current = schema_is_current(database)
        finally:
            database.engine.dispose()
    except (IkzInboxError, OSError) as exc:
        return Check("Datenbank", ok=False, detail=_one_line(exc))
    if not current:
        return Check(
            "Datenbank", ok=False, detail=f"{database.url}: Schema nicht auf {HEAD_REVISION}"
        )
    return Check(
        "Datenbank", ok=True, detail=f"{database.url} erreichbar, Schema {HEAD_REVISION} aktuell"
    )


def _check_topic_model(settings: Settings) -> Check:
    try:
        classifier = load_topic_model(
            settings.topic_model_dir, load_taxonomy(settings.taxonomy_path)
        )
    except IkzInboxError as exc:
        return Check(
            "Themenmodell", ok=False, detail=f"{_one_line(exc)} (Ersatz wären Stichwortregeln)"
        )
    return Check(
        "Themenmodell", ok=True, detail=f"{classifier.version} aus {settings.topic_model_dir}"
    )


def _check_events(settings: Settings, now: datetime) -> Check:
    try:
        check_required_files(settings, ("events",))
        events = load_events(settings.events_path)
    except ConfigError as exc:
        return Check("Veranstaltungen", ok=False, detail=_one_line(exc))
    upcoming = sorted(
        (event for event in events if event.ends_at >= now), key=lambda e: e.starts_at
    )
    if not upcoming:
        sample = (
            " (Beispieldatei des Pakets: eigene Datei unter [paths] events eintragen)"
            if settings.origins.get("paths.events") == ORIGIN_DEFAULT
            else ""
        )
        return Check(
            "Veranstaltungen",
            ok=False,
            detail=f"keine bevorstehende Veranstaltung in {settings.events_path}{sample}",
        )
    first = upcoming[0]
    return Check(
        "Veranstaltungen",
        ok=True,
        detail=f"{len(upcoming)} bevorstehend, nächste: {first.id} am {first.starts_at:%d.%m.%Y}",
    )


def _check_mailbox(settings: Settings, index: int, environ: Mapping[str, str]) -> Check:
    section = settings.mailboxes[index]
    name = f"IMAP {section.name}/{section.folder}"
    try:
        credentials = credentials_for(section, environ)
        with Mailbox(mailbox_config_for(section), credentials) as mailbox:
            mailbox.select()  # fails when the folder is missing or the post-action impossible
            capabilities = mailbox.has_capabilities(CAPABILITIES)
    except IkzInboxError as exc:
        return Check(name, ok=False, detail=_one_line(exc))
    listed = ", ".join(f"{cap} {'ja' if has else 'nein'}" for cap, has in capabilities.items())
    return Check(
        name,
        ok=True,
        detail=f"Anmeldung als {section.username} an {section.host}:{section.port} ok, "
        f"Ordner vorhanden; {listed}",
    )


def _check_report_dir(report_dir: Path) -> Check:
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=report_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "Berichtsordner", ok=False, detail=f"{report_dir} nicht beschreibbar: {exc.strerror}"
        )
    return Check("Berichtsordner", ok=True, detail=f"{report_dir} beschreibbar")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
