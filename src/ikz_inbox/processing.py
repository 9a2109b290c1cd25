"""Run the pure stages for batches of mail, in this process or in a pool of worker processes.

    list[RawMail] ──message_results (parse ▶ extract ▶ classify, fingerprints)──▶ list[MessageResult]

The stages are pure and CPU-bound, so a poll of many messages spreads them over worker
processes (``[worker] processes``); the caller stays the one writer of the store and the
owner of the dedup index. ``submit`` returns at once, so the caller writes and groups one
batch while the workers compute the next.

Nothing is lost when a worker process dies (killed, out of memory, a crash in native
code): the batch is run again one message per task in a fresh pool, and a message that
kills its worker again is quarantined with the reason instead of being retried forever.
Workers that cannot even start (a broken model or gazetteer) raise ModelError: the batch
stays uncommitted and the poll fails loudly instead of quarantining every message.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from ikz_inbox.classify import TopicClassifier, load_topic_classifier
from ikz_inbox.errors import ModelError, StoppedError
from ikz_inbox.extract import load_extract_resources
from ikz_inbox.fingerprint import content_sha256, raw_sha256
from ikz_inbox.parse import read_attachment
from ikz_inbox.pipeline import (
    PipelineResources,
    ProcessedMail,
    quarantined_mail,
    run_stages_on_batch,
)
from ikz_inbox.types import ClassifiedQuestion, Event, MessageResult, RawMail, Topic

__all__ = [
    "BatchProcessor",
    "InlineProcessor",
    "PendingBatch",
    "PipelineSpec",
    "PoolProcessor",
    "load_pipeline",
    "message_result",
    "message_results",
    "process_ahead",
]

logger = logging.getLogger(__name__)

_BatchT = TypeVar("_BatchT")

# Messages per pool task: large enough that pickling and queueing cost little, small
# enough that every worker gets a share of a fetch batch.
TASK_SIZE = 20
# The first CPython 3.11 release whose ProcessPoolExecutor unblocks its own task pipe when
# a worker dies (gh-94777); see _unblock_broken_pool.
_CPYTHON_CLOSES_BROKEN_CALL_QUEUE = (3, 11, 5)
# Allocations between two collections of the young generation, once the models are loaded
# (CPython's default: 700). A poll allocates millions of short-lived objects (fetched
# messages, ORM rows, dedup profiles); at 700, the main process spent about 7 % of its time
# in the cycle collector, and the growing dedup index made each older-generation pass
# dearer. Reference counting frees acyclic garbage at once; only garbage in cycles waits.
GC_YOUNG_THRESHOLD = 50_000
# Seconds a broken pool gets to clean up after itself before its task pipe is closed for it
# (see _unblock_broken_pool); it needs milliseconds unless it is stuck.
BROKEN_POOL_GRACE = 2.0
# The reason stored with a message whose processing killed the worker process twice.
CRASH_REASON = "Verarbeitungsfehler: der Verarbeitungsprozess ist abgestürzt"


@dataclass(frozen=True)
class PipelineSpec:
    """Everything a process needs to load the stage resources; picklable for the workers."""

    gazetteer_path: Path
    events: tuple[Event, ...]
    taxonomy: tuple[Topic, ...]
    topic_model_dir: Path
    max_message_bytes: int
    review_threshold: float
    kind_model_dir: Path | None = None


def load_pipeline(
    spec: PipelineSpec, classifier: TopicClassifier | None = None
) -> PipelineResources:
    """Load the sentence pipeline, gazetteer and topic classifier once per process
    (``classifier``: one the process has loaded already)."""
    if classifier is None:
        classifier = load_topic_classifier(spec.topic_model_dir, spec.taxonomy)
    return PipelineResources(
        extract=load_extract_resources(
            spec.gazetteer_path, spec.events, spec.kind_model_dir, read_attachment=read_attachment
        ),
        classifier=classifier,
        max_message_bytes=spec.max_message_bytes,
    )


def message_results(
    raws: Sequence[RawMail],
    resources: PipelineResources,
    review_threshold: float,
    received_at: datetime,
) -> list[MessageResult]:
    """Run every stage on each message (one classifier call for all) and return what the
    store keeps of each; never raises."""
    return [
        message_result(processed, review_threshold, received_at)
        for processed in run_stages_on_batch(raws, resources)
    ]


def message_result(
    processed: ProcessedMail, review_threshold: float, received_at: datetime
) -> MessageResult:
    """The stage results of a processed message with its fingerprints (content and raw
    bytes); a topic below ``review_threshold`` needs review."""
    parsed, extraction = processed.parsed, processed.extraction
    questions: tuple[ClassifiedQuestion, ...] = ()
    if extraction is not None:
        questions = tuple(
            ClassifiedQuestion(
                span=span, topic=prediction, needs_review=prediction.confidence < review_threshold
            )
            for span, prediction in zip(extraction.questions, processed.topics, strict=True)
        )
    return MessageResult(
        raw=processed.raw,
        content_sha256=content_sha256(processed.raw.raw),
        raw_sha256=raw_sha256(processed.raw.raw),
        received_at=received_at,
        message_id=parsed.message_id,
        subject=parsed.subject,
        from_name=parsed.from_name,
        from_address=parsed.from_address,
        sent_at=parsed.date,
        sender_org=extraction.sender_org if extraction else None,
        kind=extraction.kind if extraction else None,
        event_id=extraction.event_id if extraction else None,
        status=processed.status,
        error=processed.error,
        new_text=extraction.new_text if extraction else "",
        questions=questions,
    )


class PendingBatch:
    """The results of one submitted batch, in submission order, once they are computed."""

    def __init__(self, collect: Callable[[], list[MessageResult]]) -> None:
        self._collect = collect
        self._results: list[MessageResult] | None = None

    def result(self) -> list[MessageResult]:
        if self._results is None:
            self._results = self._collect()
        return self._results


class BatchProcessor:
    """Common interface: ``submit`` a batch now, read its results later; ``close`` at the end."""

    @property
    def ahead(self) -> int:
        """Batches worth submitting beyond the one being written (none in-process)."""
        return 0

    def submit(self, mails: Sequence[RawMail], received_at: datetime) -> PendingBatch:
        raise NotImplementedError

    def close(self) -> None:
        """Release worker processes (nothing to do in-process)."""


class InlineProcessor(BatchProcessor):
    """Runs the stages in this process, when ``result`` is asked for."""

    def __init__(self, resources: Callable[[], PipelineResources], review_threshold: float):
        self._resources = resources
        self._review_threshold = review_threshold

    def submit(self, mails: Sequence[RawMail], received_at: datetime) -> PendingBatch:
        batch = list(mails)
        return PendingBatch(
            lambda: message_results(batch, self._resources(), self._review_threshold, received_at)
        )


class PoolProcessor(BatchProcessor):
    """Runs the stages in ``processes`` worker processes; the pool starts with the first
    batch (or ``start``) and is reused.

    When this process runs no other thread, the workers are forked from it after it has
    loaded the models (``load``): they start at once and share the model pages. Otherwise
    (threads running, or no ``load`` given) they come from a fork server, a clean
    interpreter, and load the models themselves: forking a threaded process can deadlock.
    """

    def __init__(
        self,
        spec: PipelineSpec,
        processes: int,
        log_level: int = logging.INFO,
        load: Callable[[], PipelineResources] | None = None,
    ):
        if processes < 1:
            raise ValueError(f"processes must be >= 1, not {processes}")
        self._spec = spec
        self._processes = processes
        self._log_level = log_level
        self._load = load
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def processes(self) -> int:
        return self._processes

    @property
    def ahead(self) -> int:
        """One batch in flight per worker, so they stay busy while the caller writes."""
        return self._processes

    @property
    def started(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        """Start the workers now (they load their models in parallel to the caller)."""
        executor = self._pool()
        for future in [executor.submit(_warm_up) for _ in range(self._processes)]:
            future.add_done_callback(_log_failure)

    def submit(self, mails: Sequence[RawMail], received_at: datetime) -> PendingBatch:
        batch = list(mails)
        size = max(1, min(TASK_SIZE, -(-len(batch) // self._processes)))
        tasks = [batch[start : start + size] for start in range(0, len(batch), size)]
        try:
            futures = [self._pool().submit(_results_task, task, received_at) for task in tasks]
        except BrokenProcessPool:
            futures = []
        return PendingBatch(lambda: self._collect(batch, futures, received_at))

    def close(self) -> None:
        """Stop the workers for good: batches still pending raise StoppedError, and so
        does any later submit (a poll in another thread must not start a new pool)."""
        self._closed = True
        if self._executor is not None:
            _unblock_broken_pool(self._executor)  # a worker may have died unnoticed meanwhile
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise StoppedError("Verarbeitung beendet / the worker processes were stopped")
        if self._executor is None:
            if self._load is not None and threading.active_count() == 1:
                self._executor = self._forked_pool(self._load())
            else:
                self._executor = self._fork_server_pool()
        return self._executor

    def _forked_pool(self, resources: PipelineResources) -> ProcessPoolExecutor:
        tune_gc_after_loading()  # the children's garbage collector leaves the shared pages
        executor = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_adopt_loaded,
            initargs=(resources, self._spec),
        )
        logger.info("forked %s worker processes sharing the loaded models", self._processes)
        return executor

    def _fork_server_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ikz_inbox.processing"])
        executor = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self._spec, self._log_level),
        )
        logger.info("started %s worker processes from a fork server", self._processes)
        return executor

    def _collect(
        self, batch: list[RawMail], futures: list[Future[list[MessageResult]]], at: datetime
    ) -> list[MessageResult]:
        try:
            if not futures and batch:
                raise BrokenProcessPool("the pool was broken before the batch was submitted")
            results = [result for future in futures for result in future.result()]
            return _with_raw_bytes(results, batch)
        except CancelledError:
            raise StoppedError(
                "Verarbeitung beendet / the worker processes were stopped under this batch"
            ) from None
        except BrokenProcessPool as exc:
            logger.error("a worker process died (%s); running the batch again one by one", exc)
            self._restart_workers()
            return [self._result_alone(raw, at) for raw in batch]

    def _restart_workers(self) -> None:
        """A fresh pool that has loaded its models; ModelError when workers cannot start."""
        self._replace_pool()
        try:
            self._pool().submit(_warm_up).result()
        except BrokenProcessPool:
            self._replace_pool()
            raise ModelError(
                "Die Verarbeitungsprozesse starten nicht (Modell, Gazetteer und Protokoll "
                "prüfen) / worker processes cannot load the pipeline"
            ) from None

    def _result_alone(self, raw: RawMail, at: datetime) -> MessageResult:
        try:
            return _with_raw_bytes(self._pool().submit(_results_task, [raw], at).result(), [raw])[0]
        except BrokenProcessPool:
            logger.error("processing %s killed its worker twice; quarantined", raw.source)
            self._replace_pool()
            return message_result(
                quarantined_mail(raw, CRASH_REASON), self._spec.review_threshold, at
            )

    def _replace_pool(self) -> None:
        """Drop the broken pool (a worker died); the next ``_pool`` starts a fresh one."""
        if self._executor is not None:
            _unblock_broken_pool(self._executor)
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _unblock_broken_pool(executor: ProcessPoolExecutor) -> None:
    """Close the reading end of a broken pool's task pipe, as CPython 3.11.5 and later do.

    Before that (Debian 12 ships 3.11.2), a worker that dies while a large batch is being
    written to the pipe leaves the pool's feeder thread blocked on it for good: the pool's
    manager thread waits for the feeder, and the interpreter waits for the manager at exit,
    so the service never ends (https://github.com/python/cpython/issues/94777). Only the
    workers read that pipe, each through its own copy of the reading end, so closing this
    process's copy changes nothing while they live and frees the feeder once they are gone.
    Later versions close it themselves, in a thread of their own: it is left to them there.

    A pool that the executor already knows is broken is tearing itself down: its feeder
    thread closes the pipe itself unless it is blocked in the write. Closing it here as well
    could race with that close (two closes of one file descriptor: the second fails, or
    closes whatever file reused the number), so such a pool gets BROKEN_POOL_GRACE to finish
    on its own, and the pipe is closed for it only when it is still stuck after that. A
    pool that is not broken (``close`` under a running pool) has not begun to close the pipe.
    """
    if sys.version_info >= _CPYTHON_CLOSES_BROKEN_CALL_QUEUE:
        return
    if getattr(executor, "_broken", False):
        manager = getattr(executor, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(BROKEN_POOL_GRACE)
            if not manager.is_alive():
                return
            logger.warning("worker pool stuck after a worker died: closing its task pipe")
    reader = getattr(getattr(executor, "_call_queue", None), "_reader", None)
    if reader is not None:
        reader.close()


def process_ahead(
    processor: BatchProcessor,
    batches: Iterable[_BatchT],
    mails_of: Callable[[_BatchT], Sequence[RawMail]],
    now: Callable[[], datetime],
    ahead: int,
) -> Generator[tuple[_BatchT, PendingBatch], None, None]:
    """Submit each batch, keeping up to ``ahead`` more in flight, and yield them in order.

    The caller writes a yielded batch while the processor works on the ones behind it;
    closing the generator early (a stop request) abandons the batches not yet yielded.
    """
    in_flight: deque[tuple[_BatchT, PendingBatch]] = deque()
    for batch in batches:
        in_flight.append((batch, processor.submit(mails_of(batch), now())))
        if len(in_flight) > ahead:
            yield in_flight.popleft()
    while in_flight:
        yield in_flight.popleft()


# --- inside a worker process -------------------------------------------------------------

# Set once by the pool initializer, and only ever inside a worker process: the loaded
# models and the spec, so that each task does not load them again.
_worker_state: tuple[PipelineResources, PipelineSpec] | None = None


def _init_worker(spec: PipelineSpec, log_level: int) -> None:
    global _worker_state
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s"
    )
    _worker_state = (load_pipeline(spec), spec)
    tune_gc_after_loading()


def tune_gc_after_loading() -> None:
    """Set up the garbage collector for a process that has just loaded models: freeze what
    is loaded, and collect the young generation less often.

    The models are millions of long-lived objects; without the freeze, each full collection
    walks them all again (about 15 % of the stage time). Reference counting still frees
    them, only the cycle collector skips them. Then the young generation is collected every
    GC_YOUNG_THRESHOLD allocations instead of every 700 (see there).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _adopt_loaded(resources: PipelineResources, spec: PipelineSpec) -> None:
    """Initializer of a forked worker: the parent's loaded models and logging are inherited."""
    global _worker_state
    _worker_state = (resources, spec)


def _loaded_worker() -> tuple[PipelineResources, PipelineSpec]:
    if _worker_state is None:
        raise RuntimeError("worker process used before its initializer ran")
    return _worker_state


def _warm_up() -> None:
    _loaded_worker()


def _results_task(mails: list[RawMail], received_at: datetime) -> list[MessageResult]:
    """The results of ``mails`` without their raw bytes, which the caller holds already:
    sending them back would copy every message through the pipe a second time."""
    resources, spec = _loaded_worker()
    results = message_results(mails, resources, spec.review_threshold, received_at)
    return [replace(result, raw=replace(result.raw, raw=b"")) for result in results]


def _with_raw_bytes(results: list[MessageResult], mails: Sequence[RawMail]) -> list[MessageResult]:
    """Give the results from a worker back the raw bytes of their mails (same order)."""
    return [replace(result, raw=mail) for result, mail in zip(results, mails, strict=True)]


def _log_failure(future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        logger.error("worker process failed to start: %s", error)
