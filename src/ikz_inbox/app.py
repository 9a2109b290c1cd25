"""Wiring shared by the CLI and the worker: settings, database and lazily loaded models."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ikz_inbox.classify import TopicClassifier, load_taxonomy, load_topic_classifier
from ikz_inbox.config import Settings, load_events, load_settings
from ikz_inbox.dedup import DedupModel, load_dedup_model
from ikz_inbox.extract import load_extract_resources
from ikz_inbox.pipeline import PipelineResources
from ikz_inbox.service import GroupingCache
from ikz_inbox.store import Database, migrate, open_database, repository, session_scope
from ikz_inbox.types import Event, Topic

logger = logging.getLogger(__name__)


@dataclass
class App:
    """One process's view of the configuration, database and models (loaded on first use)."""

    settings: Settings
    database: Database
    events: tuple[Event, ...]
    taxonomy: tuple[Topic, ...]
    _max_message_bytes: int = field(default=25_000_000)
    grouping: GroupingCache = field(default_factory=GroupingCache)

    @cached_property
    def classifier(self) -> TopicClassifier:
        return load_topic_classifier(self.settings.topic_model_dir, self.taxonomy)

    @cached_property
    def pipeline(self) -> PipelineResources:
        extract = load_extract_resources(self.settings.gazetteer_path, self.events)
        return PipelineResources(
            extract=extract, classifier=self.classifier, max_message_bytes=self._max_message_bytes
        )

    @cached_property
    def dedup(self) -> DedupModel:
        return load_dedup_model(self.settings.lexicon_path, cache_dir=self.settings.cache_dir)

    @property
    def topic_ids(self) -> tuple[str, ...]:
        return tuple(topic.id for topic in self.taxonomy)

    @property
    def topic_labels(self) -> dict[str, str]:
        return {topic.id: topic.label for topic in self.taxonomy}


def open_app(config_path: Path | None = None, database_url: str | None = None) -> App:
    """Load settings, events and taxonomy, open and migrate the database."""
    settings = load_settings(config_path, database_url)
    events = load_events(settings.events_path)
    taxonomy = load_taxonomy(settings.taxonomy_path)
    database = open_database(settings.database_url)
    migrate(database)
    with session_scope(database) as session:
        repository.sync_events(session, events)
        session.commit()
    max_bytes = max(
        (mailbox.max_message_bytes for mailbox in settings.mailboxes), default=25_000_000
    )
    return App(
        settings=settings,
        database=database,
        events=events,
        taxonomy=taxonomy,
        _max_message_bytes=max_bytes,
    )
