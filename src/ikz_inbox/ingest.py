"""The one ingest flow: raw mail from a source ▶ stages ▶ stored exactly once ▶ grouped.

    source batches ──processor (parse ▶ extract ▶ classify)──▶ MessageResult per message
        ──source.store + source.before_commit──▶ one commit per batch
        ──source.committed (e.g. the IMAP post-action)──▶ grouping of the new questions

Three sources feed it: an IMAP folder (``polling.MailboxSource``, the worker), files on
disk (``MailSource``, `ikz-inbox import`) and the stored raw bytes (``StoredSource``,
`ikz-inbox reprocess`). ``ingest`` owns what they share: running the stages in the
processor (worker processes for large batches) while the previous batch is written, one
commit per batch, the way around a concurrent writer, grouping, the stop request and the
counts. A source says what its batches are, how their results are written and what must
happen in the same transaction and after the commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ikz_inbox import service
from ikz_inbox.errors import DuplicateContentError
from ikz_inbox.processing import process_ahead
from ikz_inbox.sources import batched_mails, iter_raw_mails
from ikz_inbox.store import repository
from ikz_inbox.types import MessageResult, MessageStatus, RawMail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ikz_inbox.app import App

logger = logging.getLogger(__name__)

BatchT = TypeVar("BatchT")

# Messages per batch read from files: one commit each; large enough that a commit costs
# little per message, small enough that an mbox export never sits in memory at once.
IMPORT_BATCH = 100
# Stored messages per batch when reprocessing (raw bytes are read a batch at a time).
REPROCESS_BATCH = 200


class IngestOutcome(StrEnum):
    """What happened to one incoming message."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class IngestSummary:
    """Counts of one import, poll or reprocessing run."""

    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0

    @property
    def total(self) -> int:
        return self.stored + self.duplicates + self.quarantined

    def add_all(self, outcomes: Iterable[IngestOutcome]) -> IngestSummary:
        summary = self
        for outcome in outcomes:
            summary = summary.add(outcome)
        return summary

    def add(self, outcome: IngestOutcome) -> IngestSummary:
        return IngestSummary(
            stored=self.stored + (outcome is IngestOutcome.STORED),
            duplicates=self.duplicates + (outcome is IngestOutcome.DUPLICATE),
            quarantined=self.quarantined + (outcome is IngestOutcome.QUARANTINED),
        )


class Grouping(StrEnum):
    """How the questions of a source are grouped once its batches are stored."""

    NEW_QUESTIONS = "new-questions"  # after each batch, the new questions, incrementally
    EVERYTHING = "everything"  # at the end, all stored questions anew (results replaced)


class IngestSource(Generic[BatchT]):
    """Where mail comes from and how its results are kept; subclasses say what differs."""

    grouping = Grouping.NEW_QUESTIONS

    def expected(self) -> int:
        """About how many messages will come (chooses in-process or worker processes)."""
        raise NotImplementedError

    def batches(self) -> Iterable[BatchT]:
        raise NotImplementedError

    def mails(self, batch: BatchT) -> Sequence[RawMail]:
        raise NotImplementedError

    def store(
        self, session: Session, batch: BatchT, results: Sequence[MessageResult]
    ) -> list[IngestOutcome]:
        """Write ``results`` (of ``batch``, or of a part of it) into the open transaction,
        without commit: new messages, exactly once by content fingerprint. A source of
        stored messages overrides this."""
        return store_new_messages(session, results)

    def before_commit(self, session: Session, batch: BatchT) -> None:
        """Write what must be committed together with ``batch`` (the IMAP high-water UID)."""

    def committed(self, batch: BatchT, results: Sequence[MessageResult]) -> None:
        """Act on the source once ``batch`` is committed (the IMAP post-action, progress)."""


