"""Polling the configured IMAP folders: the mailbox source of the ingest flow, its sync
state, and its health (`ikz-inbox status`).

``poll_mailbox`` is one poll of one configured folder: under a lock, it selects the folder,
fetches every UID above the last committed one in batches and hands them to ``ingest``,
which stores each batch in one commit together with the new high-water UID; only then is
the post-action applied on the server. A crash loses at most the uncommitted batch, which
the next poll fetches again. A UIDVALIDITY change restarts at UID 0; content fingerprints
keep that re-sync from storing anything twice.
"""

from __future__ import annotations

import logging
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ikz_inbox.classify import RULES_VERSION
from ikz_inbox.config import ImapSection
from ikz_inbox.errors import (
    ConfigError,
    IkzInboxError,
    LockError,
    MailboxError,
    ModelError,
    StoppedError,
)
from ikz_inbox.ingest import IngestSource, IngestSummary, ingest
from ikz_inbox.mailbox import (
    FetchedMail,
    Mailbox,
    MailboxConfig,
    credentials_for,
    mailbox_config_for,
)
from ikz_inbox.store import repository, session_scope
from ikz_inbox.store.locks import mailbox_lock
from ikz_inbox.store.records import MailboxState
from ikz_inbox.types import MessageResult, MessageStatus, RawMail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ikz_inbox.app import App

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollResult:
    """What one poll of one mailbox folder did."""

    mailbox: str
    folder: str
    summary: IngestSummary
    remaining: int
    resynced: bool


class MailboxSource(IngestSource[list[FetchedMail]]):
    """The new UIDs of a selected folder, fetched in batches. Each batch is committed with
    the folder's new high-water UID; the server is changed only after that commit."""

    def __init__(self, mailbox: Mailbox, state: MailboxState, uids: Sequence[int]) -> None:
        self._mailbox = mailbox
        self._uids = sorted(uids)  # as Mailbox.new_uids gives them: bisect needs the order
        self.state = replace(state, backlog=len(self._uids))

    def expected(self) -> int:
        return len(self._uids)

    def batches(self) -> Iterable[list[FetchedMail]]:
        return self._mailbox.fetch_batches(self._uids)

    def mails(self, batch: list[FetchedMail]) -> list[RawMail]:
        return [mail.raw for mail in batch]

    def before_commit(self, session: Session, batch: list[FetchedMail]) -> None:
        """The new high-water UID and the UIDs above it still to fetch (computed from the
        UID, so vanished UIDs and a repeated call for the same batch count right)."""
        last_uid = batch[-1].uid
        backlog = len(self._uids) - bisect_right(self._uids, last_uid)
        self.state = replace(self.state, last_uid=last_uid, backlog=backlog)
        repository.save_mailbox_state(session, self.state)

    def committed(self, batch: list[FetchedMail], results: Sequence[MessageResult]) -> None:
        """The post-action, or the quarantine folder for quarantined mail."""
        quarantined = {
            mail.uid
            for mail, result in zip(batch, results, strict=True)
            if result.status is MessageStatus.QUARANTINED
        }
        self._mailbox.apply_post_action([mail.uid for mail in batch if mail.uid not in quarantined])
        if quarantined:
            self._mailbox.apply_quarantine_action(sorted(quarantined))


def poll_mailbox(
    app: App,
    section: ImapSection,
    *,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """Fetch, store and group everything new in one mailbox folder, exactly once."""
    config = mailbox_config_for(section)
    credentials = credentials_for(section, os.environ)
    with mailbox_lock(app.database, f"{config.name}-{config.folder}", app.settings.lock_dir):
        with session_scope(app.database) as session:
            try:
                with Mailbox(config, credentials) as mailbox:
                    result = _sync_folder(session, app, mailbox, config, stop, now)
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


def _sync_folder(
    session: Session,
    app: App,
    mailbox: Mailbox,
    config: MailboxConfig,
    stop: threading.Event | None,
    now: Callable[[], datetime],
) -> PollResult:
    """Ingest every UID above the folder's high-water mark, then record the success."""
    uidvalidity = mailbox.select()
    state, resynced = _starting_state(session, config, uidvalidity, now())
    source = MailboxSource(mailbox, state, mailbox.new_uids(state.last_uid))
    summary = ingest(session, app, source, now=now, stop=stop)
    finished = now()
    repository.save_mailbox_state(
        session,
        replace(source.state, last_poll_at=finished, last_success_at=finished, last_error=None),
    )
    session.commit()
    return PollResult(config.name, config.folder, summary, source.state.backlog, resynced)


def _starting_state(
    session: Session, config: MailboxConfig, uidvalidity: int, at: datetime
) -> tuple[MailboxState, bool]:
    """The sync state to start from, and whether a UIDVALIDITY change forces a re-sync."""
    state = repository.get_mailbox_state(session, config.name, config.folder)
    if state is None:
        first = MailboxState(config.name, config.folder, uidvalidity=uidvalidity, last_poll_at=at)
        return first, False
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
        config.name, config.folder
    )
    repository.save_mailbox_state(session, replace(state, last_poll_at=at, last_error=error))
    session.commit()


def poll_all_mailboxes(app: App, stop: threading.Event | None = None) -> list[PollResult]:
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
    """The configured "name/folder"s that ``poll_all_mailboxes`` returned no result for
    (failed or locked by another process): what makes ``poll --once`` exit non-zero."""
    polled = {(result.mailbox, result.folder) for result in results}
    return [f"{m.name}/{m.folder}" for m in mailboxes if (m.name, m.folder) not in polled]


# --- health -----------------------------------------------------------------------------


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
    fallback = version == RULES_VERSION
    return StatusReport(states, tuple(overdue), counts, version, fallback)
