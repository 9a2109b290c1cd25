"""Settings: one TOML file plus environment overrides, validated once and passed down.

Lookup order for the file: ``--config PATH``, ``$IKZ_INBOX_CONFIG``, ``./config/ikz-inbox.toml``,
``/etc/ikz-inbox/ikz-inbox.toml``. The database URL comes from the file, overridden by
``--db URL`` or ``$IKZ_INBOX_DATABASE_URL``. Relative paths in the file are resolved against
the directory that holds the file. Secrets never live in the file: only the name of an
environment variable or the path of a file (or a systemd credential) that holds them.

Every ``[paths]`` key the file does not set falls back to the packaged default
(``defaults.py``): the data and models inside the package, and the per-user state folder
for the database, reports, locks and caches. ``Settings.origins`` says where each value
came from, for ``ikz-inbox config``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ikz_inbox.defaults import packaged, state_root
from ikz_inbox.errors import ConfigError
from ikz_inbox.limits import MAX_MESSAGE_BYTES
from ikz_inbox.types import Event

CONFIG_ENV = "IKZ_INBOX_CONFIG"
DATABASE_ENV = "IKZ_INBOX_DATABASE_URL"
# The SQLite file in the state folder when neither option, environment nor file names one.
DEFAULT_DATABASE_FILE = "ikz-inbox.sqlite3"
CONFIG_CANDIDATES = (Path("config/ikz-inbox.toml"), Path("/etc/ikz-inbox/ikz-inbox.toml"))
# [paths] keys that default to data inside the package (relative to defaults_root()).
PACKAGED_PATHS = {
    "events": "config/events.toml",
    "taxonomy": "config/taxonomy.toml",
    "gazetteer": "config/gazetteer/nrw-kommunen.csv",
    "lexicon": "config/lexicon.toml",
    "training": "config/training",
    "spacy_config": "config/spacy/topics.cfg",
    "topic_model": "models/topics",
    "kind_model": "models/kinds",
    "grouping_model": "models/grouping",
}
# [paths] keys that default to a place in the state folder (relative to state_root()).
STATE_PATHS = {"report_dir": ".", "lock_dir": ".", "cache_dir": "cache"}
# [paths] keys naming files every command reads: a missing one stops with its key named.
REQUIRED_FILES = ("events", "taxonomy", "gazetteer", "lexicon")
# Where a value came from, as `ikz-inbox config` shows it.
ORIGIN_DEFAULT = "Vorgabe: Paket"
ORIGIN_STATE = "Vorgabe: Datenordner"
ORIGIN_OPTION = "Option"
ORIGIN_ENV = "Umgebung"
ORIGIN_FILE = "Datei"
# user:password@ in a database URL; the password is shown as ***.
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSection(_Section):
    url: str | None = None  # None: SQLite in the state folder


class PathsSection(_Section):
    """Every key is optional: unset keys use PACKAGED_PATHS or STATE_PATHS."""

    events: str | None = None
    taxonomy: str | None = None
    gazetteer: str | None = None
    lexicon: str | None = None
    training: str | None = None
    spacy_config: str | None = None
    topic_model: str | None = None
    kind_model: str | None = None
    grouping_model: str | None = None
    report_dir: str | None = None
    lock_dir: str | None = None
    cache_dir: str | None = None


class ClassifySection(_Section):
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class GroupingSection(_Section):
    # "lexicon": the hand-set blend of the lexicon's [model] settings; "learned": the pair
    # model trained from config/training/paraphrases (models/grouping). See README, Grouping.
    similarity: Literal["lexicon", "learned"] = "lexicon"


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
    max_message_bytes: int = Field(default=MAX_MESSAGE_BYTES, gt=0)
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


class RetentionSection(_Section):
    """How long personal data is kept (DSGVO); `ikz-inbox purge` and the service apply it.

    Days count from the end of the message's event, else from when it was received.
    """

    raw_days: int = Field(default=90, ge=1)  # then the raw message is removed
    personal_days: int = Field(default=180, ge=1)  # then sender address, name, phones too
    purge_cron: str = "30 3 * * *"  # the service's daily purge (Europe/Berlin)

    @field_validator("purge_cron")
    @classmethod
    def _valid_crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger  # only when the file sets it

        CronTrigger.from_crontab(value)  # ValueError names what is wrong
        return value


class ReportSection(_Section):
    # Senders' mail addresses and phone numbers in briefings; off: organisation names only.
    show_contact_details: bool = False


class DeliverySection(_Section):
    """Optional: mail the briefing to the moderators (SMTP; STARTTLS unless configured)."""

    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["starttls", "tls", "plain"] = "starttls"
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    ca_file: str | None = None
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)
    attach: list[Literal["html", "pdf", "md"]] = ["pdf", "html"]
    timeout: float = Field(default=30.0, gt=0)


class SettingsFile(_Section):
    database: DatabaseSection = DatabaseSection()
    paths: PathsSection = PathsSection()
    classify: ClassifySection = ClassifySection()
    grouping: GroupingSection = GroupingSection()
    worker: WorkerSection = WorkerSection()
    imap: ImapSection | None = None
    mailboxes: list[ImapSection] = []
    report: ReportSection = ReportSection()
    delivery: DeliverySection | None = None
    retention: RetentionSection = RetentionSection()


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
    # Dotted key ("paths.events", "database.url", ...) -> where its value came from.
    origins: Mapping[str, str] = field(default_factory=dict)
    report: ReportSection = ReportSection()
    delivery: DeliverySection | None = None  # None: briefings are not mailed
    retention: RetentionSection = RetentionSection()
    grouping: GroupingSection = GroupingSection()

    @property
    def trained_grouping_dir(self) -> Path | None:
        """The trained grouping model's folder when ``[grouping] similarity`` is "learned"."""
        return self.grouping_model_dir if self.grouping.similarity == "learned" else None

    def path_of(self, key: str) -> Path:
        """The resolved path of a ``[paths]`` key, e.g. ``path_of("events")``."""
        value: Path = getattr(self, _PATH_ATTRIBUTES[key])
        return value


