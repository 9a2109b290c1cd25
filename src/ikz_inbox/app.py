"""Wiring shared by the CLI and the worker: settings, database and lazily loaded models."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ikz_inbox.classify import TopicClassifier, load_taxonomy, load_topic_classifier
from ikz_inbox.config import (
    REQUIRED_FILES,
    Settings,
    check_required_files,
    load_events,
    load_settings,
)
from ikz_inbox.dedup import DedupModel, load_dedup_model
from ikz_inbox.limits import MAX_MESSAGE_BYTES
from ikz_inbox.pipeline import PipelineResources
from ikz_inbox.processing import (
    BatchProcessor,
    InlineProcessor,
    PipelineSpec,
    PoolProcessor,
    load_pipeline,
    tune_gc_after_loading,
)
from ikz_inbox.service import GroupingCache
from ikz_inbox.store import Database, migrate, open_database, repository, session_scope
from ikz_inbox.types import Event, Topic

logger = logging.getLogger(__name__)

# A poll or import of fewer new messages runs in-process unless the worker processes are
# already running: starting them costs about as much as processing a few dozen messages.
POOL_FROM_MESSAGES = 40
# "auto" never starts more worker processes than this.
AUTO_PROCESSES_MAX = 4


@dataclass
class App:
    """One process's view of the configuration, database and models (loaded on first use)."""

    settings: Settings
    database: Database
    events: tuple[Event, ...]
    taxonomy: tuple[Topic, ...]
    _max_message_bytes: int = field(default=MAX_MESSAGE_BYTES)
    grouping: GroupingCache = field(default_factory=GroupingCache)

    @cached_property
    def classifier(self) -> TopicClassifier:
        return load_topic_classifier(self.settings.topic_model_dir, self.taxonomy)

    @cached_property
    def pipeline(self) -> PipelineResources:
        resources = load_pipeline(self.pipeline_spec, self.classifier)
        tune_gc_after_loading()
        return resources

    @property
    def pipeline_spec(self) -> PipelineSpec:
        return PipelineSpec(
            gazetteer_path=self.settings.gazetteer_path,
            events=self.events,
            taxonomy=self.taxonomy,
            topic_model_dir=self.settings.topic_model_dir,
            max_message_bytes=self._max_message_bytes,
            review_threshold=self.settings.review_threshold,
            kind_model_dir=self.settings.kind_model_dir,
        )

    @cached_property
    def inline_processor(self) -> InlineProcessor:
        return InlineProcessor(lambda: self.pipeline, self.settings.review_threshold)

    @cached_property
    def pool_processor(self) -> PoolProcessor | None:
        """The worker processes for parse/extract/classify, or None when configured off."""
        processes = worker_processes(self.settings.worker.processes, os.cpu_count())
        if processes == 0:
            return None
        return PoolProcessor(
            self.pipeline_spec,
            processes,
            logging.getLogger().getEffectiveLevel(),
            load=lambda: self.pipeline,
        )

    def processor_for(self, count: int) -> BatchProcessor:
        """Where to run the stages for ``count`` new messages: the pool or this process."""
        pool = self.pool_processor
        if pool is None or (count < POOL_FROM_MESSAGES and not pool.started):
            return self.inline_processor
        return pool

    def close(self) -> None:
        """Stop worker processes and release the database connections."""
        if "pool_processor" in self.__dict__ and self.pool_processor is not None:
            self.pool_processor.close()
        self.database.engine.dispose()

    @cached_property
    def dedup(self) -> DedupModel:
        model = load_dedup_model(
            self.settings.lexicon_path,
            cache_dir=self.settings.cache_dir,
            model_dir=self.settings.trained_grouping_dir,
        )
        tune_gc_after_loading()
        return model

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(topic.id for topic in self.taxonomy)

    @property
    def topic_labels(self) -> dict[str, str]:
        return {topic.id: topic.label for topic in self.taxonomy}


def worker_processes(configured: int | None, cpus: int | None) -> int:
    """Worker processes to use: the configured number, or one per CPU (at most
    AUTO_PROCESSES_MAX) when not configured, none on a single CPU."""
    if configured is not None:
        return configured
    available = cpus or 1
    return 0 if available < 2 else min(available, AUTO_PROCESSES_MAX)


def open_app(
    config_path: Path | None = None,
    database_url: str | None = None,
    events_path: Path | None = None,
) -> App:
    """Load settings, events and taxonomy, open and migrate the database.

    ``events_path`` replaces the configured events file (``evaluate`` uses a labelled
    folder's own ``events.toml``).
    """
    settings = load_settings(config_path, database_url)
    # A missing events file is named by its key, unless the caller brings its own events.
    check_required_files(
        settings, tuple(key for key in REQUIRED_FILES if events_path is None or key != "events")
    )
    events = load_events(events_path or settings.events_path)
    taxonomy = load_taxonomy(settings.taxonomy_path)
    database = open_database(settings.database_url)
    migrate(database)
    with session_scope(database) as session:
        repository.sync_events(session, events)
        session.commit()
    max_bytes = max(
        (mailbox.max_message_bytes for mailbox in settings.mailboxes), default=MAX_MESSAGE_BYTES
    )
    return App(
        settings=settings,
        database=database,
        events=events,
        taxonomy=taxonomy,
        _max_message_bytes=max_bytes,
    )
