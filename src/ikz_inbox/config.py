"""Settings: one TOML file plus environment overrides, validated once and passed down.

Lookup order for the file: ``--config PATH``, ``$IKZ_INBOX_CONFIG``, ``./config/ikz-inbox.toml``,
``/etc/ikz-inbox/ikz-inbox.toml``. The database URL comes from the file, overridden by
``--db URL`` or ``$IKZ_INBOX_DATABASE_URL``. Relative paths in the file are resolved against
the directory that holds the file. Secrets never live in the file: only the name of an
environment variable or the path of a file (or a systemd credential) that holds them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ikz_inbox.errors import ConfigError
from ikz_inbox.types import Event

CONFIG_ENV = "IKZ_INBOX_CONFIG"
DATABASE_ENV = "IKZ_INBOX_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///var/ikz-inbox.sqlite3"
CONFIG_CANDIDATES = (Path("config/ikz-inbox.toml"), Path("/etc/ikz-inbox/ikz-inbox.toml"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSection(_Section):
    url: str = DEFAULT_DATABASE_URL


class PathsSection(_Section):
    events: str = "events.toml"
    taxonomy: str = "taxonomy.toml"
    gazetteer: str = "gazetteer/nrw-kommunen.csv"
    lexicon: str = "lexicon.toml"
    training: str = "training"
    spacy_config: str = "spacy/topics.cfg"
    topic_model: str = "../models/topics"
    kind_model: str = "../models/kinds"
    grouping_model: str = "../models/grouping"
    report_dir: str = "../var"
    lock_dir: str = "../var"
    cache_dir: str = "../var/cache"


class ClassifySection(_Section):
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class ImapSection(_Section):
    name: str = "default"
    host: str
    port: int = Field(default=993, gt=0, lt=65536)
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password_file: str | None = None
    password_env: str | None = None
    oauth2_token_file: str | None = None
    oauth2_token_command: str | None = None
    ca_file: str | None = None
    folder: str = "INBOX"
    post_action: Literal["none", "flag", "move"] = "flag"
    move_to: str | None = None
    flag: str = "$IKZProcessed"
    timeout: float = Field(default=30.0, gt=0)
    batch_size: int = Field(default=100, gt=0)
    max_message_bytes: int = Field(default=25_000_000, gt=0)
    quarantine_to: str | None = None

    @field_validator("move_to", "quarantine_to")
    @classmethod
    def _move_to_not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


class WorkerSection(_Section):
    mode: Literal["poll", "idle"] = "poll"
    poll_interval: int = Field(default=120, gt=0)
    briefing_cron: str = "0 6 * * *"
    stale_after: int = Field(default=900, gt=0)
    # Worker processes for parse/extract/classify; unset = one per CPU (at most 4), 0 = none.
    processes: int | None = Field(default=None, ge=0, le=64)


class SettingsFile(_Section):
    database: DatabaseSection = DatabaseSection()
    paths: PathsSection = PathsSection()
    classify: ClassifySection = ClassifySection()
    worker: WorkerSection = WorkerSection()
    imap: ImapSection | None = None
    mailboxes: list[ImapSection] = []


@dataclass(frozen=True)
class Settings:
    """The validated configuration, with paths resolved and overrides applied."""

    config_path: Path | None
    database_url: str
    events_path: Path
    taxonomy_path: Path
    gazetteer_path: Path
    lexicon_path: Path
    training_dir: Path
    spacy_config_path: Path
    topic_model_dir: Path
    kind_model_dir: Path
    grouping_model_dir: Path
    report_dir: Path
    lock_dir: Path
    cache_dir: Path
    review_threshold: float
    worker: WorkerSection
    mailboxes: tuple[ImapSection, ...]


def find_config_file(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Return the config file to read, following the documented lookup order."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(
                f"Konfigurationsdatei nicht gefunden / config file not found: {explicit}"
            )
        return explicit
    from_env = environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"${CONFIG_ENV} zeigt auf keine Datei / points to no file: {path}")
        return path
    return next((candidate for candidate in CONFIG_CANDIDATES if candidate.is_file()), None)


def load_settings(
    config_path: Path | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, validate and resolve the configuration; raise ConfigError naming the bad key."""
    env = os.environ if environ is None else environ
    path = find_config_file(config_path, env)
    data = _read_toml(path) if path else {}
    parsed = _validate(data, path)
    base = path.resolve().parent if path else Path("config").resolve()
    mailboxes = tuple(parsed.mailboxes) + ((parsed.imap,) if parsed.imap else ())
    _check_mailbox_names(mailboxes)
    return Settings(
        config_path=path,
        database_url=database_url or env.get(DATABASE_ENV) or parsed.database.url,
        events_path=_resolve(base, parsed.paths.events),
        taxonomy_path=_resolve(base, parsed.paths.taxonomy),
        gazetteer_path=_resolve(base, parsed.paths.gazetteer),
        lexicon_path=_resolve(base, parsed.paths.lexicon),
        training_dir=_resolve(base, parsed.paths.training),
        spacy_config_path=_resolve(base, parsed.paths.spacy_config),
        topic_model_dir=_resolve(base, parsed.paths.topic_model),
        kind_model_dir=_resolve(base, parsed.paths.kind_model),
        grouping_model_dir=_resolve(base, parsed.paths.grouping_model),
        report_dir=_resolve(base, parsed.paths.report_dir),
        lock_dir=_resolve(base, parsed.paths.lock_dir),
        cache_dir=_resolve(base, parsed.paths.cache_dir),
        review_threshold=parsed.classify.review_threshold,
        worker=parsed.worker,
        mailboxes=mailboxes,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Ungültiges TOML / invalid TOML in {path}: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"Konfiguration nicht lesbar / cannot read {path}: {exc}") from exc