# [paths] key -> Settings attribute.
_PATH_ATTRIBUTES = {
    "events": "events_path",
    "taxonomy": "taxonomy_path",
    "gazetteer": "gazetteer_path",
    "lexicon": "lexicon_path",
    "training": "training_dir",
    "spacy_config": "spacy_config_path",
    "topic_model": "topic_model_dir",
    "kind_model": "kind_model_dir",
    "grouping_model": "grouping_model_dir",
    "report_dir": "report_dir",
    "lock_dir": "lock_dir",
    "cache_dir": "cache_dir",
}


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
    base = path.resolve().parent if path else Path.cwd()  # relative paths start here
    mailboxes = tuple(
        _with_files_resolved(mailbox, base)
        for mailbox in (*parsed.mailboxes, *((parsed.imap,) if parsed.imap else ()))
    )
    _check_mailbox_names(mailboxes)
    state = state_root(env)
    paths, origins = _resolve_paths(parsed.paths, base, state)
    url, origins["database.url"] = _database_url(database_url, env, parsed.database, state)
    origins["config"] = _config_origin(config_path, path, env)
    origins["classify.review_threshold"] = _origin_of(parsed.classify, "review_threshold")
    return Settings(
        config_path=path,
        database_url=url,
        events_path=paths["events"],
        taxonomy_path=paths["taxonomy"],
        gazetteer_path=paths["gazetteer"],
        lexicon_path=paths["lexicon"],
        training_dir=paths["training"],
        spacy_config_path=paths["spacy_config"],
        topic_model_dir=paths["topic_model"],
        kind_model_dir=paths["kind_model"],
        grouping_model_dir=paths["grouping_model"],
        report_dir=paths["report_dir"],
        lock_dir=paths["lock_dir"],
        cache_dir=paths["cache_dir"],
        review_threshold=parsed.classify.review_threshold,
        worker=parsed.worker,
        mailboxes=mailboxes,
        origins=origins,
        grouping=parsed.grouping,
        report=parsed.report,
        delivery=_with_files_resolved(parsed.delivery, base) if parsed.delivery else None,
        retention=parsed.retention,
    )


def _resolve_paths(
    section: PathsSection, base: Path, state: Path
) -> tuple[dict[str, Path], dict[str, str]]:
    """Resolve every [paths] key: the file's value against ``base`` (the config file's
    folder), else the default."""
    values: dict[str, Path] = {}
    origins: dict[str, str] = {}
    for key in _PATH_ATTRIBUTES:
        written: str | None = getattr(section, key)
        if written is not None:
            values[key], origins[f"paths.{key}"] = _resolve(base, written), ORIGIN_FILE
        elif key in STATE_PATHS:
            values[key] = (state / STATE_PATHS[key]).resolve()
            origins[f"paths.{key}"] = ORIGIN_STATE
        else:
            values[key], origins[f"paths.{key}"] = packaged(PACKAGED_PATHS[key]), ORIGIN_DEFAULT
    return values, origins


def _database_url(
    option: str | None, env: Mapping[str, str], section: DatabaseSection, state: Path
) -> tuple[str, str]:
    if option:
        return option, f"{ORIGIN_OPTION} --db"
    if env.get(DATABASE_ENV):
        return env[DATABASE_ENV], f"{ORIGIN_ENV} ${DATABASE_ENV}"
    if section.url is not None:
        return section.url, ORIGIN_FILE
    return f"sqlite:///{state.resolve() / DEFAULT_DATABASE_FILE}", ORIGIN_STATE


def _config_origin(explicit: Path | None, path: Path | None, env: Mapping[str, str]) -> str:
    if path is None:
        return "keine Datei gefunden"
    if explicit is not None:
        return f"{ORIGIN_OPTION} --config"
    if env.get(CONFIG_ENV):
        return f"{ORIGIN_ENV} ${CONFIG_ENV}"
    return "Suchpfad"


def _origin_of(section: BaseModel, key: str) -> str:
    return ORIGIN_FILE if key in section.model_fields_set else "Vorgabe"


