"""The mailbox worker: fetch new mail exactly once, run the pipeline, write the briefing.

``poll_mailbox`` is one poll of one configured folder: under a lock, it selects the folder,
fetches every UID above the last committed one in batches, runs the stages (in worker
processes for large polls), stores each batch in one commit together with the new
high-water UID, and only then applies the post-action on the server and groups the new
questions. A crash loses at most the uncommitted batch, which the next poll fetches again.
A UIDVALIDITY change restarts at UID 0; content fingerprints keep that re-sync from
storing anything twice. ``run_service`` wires the polls (or IMAP IDLE) and the briefing job
into APScheduler, handles SIGTERM and talks to systemd (sd_notify).
"""

from __future__ import annotations

import logging
import os
import random
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from ikz_inbox import service
from ikz_inbox.app import App
from ikz_inbox.config import ImapSection, read_password, read_secret
from ikz_inbox.errors import (
    ConfigError,
    IkzInboxError,
    LockError,
    MailboxError,
    ModelError,
    StoppedError,
)
from ikz_inbox.mailbox import Credentials, FetchedMail, Mailbox, MailboxConfig
from ikz_inbox.processing import pipelined
from ikz_inbox.publish import publish_briefing
from ikz_inbox.store import repository, session_scope
from ikz_inbox.store.locks import mailbox_lock
from ikz_inbox.store.records import MailboxState, NewMessage
from ikz_inbox.types import RawMail

logger = logging.getLogger(__name__)

# The name of the systemd credential (LoadCredential=) holding the IMAP password.
CREDENTIAL_NAME = "imap-password"
# Reconnect backoff after a failure in IDLE mode: doubles up to the cap, with jitter.
BACKOFF_START_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# IDLE is re-issued well before the 29 minutes RFC 2177 allows.
IDLE_TIMEOUT_SECONDS = 24 * 60.0


@dataclass(frozen=True)
class PollResult:
    """What one poll of one mailbox folder did."""

    mailbox: str
    folder: str
    summary: service.IngestSummary
    remaining: int
    resynced: bool


# --- configuration to mailbox objects ---------------------------------------------------


def mailbox_config_for(section: ImapSection) -> MailboxConfig:
    """The mailbox module's plain config from a validated TOML section."""
    return MailboxConfig(
        name=section.name,
        host=section.host,
        port=section.port,
        security=section.security,
        username=section.username,
        ca_file=Path(section.ca_file) if section.ca_file else None,
        folder=section.folder,
        post_action=section.post_action,
        move_to=section.move_to,
        quarantine_to=section.quarantine_to,
        flag=section.flag,
        timeout=section.timeout,
        batch_size=section.batch_size,
        max_message_bytes=section.max_message_bytes,
    )


def credentials_for(section: ImapSection, environ: Mapping[str, str]) -> Credentials:
    """The secret for a mailbox: env variable, file, token command, or systemd credential."""
    if section.oauth2_token_file or section.oauth2_token_command:
        return Credentials(section.username, oauth2_token=_oauth2_token(section))
    password = read_password(
        "imap",
        password_env=section.password_env,
        password_file=section.password_file,
        credential_name=CREDENTIAL_NAME,
        environ=environ,
    )
    return Credentials(section.username, password=password)


def _oauth2_token(section: ImapSection) -> str:
    if section.oauth2_token_file:
        return read_secret(Path(section.oauth2_token_file), "imap.oauth2_token_file")
    assert section.oauth2_token_command is not None
    try:
        completed = subprocess.run(
            shlex.split(section.oauth2_token_command),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"'imap.oauth2_token_command' failed: {type(exc).__name__}") from None
    token = completed.stdout.strip()
    if not token:
        raise ConfigError("'imap.oauth2_token_command' printed no token")
    return token


# --- one poll ---------------------------------------------------------------------------