def ingest(
    session: Session,
    app: App,
    source: IngestSource[BatchT],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    stop: threading.Event | None = None,
) -> IngestSummary:
    """Run every message of ``source`` through the stages, store it, group; commits per batch.

    A stop request ends the run after the batch in hand is committed; the batches behind
    it are abandoned uncommitted (the source offers them again next time).
    """
    processor = app.processor_for(source.expected())
    summary, first = IngestSummary(), True
    batches = process_ahead(processor, source.batches(), source.mails, now, ahead=processor.ahead)
    try:
        for batch, pending in batches:
            if not source.mails(batch):
                continue
            if first:
                # The first batches are with the workers now: load the grouping model meanwhile.
                app.dedup  # noqa: B018
                first = False
            results = pending.result()
            outcomes = commit_batch(session, source, batch, results)
            summary = summary.add_all(outcomes)
            source.committed(batch, results)
            if source.grouping is Grouping.NEW_QUESTIONS and IngestOutcome.STORED in outcomes:
                service.group_new_questions(session, app.grouping, app.dedup, now())
            if stop is not None and stop.is_set():
                logger.info("stop requested: batch committed, leaving the rest for later")
                break
    finally:
        batches.close()
    if source.grouping is Grouping.EVERYTHING:
        service.regroup(session, app.dedup, app.events, now())
    return summary


def commit_batch(
    session: Session,
    source: IngestSource[BatchT],
    batch: BatchT,
    results: Sequence[MessageResult],
) -> list[IngestOutcome]:
    """Store a batch and what goes with it in one commit. When a concurrent writer (another
    mailbox fed the same mail) stored one of them first, store them one by one."""
    try:
        try:
            outcomes = source.store(session, batch, results)
        except DuplicateContentError:  # raised by the insert, before anything is committed
            session.rollback()
            logger.info("batch collided with a concurrent writer; storing one by one")
            outcomes = [_commit_one(session, source, batch, result) for result in results]
        source.before_commit(session, batch)
        session.commit()
    finally:
        session.expunge_all()  # keep memory flat over long imports: raw bytes stay in the DB
    return outcomes


def _commit_one(
    session: Session, source: IngestSource[BatchT], batch: BatchT, result: MessageResult
) -> IngestOutcome:
    """Store and commit one message unless its content is stored already (the way around a
    concurrent writer: the rest of its batch still gets in)."""
    try:
        [outcome] = source.store(session, batch, [result])
    except DuplicateContentError:  # a concurrent worker stored the same content first
        session.rollback()
        return IngestOutcome.DUPLICATE
    else:
        session.commit()
    finally:
        session.expunge_all()
    return outcome


def store_results(session: Session, results: Sequence[MessageResult]) -> list[IngestOutcome]:
    """Store results computed elsewhere (a benchmark, a test) as new messages, exactly once,
    in one commit; nothing is grouped."""
    return commit_batch(session, IngestSource[None](), None, results)


# --- storing new messages exactly once ----------------------------------------------------


def store_new_messages(session: Session, results: Sequence[MessageResult]) -> list[IngestOutcome]:
    """Add the messages whose content is not stored yet (no commit); flag a Message-ID
    that other content already carries. Raises DuplicateContentError when a concurrent
    writer got there first."""
    stored = repository.stored_fingerprints(session, (r.content_sha256 for r in results))
    taken = repository.taken_message_ids(session, (r.message_id for r in results if r.message_id))
    outcomes, batch = [], []
    for result in results:
        if result.content_sha256 in stored:
            logger.debug("duplicate content from %s", result.raw.source)
            outcomes.append(IngestOutcome.DUPLICATE)
            continue
        stored.add(result.content_sha256)
        batch.append((result, _note_message_id(result, taken)))
        outcomes.append(_outcome_of(result))
    repository.add_messages(session, batch)
    for result, _ in batch:
        logger.info("%s: stored as %s (%s)", result.message_id, result.kind, result.status)
    return outcomes


def _note_message_id(result: MessageResult, taken: set[str]) -> bool:
    """True when the Message-ID is already taken by other content; remembers it."""
    if result.message_id is None:
        return False
    collision = result.message_id in taken
    if collision:
        logger.warning(
            "%s: Message-ID reused with different content; stored and flagged", result.message_id
        )
    taken.add(result.message_id)
    return collision


def _outcome_of(result: MessageResult) -> IngestOutcome:
    if result.status is MessageStatus.QUARANTINED:
        return IngestOutcome.QUARANTINED
    return IngestOutcome.STORED


# --- files: `ikz-inbox import` ------------------------------------------------------------


