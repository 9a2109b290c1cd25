"""The stages over batches: in-process and in real worker processes, and their failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from ikz_inbox import processing
from ikz_inbox.app import App, open_app, worker_processes
from ikz_inbox.classify import TopicClassifier
from ikz_inbox.config import WorkerSection
from ikz_inbox.errors import ModelError, StoppedError
from ikz_inbox.pipeline import run_stages, run_stages_on_batch
from ikz_inbox.processing import (
    BatchProcessor,
    InlineProcessor,
    PendingBatch,
    PipelineSpec,
    PoolProcessor,
    message_results,
    process_ahead,
)
from ikz_inbox.types import RawMail, TopicPrediction
from tests.mailfactory import question_mails

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    scratch = tmp_path_factory.mktemp("processing")
    application = open_app(REPO / "config" / "ikz-inbox.toml", f"sqlite:///{scratch}/p.sqlite3")
    yield application
    application.close()


def sample_mails() -> list[RawMail]:
    files = sorted((REPO / "tests" / "data").rglob("*.eml"))[:40]
    mails = [RawMail(raw=path.read_bytes(), source=f"file:{path.name}") for path in files]
    generated = question_mails(40, seed=11)
    mails += [RawMail(raw=raw, source=f"gen:{index}") for index, raw in enumerate(generated)]
    return mails


@pytest.mark.parametrize(
    ("configured", "cpus", "expected"),
    [(None, 1, 0), (None, None, 0), (None, 2, 2), (None, 16, 4), (0, 8, 0), (3, 1, 3)],
)
def test_worker_processes_default_to_one_per_cpu(
    configured: int | None, cpus: int | None, expected: int
) -> None:
    assert worker_processes(configured, cpus) == expected


class RecordingProcessor(BatchProcessor):
    """Counts submissions; its records name the batch they came from."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, mails: Sequence[RawMail], received_at: datetime) -> PendingBatch:
        self.submitted.extend(mail.source for mail in mails)
        return PendingBatch(lambda: [])


@pytest.mark.parametrize("ahead", [0, 1, 3])
def test_process_ahead_yields_in_order_and_submits_ahead(ahead: int) -> None:
    processor = RecordingProcessor()
    batches = [[RawMail(b"", f"b{index}")] for index in range(6)]
    seen = []
    for batch, _pending in process_ahead(processor, batches, list, lambda: NOW, ahead=ahead):
        position = int(batch[0].source[1:])
        assert len(processor.submitted) == min(position + 1 + ahead, len(batches))
        seen.append(position)
    assert seen == list(range(6))


def test_process_ahead_abandons_what_is_not_yet_yielded_when_closed() -> None:
    processor = RecordingProcessor()
    batches = [[RawMail(b"", f"b{index}")] for index in range(10)]
    stream = process_ahead(processor, batches, list, lambda: NOW, ahead=2)
    first, _ = next(stream)
    stream.close()
    assert first[0].source == "b0"
    assert processor.submitted == ["b0", "b1", "b2"]


def test_inline_processor_equals_one_message_at_a_time(app: App) -> None:
    mails = sample_mails()[:10]
    results = InlineProcessor(lambda: app.pipeline, 0.5).submit(mails, NOW).result()
    assert results == [message_results([mail], app.pipeline, 0.5, NOW)[0] for mail in mails]


def test_pool_gives_the_same_records_in_the_same_order(app: App) -> None:
    mails = sample_mails()
    expected = InlineProcessor(lambda: app.pipeline, 0.5).submit(mails, NOW).result()
    pool = PoolProcessor(_spec(app, 0.5), processes=2)
    try:
        first = pool.submit(mails[:30], NOW)
        second = pool.submit(mails[30:], NOW)
        assert first.result() + second.result() == expected
        assert pool.started
    finally:
        pool.close()
    assert not pool.started


def test_killed_worker_loses_no_message(app: App) -> None:
    mails = [RawMail(raw=raw, source=f"gen:{i}") for i, raw in enumerate(question_mails(200))]
    expected = InlineProcessor(lambda: app.pipeline, 0.5).submit(mails, NOW).result()
    pool = PoolProcessor(_spec(app, 0.5), processes=2)
    try:
        pool.start()
        pending = pool.submit(mails, NOW)
        victim = next(iter(_worker_pids(pool)))
        os.kill(victim, signal.SIGKILL)
        assert pending.result() == expected
        assert victim not in _worker_pids(pool)
    finally:
        pool.close()