def _validate(data: dict[str, Any], path: Path | None) -> SettingsFile:
    try:
        return SettingsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, path)) from None


def _describe_validation_error(exc: ValidationError, path: Path | None) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    where = f" in {path}" if path else ""
    return (
        f"Ungültiger Konfigurationswert / invalid configuration value{where}: "
        f"'{key}': {first['msg']}"
    )


def _check_mailbox_names(mailboxes: tuple[ImapSection, ...]) -> None:
    seen: set[tuple[str, str]] = set()
    for mailbox in mailboxes:
        key = (mailbox.name, mailbox.folder)
        if key in seen:
            raise ConfigError(
                f"Postfach doppelt konfiguriert / mailbox configured twice: "
                f"'mailboxes.name' = {mailbox.name!r}, folder {mailbox.folder!r}"
            )
        seen.add(key)
        if mailbox.post_action == "move" and not mailbox.move_to:
            raise ConfigError(
                "Ungültiger Konfigurationswert / invalid configuration value: 'imap.move_to' "
                'is required when post_action = "move"'
            )


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def load_events(path: Path) -> tuple[Event, ...]:
    """Read ``events.toml`` (``[[event]]`` tables) into Event objects, sorted by start."""
    data = _read_toml(path)
    raw_events = data.get("event", [])
    if not isinstance(raw_events, list):
        raise ConfigError(f"'event' in {path} must be a list of [[event]] tables")
    events = [_event_from_table(table, index, path) for index, table in enumerate(raw_events)]
    ids = [event.id for event in events]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"Doppelte Veranstaltungs-ID / duplicate 'event.id' in {path}")
    return tuple(sorted(events, key=lambda event: event.starts_at))


class _EventTable(_Section):
    id: str = Field(min_length=1)
    title: str
    starts_at: datetime
    ends_at: datetime
    questions_from: date
    questions_until: date
    themes: list[str] = []
    keywords: list[str] = []


def _event_from_table(table: Any, index: int, path: Path) -> Event:
    try:
        parsed = _EventTable.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in ("event", index, *first["loc"]))
        raise ConfigError(
            f"Ungültige Veranstaltung / invalid event in {path}: '{key}': {first['msg']}"
        ) from None
    if parsed.starts_at.tzinfo is None or parsed.ends_at.tzinfo is None:
        raise ConfigError(f"'event.{index}.starts_at' in {path} needs a UTC offset (+02:00)")
    return Event(
        id=parsed.id,
        title=parsed.title,
        starts_at=parsed.starts_at,
        ends_at=parsed.ends_at,
        themes=tuple(parsed.themes),
        keywords=tuple(parsed.keywords),
        questions_from=parsed.questions_from,
        questions_until=parsed.questions_until,
    )
