"""The long-running service: scheduling, IMAP IDLE and talking to systemd, nothing else.

``run_service`` wires the polls (``polling.poll_all_mailboxes`` on an interval, or IMAP
IDLE per mailbox), the briefing job (``publish.publish_scheduled_briefing``) and the
retention job (``dataprotection.run_scheduled_purge``) into APScheduler, handles
SIGTERM/SIGINT and tells systemd its state (sd_notify, watchdog).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from ikz_inbox.app import App
from ikz_inbox.config import ImapSection
from ikz_inbox.dataprotection import run_scheduled_purge
from ikz_inbox.errors import ConfigError, IkzInboxError, LockError, MailboxError, StoppedError
from ikz_inbox.mailbox import Mailbox, credentials_for, mailbox_config_for
from ikz_inbox.polling import poll_all_mailboxes, poll_mailbox
from ikz_inbox.publish import publish_scheduled_briefing
from ikz_inbox.types import LOCAL_ZONE

logger = logging.getLogger(__name__)

# Reconnect backoff after a failure in IDLE mode: doubles up to the cap, with jitter.
BACKOFF_START_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# IDLE is re-issued well before the 29 minutes RFC 2177 allows.
IDLE_TIMEOUT_SECONDS = 24 * 60.0


# --- the long-running service -----------------------------------------------------------


def run_service(app: App) -> None:
    """Run polls (or IDLE) and the briefing job until SIGTERM/SIGINT."""
    stop = threading.Event()
    load_models(app)
    scheduler = BlockingScheduler(timezone=LOCAL_ZONE.key)
    worker = app.settings.worker
    scheduler.add_job(
        _interval_poll_job,
        "interval",
        args=(app, stop),
        seconds=worker.poll_interval,
        id="poll",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        _briefing_job,
        CronTrigger.from_crontab(worker.briefing_cron, timezone=LOCAL_ZONE.key),
        args=(app,),
        id="briefing",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _purge_job,
        CronTrigger.from_crontab(app.settings.retention.purge_cron, timezone=LOCAL_ZONE.key),
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
        logger.info("signal %s: committing the batch in hand, then stopping", signum)
        sd_notify("STOPPING=1")
        stop.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sd_notify("READY=1")
    sd_notify(f"STATUS=polling {len(app.settings.mailboxes)} mailbox(es)")
    scheduler.start()


def _briefing_job(app: App) -> None:
    try:
        publish_scheduled_briefing(app, datetime.now(UTC))
    except IkzInboxError as exc:
        logger.error("scheduled briefing failed: %s", exc)


def _purge_job(app: App) -> None:
    try:
        run_scheduled_purge(app, datetime.now(UTC))
    except IkzInboxError as exc:
        logger.error("retention purge failed: %s", exc)


def load_models(app: App) -> None:
    """Load the models before the first poll: start the worker processes, or load in-process."""
    pool = app.pool_processor
    if pool is not None:
        pool.start()
    else:
        app.pipeline  # noqa: B018
    app.dedup  # noqa: B018


def _interval_poll_job(app: App, stop: threading.Event) -> None:
    try:
        results = poll_all_mailboxes(app, stop)
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
                        _poll_after_idle(app, section, stop)
        except (MailboxError, ConfigError) as exc:
            delay = backoff * random.uniform(0.5, 1.5)
            logger.warning(
                "IDLE on %s failed (%s); reconnecting in %.0f s", section.name, exc, delay
            )
            stop.wait(delay)
            backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)


def _poll_after_idle(app: App, section: ImapSection, stop: threading.Event) -> None:
    """Poll after IDLE woke up; see ``idle_poll_failure`` for what a failure does."""
    try:
        poll_mailbox(app, section, stop=stop)
    except IkzInboxError as exc:
        level = idle_poll_failure(exc)
        if level is None:
            raise
        logger.log(level, "poll of %s after IDLE did not finish: %s", section.name, exc)


def idle_poll_failure(error: IkzInboxError) -> int | None:
    """What a failed poll after IDLE means: None when the IDLE loop must reconnect (the
    server or the configuration failed), else the log level to note it with while IDLE
    goes on (the interval poll retries): a poll already running is routine, a shutdown
    expected, anything else (store, models) an error."""
    if isinstance(error, MailboxError | ConfigError):
        return None
    if isinstance(error, LockError):
        return logging.DEBUG
    if isinstance(error, StoppedError):
        return logging.INFO
    return logging.ERROR


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