def test_workers_that_cannot_start_fail_loudly_instead_of_quarantining(
    app: App, tmp_path: Path
) -> None:
    spec = _spec(app, 0.5)
    broken = replace(spec, gazetteer_path=tmp_path / "missing.csv")
    pool = PoolProcessor(broken, processes=1)
    try:
        pending = pool.submit(sample_mails()[:3], NOW)
        with pytest.raises(ModelError, match="Verarbeitungsprozesse"):
            pending.result()
    finally:
        pool.close()


def test_closing_the_pool_stops_pending_batches_and_later_submits(app: App) -> None:
    # Shutdown under a poll running in another thread (IDLE): its batch is abandoned
    # uncommitted with a clear error, and no new pool may start behind the shutdown.
    mails = [RawMail(raw=raw, source=f"gen:{i}") for i, raw in enumerate(question_mails(400))]
    pool = PoolProcessor(_spec(app, 0.5), processes=1)
    pool.start()
    pending = pool.submit(mails, NOW)
    pool.close()
    with pytest.raises(StoppedError):
        pending.result()
    with pytest.raises(StoppedError):
        pool.submit(mails[:1], NOW)
    assert not pool.started


def test_pool_rejects_zero_processes(app: App) -> None:
    with pytest.raises(ValueError, match="processes"):
        PoolProcessor(_spec(app, 0.5), processes=0)


def test_app_uses_the_pool_only_for_large_batches(app: App) -> None:
    settings = replace(app.settings, worker=WorkerSection(processes=2))
    application = App(settings, app.database, app.events, app.taxonomy)
    try:
        assert isinstance(application.processor_for(5), InlineProcessor)
        pool = application.processor_for(500)
        assert isinstance(pool, PoolProcessor) and pool.processes == 2
        assert (pool.ahead, application.processor_for(5).ahead) == (2, 0)
        pool.start()
        assert application.processor_for(1) is pool  # once running, always the pool
    finally:
        if application.pool_processor is not None:
            application.pool_processor.close()
    assert not pool.started


def test_no_pool_when_configured_off(app: App) -> None:
    settings = replace(app.settings, worker=WorkerSection(processes=0))
    application = App(settings, app.database, app.events, app.taxonomy)
    assert application.pool_processor is None
    assert isinstance(application.processor_for(10_000), InlineProcessor)


def _spec(app: App, threshold: float) -> PipelineSpec:
    return replace(app.pipeline_spec, review_threshold=threshold)


def _worker_pids(pool: PoolProcessor) -> set[int]:
    executor = pool._executor  # the test needs the worker pids to kill one
    assert executor is not None
    return {process.pid for process in executor._processes.values() if process.pid is not None}


class PoisonedClassifier:
    """The real classifier, failing whenever one of the texts holds the poison word."""

    def __init__(self, real: TopicClassifier) -> None:
        self._real = real

    @property
    def version(self) -> str:
        return self._real.version

    def predict(self, texts: Sequence[str]) -> list[TopicPrediction]:
        if any("Giftwort" in text for text in texts):
            raise RuntimeError("classifier broke")
        return self._real.predict(texts)


def test_a_classifier_failure_quarantines_only_its_own_message(app: App) -> None:
    poisoned = replace(app.pipeline, classifier=PoisonedClassifier(app.pipeline.classifier))
    good = sample_mails()[40:46]
    bad = RawMail(
        raw=(
            "From: a@lemgo.de\r\nSubject: Frage\r\nMessage-ID: <gift@x>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Guten Tag,\r\nwie hoch ist die Förderquote für das Giftwort-Projekt?\r\n"
        ).encode(),
        source="poison",
    )
    processed = run_stages_on_batch([*good[:3], bad, *good[3:]], poisoned)
    statuses = [mail.status.value for mail in processed]
    assert statuses == ["processed"] * 3 + ["quarantined"] + ["processed"] * 3
    assert processed[3].error is not None and "RuntimeError" in processed[3].error
    assert [mail.topics for mail in processed[:3]] == [
        run_stages(mail, app.pipeline).topics for mail in good[:3]
    ]