def poll_mailbox(
    app: App,
    section: ImapSection,
    *,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """Fetch, store and group everything new in one mailbox folder, exactly once."""
    config = mailbox_config_for(section)
    credentials = credentials_for(section, os.environ if environ is None else environ)
    with mailbox_lock(app.database, f"{config.name}-{config.folder}", app.settings.lock_dir):
        with session_scope(app.database) as session:
            try:
                result = _poll(app, session, config, credentials, stop, now)
            except StoppedError:  # shutdown: no failure; the uncommitted batch comes again
                session.rollback()
                raise
            except IkzInboxError as exc:  # the server, the models or the store failed
                session.rollback()
                _record_failure(session, config, str(exc), now())
                raise
    logger.info(
        "poll %s/%s: %s stored, %s duplicates, %s quarantined, %s left",
        config.name,
        config.folder,
        result.summary.stored,
        result.summary.duplicates,
        result.summary.quarantined,
        result.remaining,
    )
    return result


def _poll(
    app: App,
    session: Session,
    config: MailboxConfig,
    credentials: Credentials,
    stop: threading.Event | None,
    now: Callable[[], datetime],
) -> PollResult:
    """One batch at a time: fetch ▶ stages (in worker processes) ▶ one commit of the
    records and the high-water UID ▶ post-action on the server ▶ grouping."""
    with Mailbox(config, credentials) as mailbox:
        uidvalidity = mailbox.select()
        state, resynced = _starting_state(session, config, uidvalidity, now())
        uids = mailbox.new_uids(state.last_uid)
        processor = app.processor_for(len(uids))
        summary, done = service.IngestSummary(), 0
        batches = pipelined(
            processor, mailbox.fetch_batches(uids), _raw_mails, now, ahead=processor.ahead
        )
        for fetched, pending in batches:
            if not fetched:
                continue
            if done == 0:
                # The first batches are with the workers now: load the grouping model meanwhile.
                app.dedup  # noqa: B018
            done += len(fetched)
            state = replace(state, last_uid=fetched[-1].uid, backlog=len(uids) - done)
            records = pending.result()
            results = service.ingest_prepared(
                session,
                records,
                before_commit=partial(repository.save_mailbox_state, session, state),
            )
            summary = summary.add_all(results)
            _apply_server_actions(mailbox, fetched, records)
            if service.IngestResult.STORED in results:
                _group_new(app, now())
            if stop is not None and stop.is_set():
                logger.info("stop requested: batch committed, leaving the rest for later")
                break
        batches.close()
    finished = now()
    repository.save_mailbox_state(
        session, replace(state, last_poll_at=finished, last_success_at=finished, last_error=None)
    )
    session.commit()
    return PollResult(config.name, config.folder, summary, state.backlog, resynced)


def _apply_server_actions(
    mailbox: Mailbox, fetched: list[FetchedMail], records: list[NewMessage]
) -> None:
    """After the commit: the post-action, or the quarantine folder for quarantined mail."""
    quarantined = {
        mail.uid
        for mail, record in zip(fetched, records, strict=True)
        if record.status == "quarantined"
    }
    mailbox.apply_post_action([mail.uid for mail in fetched if mail.uid not in quarantined])
    if quarantined:
        mailbox.apply_quarantine_action(sorted(quarantined))


def _raw_mails(batch: list[FetchedMail]) -> list[RawMail]:
    return [mail.raw for mail in batch]


def _group_new(app: App, at: datetime) -> None:
    with session_scope(app.database) as session:
        service.group_new_questions(session, app.grouping, app.dedup, at)


def _starting_state(
    session: Session, config: MailboxConfig, uidvalidity: int, at: datetime
) -> tuple[MailboxState, bool]:
    """The sync state to start from, and whether a UIDVALIDITY change forces a re-sync."""
    state = repository.get_mailbox_state(session, config.name, config.folder)
    if state is None:
        return MailboxState(config.name, config.folder, uidvalidity, 0, at, None, None, 0), False
    if state.uidvalidity not in (None, uidvalidity):
        logger.warning(
            "%s/%s: UIDVALIDITY changed %s -> %s; full re-sync (deduplicated)",
            config.name,
            config.folder,
            state.uidvalidity,
            uidvalidity,
        )
        return replace(state, uidvalidity=uidvalidity, last_uid=0, last_poll_at=at), True
    return replace(state, uidvalidity=uidvalidity, last_poll_at=at), False


def _record_failure(session: Session, config: MailboxConfig, error: str, at: datetime) -> None:
    state = repository.get_mailbox_state(session, config.name, config.folder) or MailboxState(
        config.name, config.folder, None, 0, None, None, None, 0
    )
    repository.save_mailbox_state(session, replace(state, last_poll_at=at, last_error=error))
    session.commit()


def poll_all(app: App, stop: threading.Event | None = None) -> list[PollResult]:
    """Poll every configured mailbox once; a failing mailbox does not stop the others."""
    if not app.settings.mailboxes:
        raise ConfigError("Kein Postfach konfiguriert: Abschnitt [imap] fehlt / no [imap] section")
    results = []
    for section in app.settings.mailboxes:
        try:
            results.append(poll_mailbox(app, section, stop=stop))
        except LockError as exc:
            logger.warning("%s", exc)
        except (MailboxError, ConfigError, ModelError) as exc:
            logger.error("poll of %s/%s failed: %s", section.name, section.folder, exc)
    return results


def unpolled_mailboxes(
    mailboxes: Sequence[ImapSection], results: Sequence[PollResult]
) -> list[str]:
    """The configured "name/folder"s that ``poll_all`` returned no result for (failed or
    locked by another process): what makes ``poll --once`` exit non-zero."""
    polled = {(result.mailbox, result.folder) for result in results}
    return [f"{m.name}/{m.folder}" for m in mailboxes if (m.name, m.folder) not in polled]


# --- briefing job -----------------------------------------------------------------------


def write_scheduled_briefing(app: App, now: datetime | None = None) -> list[Path]:
    """Write HTML, PDF and Markdown of the next event's briefing (the next one that has not
    ended, else the most recent); mail them when [delivery] is configured."""
    at = now or datetime.now(UTC)
    with session_scope(app.database) as session:
        published = publish_briefing(session, app, None, at, mail=app.settings.delivery is not None)
    return list(published.paths)


# --- retention job ----------------------------------------------------------------------

# Who the audit names for the service's own daily purge.
SERVICE_ACTOR = "ikz-inbox-dienst"


def run_scheduled_purge(app: App, now: datetime | None = None) -> int:
    """Apply ``[retention]`` (the daily job); return how many messages lost data."""
    from ikz_inbox.dataprotection import plan_purge, purge

    at = now or datetime.now(UTC)
    retention = app.settings.retention
    with session_scope(app.database) as session:
        plan = plan_purge(session, app.events, retention, at)
        purge(session, app.database, plan, retention, at, actor=SERVICE_ACTOR)
    return len(plan.raw_only) + len(plan.personal)


def _purge_job(app: App) -> None:
    try:
        run_scheduled_purge(app)
    except IkzInboxError as exc:
        logger.error("retention purge failed: %s", exc)


# --- status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusReport:
    """What `ikz-inbox status` shows; ``healthy`` is False when a poll is overdue."""

    mailboxes: tuple[MailboxState, ...]
    overdue: tuple[str, ...]
    counts: dict[str, int]
    model_version: str
    model_fallback: bool

    @property
    def healthy(self) -> bool:
        return not self.overdue


def collect_status(app: App, now: datetime) -> StatusReport:
    """Last polls, backlog, errors, message counts and the topic model in use."""
    limit = timedelta(seconds=app.settings.worker.stale_after)
    with session_scope(app.database) as session:
        states = tuple(repository.list_mailbox_states(session))
        counts = repository.count_messages(session)
    known = {(state.mailbox, state.folder): state for state in states}
    overdue = []
    for section in app.settings.mailboxes:
        state = known.get((section.name, section.folder))
        if state is None or state.last_success_at is None or now - state.last_success_at > limit:
            overdue.append(f"{section.name}/{section.folder}")
    version = app.classifier.version
    return StatusReport(states, tuple(overdue), counts, version, version == "rules-fallback")


# --- the long-running service -----------------------------------------------------------


def run_service(app: App) -> None:
    """Run polls (or IDLE) and the briefing job until SIGTERM/SIGINT."""
    stop = threading.Event()
    load_models(app)
    scheduler = BlockingScheduler(timezone="Europe/Berlin")
    worker = app.settings.worker
    scheduler.add_job(
        _poll_job,
        "interval",
        args=(app, stop),
        seconds=worker.poll_interval,
        id="poll",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        write_scheduled_briefing,
        CronTrigger.from_crontab(worker.briefing_cron, timezone="Europe/Berlin"),
        args=(app,),
        id="briefing",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _purge_job,
        CronTrigger.from_crontab(app.settings.retention.purge_cron, timezone="Europe/Berlin"),
        args=(app,),
        id="purge",
        max_instances=1,
        coalesce=True,
    )
    watchdog = _watchdog_interval()
    if watchdog:
        scheduler.add_job(
            sd_notify, "interval", args=("WATCHDOG=1",), seconds=watchdog, id="watchdog"
        )
    if worker.mode == "idle":
        for section in app.settings.mailboxes:
            threading.Thread(
                target=idle_loop,
                args=(app, section, stop),
                daemon=True,
                name=f"idle-{section.name}",
            ).start()

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: finishing the current message, then stopping", signum)
        sd_notify("STOPPING=1")
        stop.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sd_notify("READY=1")
    sd_notify(f"STATUS=polling {len(app.settings.mailboxes)} mailbox(es)")
    scheduler.start()


def load_models(app: App) -> None:
    """Load the models before the first poll: start the worker processes, or load in-process."""
    pool = app.pool_processor
    if pool is not None:
        pool.start()
    else:
        app.pipeline  # noqa: B018
    app.dedup  # noqa: B018


def _poll_job(app: App, stop: threading.Event) -> None:
    try:
        results = poll_all(app, stop)
    except StoppedError:
        logger.info("poll stopped by the shutdown; its uncommitted batch comes again")
        return
    except IkzInboxError as exc:
        logger.error("poll failed: %s", exc)
        return
    stored = sum(result.summary.stored for result in results)
    sd_notify(f"STATUS=last poll {datetime.now(UTC):%H:%M:%S}Z, {stored} new")


def idle_loop(app: App, section: ImapSection, stop: threading.Event) -> None:
    """Wait with IMAP IDLE and poll as soon as mail arrives; reconnect with backoff."""
    config = mailbox_config_for(section)
    backoff = BACKOFF_START_SECONDS
    while not stop.is_set():
        try:
            credentials = credentials_for(section, os.environ)
            with Mailbox(config, credentials) as mailbox:
                mailbox.select()
                backoff = BACKOFF_START_SECONDS
                while not stop.is_set():
                    if mailbox.idle_wait(IDLE_TIMEOUT_SECONDS):
                        _poll_quietly(app, section, stop)
        except (MailboxError, ConfigError) as exc:
            delay = backoff * random.uniform(0.5, 1.5)
            logger.warning(
                "IDLE on %s failed (%s); reconnecting in %.0f s", section.name, exc, delay
            )
            stop.wait(delay)
            backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)


def _poll_quietly(app: App, section: ImapSection, stop: threading.Event) -> None:
    """Poll after IDLE woke up. Server and configuration errors go to the IDLE loop, which
    reconnects; any other failure is logged and IDLE goes on (the interval poll retries)."""
    try:
        poll_mailbox(app, section, stop=stop)
    except LockError:
        logger.debug("poll of %s already running", section.name)
    except StoppedError:
        logger.info("poll of %s stopped by the shutdown; its batch comes again", section.name)
    except (MailboxError, ConfigError):
        raise
    except IkzInboxError as exc:
        logger.error("poll of %s after IDLE failed: %s", section.name, exc)


def _watchdog_interval() -> float | None:
    usec = os.environ.get("WATCHDOG_USEC")
    return int(usec) / 2_000_000 if usec and usec.isdigit() else None


def sd_notify(message: str) -> None:
    """Tell systemd about our state (Type=notify); does nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        logger.debug("sd_notify failed: %s", exc)