class MailSource(IngestSource[list[RawMail]]):
    """Messages read one at a time (files, an mbox export, a list), ingested in batches;
    ``progress`` hears how many messages each committed batch held. ``grouping``: after
    each batch (the default), or once at the end (an import into an empty store)."""

    def __init__(
        self,
        mails: Iterable[RawMail],
        *,
        progress: Callable[[int], None] = lambda _count: None,
        batch_size: int = IMPORT_BATCH,
        grouping: Grouping = Grouping.NEW_QUESTIONS,
    ) -> None:
        self.grouping = grouping
        self._rest = batched_mails(mails, batch_size)
        # Read now: a full first batch means many messages, worth the worker processes.
        self._first = next(self._rest, [])
        self._progress = progress

    def expected(self) -> int:
        return len(self._first)

    def batches(self) -> Iterator[list[RawMail]]:
        return chain([self._first], self._rest) if self._first else iter(())

    def mails(self, batch: list[RawMail]) -> Sequence[RawMail]:
        return batch

    def committed(self, batch: list[RawMail], results: Sequence[MessageResult]) -> None:
        self._progress(len(batch))


def import_files(
    session: Session,
    app: App,
    paths: Sequence[Path],
    *,
    progress: Callable[[int], None] = lambda _count: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IngestSummary:
    """Read, process, store and group the messages under ``paths`` (.eml files, folders,
    mbox files, Maildirs); commits per batch. A missing path fails before anything is read."""
    return ingest(session, app, MailSource(iter_raw_mails(paths), progress=progress), now=now)


# --- stored raw bytes: `ikz-inbox reprocess` ----------------------------------------------


@dataclass(frozen=True)
class StoredBatch:
    """Stored messages to run through the stages again: their raw bytes, and their keys by
    the raw bytes' stored hash."""

    mails: tuple[RawMail, ...]
    message_ids: Mapping[str, int]  # raw_sha256 -> primary key


class StoredSource(IngestSource[StoredBatch]):
    """Every stored message that still has its raw bytes; results replace the stored ones
    (staff topics are kept), then everything is grouped anew."""

    grouping = Grouping.EVERYTHING

    def __init__(self, session: Session, *, batch_size: int = REPROCESS_BATCH) -> None:
        self._session = session
        self._batch_size = batch_size

    def expected(self) -> int:
        return repository.count_raw_messages(self._session)

    def batches(self) -> Iterator[StoredBatch]:
        records = repository.iter_raw_messages(self._session, self._batch_size)
        for batch in batched_mails(records, self._batch_size):
            yield StoredBatch(
                mails=tuple(RawMail(raw=record.raw, source=record.source) for record in batch),
                message_ids={record.raw_sha256: record.id for record in batch},
            )

    def mails(self, batch: StoredBatch) -> Sequence[RawMail]:
        return batch.mails

    def store(
        self, session: Session, batch: StoredBatch, results: Sequence[MessageResult]
    ) -> list[IngestOutcome]:
        """Replace the stored results; a result finds its message by the raw bytes' hash
        (stored messages never share raw bytes: their content fingerprints are unique)."""
        for result in results:
            repository.replace_message_results(
                session, batch.message_ids[result.raw_sha256], result
            )
        return [_outcome_of(result) for result in results]


def reprocess_messages(
    session: Session,
    app: App,
    now: datetime,
    *,
    actor: str,
) -> IngestSummary:
    """Re-run every stage from the stored raw bytes (staff topics are kept) and group
    everything anew; audited; commits per batch."""
    repository.record_audit(
        session,
        at=now,
        actor=actor,
        action="reprocess",
        target_type="messages",
        target_id="*",
        details={},
    )
    return ingest(session, app, StoredSource(session), now=lambda: now)


# --- a labelled folder: `ikz-inbox evaluate` ------------------------------------------------


def evaluation_export(
    session: Session, app: App, paths: Sequence[Path], now: datetime
) -> dict[str, object]:
    """Import ``paths`` into an empty store, group everything once at the end and return
    the export that `ikz-inbox evaluate` scores against the folder's labels."""
    source = MailSource(iter_raw_mails(paths), grouping=Grouping.EVERYTHING)
    ingest(session, app, source, now=lambda: now)
    return service.build_export(session, app.events, now, app.dedup)