FORK_CHECK = """
import sys
from pathlib import Path
from datetime import UTC, datetime
from ikz_inbox.app import open_app
from ikz_inbox.processing import InlineProcessor, PoolProcessor
from tests.unit.test_processing import sample_mails

if __name__ == "__main__":
    app = open_app(Path(sys.argv[1]), sys.argv[2])
    now = datetime(2024, 10, 1, tzinfo=UTC)
    mails = sample_mails()
    expected = InlineProcessor(lambda: app.pipeline, 0.5).submit(mails, now).result()
    pool = PoolProcessor(app.pipeline_spec, processes=2, load=lambda: app.pipeline)
    same = pool.submit(mails, now).result() == expected
    print(pool._executor._mp_context.get_start_method(), same)
    pool.close()
"""


def test_forked_workers_share_the_loaded_models_and_give_the_same_records(
    tmp_path: Path,
) -> None:
    # In a fresh interpreter: here, threads left by other tests would (rightly) rule out fork.
    script = tmp_path / "fork_check.py"
    script.write_text(FORK_CHECK, encoding="utf-8")
    config = REPO / "config" / "ikz-inbox.toml"
    result = subprocess.run(
        [sys.executable, str(script), str(config), f"sqlite:///{tmp_path}/f.sqlite3"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert result.stdout.split() == ["fork", "True"]


def test_threads_running_mean_workers_from_the_fork_server(app: App) -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()
    pool = PoolProcessor(_spec(app, 0.5), processes=1, load=lambda: app.pipeline)
    try:
        pool.start()
        executor = pool._executor
        assert executor is not None and executor._mp_context is not None
        assert executor._mp_context.get_start_method() == "forkserver"
    finally:
        stop.set()
        helper.join()
        pool.close()


# A worker killed while the pool still writes a large batch to it: the process must get past
# its end. CPython before 3.11.5 hangs at exit there unless the pool's pipe is unblocked
# (https://github.com/python/cpython/issues/94777); run in a child so that a hang fails the test.
_KILL_UNDER_LARGE_BATCH = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from tests.mailfactory import question_mails
from ikz_inbox.app import open_app
from ikz_inbox.processing import PoolProcessor
from ikz_inbox.types import RawMail

app = open_app(Path("config/ikz-inbox.toml"), "sqlite:///" + sys.argv[1])
padding = b"\\r\\n" + b"Ein langer Anhangstext ohne Fragen. " * 6000  # about 200 KB a mail
mails = [RawMail(raw=raw + padding, source=f"gen:{i}") for i, raw in enumerate(question_mails(120))]
pool = PoolProcessor(app.pipeline_spec, processes=2)
pool.start()
pending = pool.submit(mails, datetime(2024, 10, 1, tzinfo=UTC))
executor = pool._executor
os.kill(next(iter(executor._processes)), signal.SIGKILL)
print(len(pending.result()), flush=True)
pool.close()
app.close()
"""


def test_a_worker_killed_under_a_large_batch_does_not_hang_the_process(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _KILL_UNDER_LARGE_BATCH, str(tmp_path / "k.sqlite3")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["120"]


class _RecordingReader:
    def __init__(self) -> None:
        self.closes = 0

    def close(self) -> None:
        self.closes += 1


@pytest.mark.parametrize(
    ("broken", "stuck", "closes"),
    [
        (True, False, 0),  # tearing itself down: its own feeder thread closes the pipe
        (True, True, 1),  # still stuck after the grace time: closed for it
        (False, True, 1),  # close() under a running pool: closed at once, without waiting
    ],
)
def test_the_task_pipe_is_closed_unless_a_broken_pool_finishes_on_its_own(
    monkeypatch: pytest.MonkeyPatch, *, broken: bool, stuck: bool, closes: int
) -> None:
    # A broken pool closes the pipe from its own feeder thread; a second close from here
    # could race with it (seen as EBADF in CI). So a broken pool gets the grace time first.
    monkeypatch.setattr(processing, "_CPYTHON_CLOSES_BROKEN_CALL_QUEUE", (99,))
    monkeypatch.setattr(processing, "BROKEN_POOL_GRACE", 0.2)
    release = threading.Event()
    manager = threading.Thread(target=release.wait, daemon=True)
    manager.start()
    if not stuck:
        release.set()
    reader = _RecordingReader()
    executor = SimpleNamespace(
        _broken="a worker died" if broken else False,
        _executor_manager_thread=manager,
        _call_queue=SimpleNamespace(_reader=reader),
    )
    try:
        processing._unblock_broken_pool(cast(ProcessPoolExecutor, executor))
    finally:
        release.set()
        manager.join()
    assert reader.closes == closes