def check_required_files(settings: Settings, keys: tuple[str, ...] = REQUIRED_FILES) -> None:
    """Raise ConfigError in one line, naming the key, when a file every command reads is
    missing (e.g. the deployment's events file)."""
    for key in keys:
        path = settings.path_of(key)
        if not path.is_file():
            where = settings.origins.get(f"paths.{key}", "")
            source = f" in {settings.config_path}" if where == ORIGIN_FILE else ""
            raise ConfigError(
                f"Datei fehlt / file missing: '[paths] {key}' = {path}{source} "
                "(Pfad anpassen oder Datei anlegen / fix the path or create the file)"
            )


def mask_secrets(url: str) -> str:
    """The database URL with its password (if any) replaced by ***."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def effective_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """Every effective setting as (dotted key, value with secrets masked, origin)."""
    origins = settings.origins
    rows = [
        ("config", str(settings.config_path or "-"), origins.get("config", "")),
        ("database.url", mask_secrets(settings.database_url), origins.get("database.url", "")),
    ]
    rows += [
        (f"paths.{key}", str(settings.path_of(key)), origins.get(f"paths.{key}", ""))
        for key in _PATH_ATTRIBUTES
    ]
    rows.append(
        (
            "classify.review_threshold",
            str(settings.review_threshold),
            origins.get("classify.review_threshold", ""),
        )
    )
    rows += _section_rows("grouping", settings.grouping)
    rows += _section_rows("worker", settings.worker)
    rows += _section_rows("retention", settings.retention)
    for mailbox in settings.mailboxes:
        rows += _section_rows(f"imap[{mailbox.name}/{mailbox.folder}]", mailbox)
    return rows


def _section_rows(prefix: str, section: BaseModel) -> list[tuple[str, str, str]]:
    return [
        (f"{prefix}.{key}", "-" if value is None else str(value), _origin_of(section, key))
        for key, value in section.model_dump().items()
    ]


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


# The keys of [imap], [[mailboxes]] and [delivery] that name a file (secrets, CA bundle).
_FILE_KEYS = ("password_file", "ca_file", "oauth2_token_file")

_SectionT = TypeVar("_SectionT", ImapSection, DeliverySection)


def _with_files_resolved(section: _SectionT, base: Path) -> _SectionT:
    """``section`` with the file paths it names resolved against ``base`` (the config
    file's folder)."""
    files = {
        key: str(_resolve(base, value))
        for key in _FILE_KEYS
        if (value := getattr(section, key, None))
    }
    return section.model_copy(update=files)


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


# --- secrets ----------------------------------------------------------------------------


def read_password(
    section: str,
    *,
    password_env: str | None,
    password_file: str | None,
    credential_name: str,
    environ: Mapping[str, str],
) -> str:
    """A password from the variable named by ``password_env``, the file ``password_file``, or
    systemd's ``$CREDENTIALS_DIRECTORY/<credential_name>``, in that order; never from the TOML.
    ``section`` ("imap", "delivery") names the keys in the one-line ``ConfigError``."""
    if password_env:
        value = environ.get(password_env)
        if not value:
            raise ConfigError(f"'{section}.password_env': variable {password_env} is not set")
        return value
    if password_file:
        return read_secret(Path(password_file), f"{section}.password_file")
    credentials_dir = environ.get("CREDENTIALS_DIRECTORY")
    if credentials_dir:
        return read_secret(Path(credentials_dir) / credential_name, "LoadCredential")
    raise ConfigError(
        f"'{section}.password_file' or '{section}.password_env' fehlt / missing (or run under "
        f"systemd with LoadCredential={credential_name}:...)"
    )


def read_secret(path: Path, key: str) -> str:
    """The stripped text of a secret file; ``ConfigError`` naming ``key`` when it is
    unreadable or empty."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"'{key}': cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"'{key}': {path} is empty")
    return value


# The name of the systemd credential (LoadCredential=) holding the IMAP password.
IMAP_CREDENTIAL_NAME = "imap-password"
# Seconds ``oauth2_token_command`` may take to print a token.
TOKEN_COMMAND_TIMEOUT = 60


def read_imap_password(section: ImapSection, environ: Mapping[str, str]) -> str:
    """The IMAP password of ``section``: env variable, file, or systemd credential."""
    return read_password(
        "imap",
        password_env=section.password_env,
        password_file=section.password_file,
        credential_name=IMAP_CREDENTIAL_NAME,
        environ=environ,
    )


def read_oauth2_token(section: ImapSection) -> str | None:
    """The OAuth2 access token of ``section`` from its token file or token command; None
    when the mailbox logs in with a password."""
    if section.oauth2_token_file:
        return read_secret(Path(section.oauth2_token_file), "imap.oauth2_token_file")
    if not section.oauth2_token_command:
        return None
    try:
        completed = subprocess.run(
            shlex.split(section.oauth2_token_command),
            check=True,
            capture_output=True,
            text=True,
            timeout=TOKEN_COMMAND_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"'imap.oauth2_token_command' failed: {type(exc).__name__}") from None
    token = completed.stdout.strip()
    if not token:
        raise ConfigError("'imap.oauth2_token_command' printed no token")
    return token
