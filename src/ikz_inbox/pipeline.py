"""The stage order, in one place, and the one per-message ``except``.

    raw bytes ──parse──▶ ParsedMail ──extract──▶ Extraction ──classify──▶ topics

``run_stages`` runs the stages for one message (``run_stages_on_batch`` for a batch, with
one classifier call) and never raises: any failure becomes a quarantined result carrying
the reason, so one bad message never blocks the rest and is never lost (the caller
stores the raw bytes either way). Grouping (dedup) and ranking work on all stored
questions at once and are run by the service after a batch.
"""

from __future__ import annotations

import email
import email.policy
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.utils import parseaddr, parsedate_to_datetime

from ikz_inbox.classify import TopicClassifier
from ikz_inbox.errors import ParseError
from ikz_inbox.extract import ExtractResources, extract_message
from ikz_inbox.limits import MAX_MESSAGE_BYTES
from ikz_inbox.parse import parse_message
from ikz_inbox.types import (
    ORGANISATION_TOPIC,
    Extraction,
    MessageStatus,
    ParsedMail,
    RawMail,
    TopicPrediction,
    TopicSource,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineResources:
    """Models and lookups the stages need, loaded once per process."""

    extract: ExtractResources
    classifier: TopicClassifier
    max_message_bytes: int = MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class ProcessedMail:
    """What the stages made of one message; ``parsed`` is a header-only fallback on failure."""

    raw: RawMail
    parsed: ParsedMail
    extraction: Extraction | None
    topics: tuple[TopicPrediction, ...]
    status: MessageStatus
    error: str | None


def run_stages(raw: RawMail, resources: PipelineResources) -> ProcessedMail:
    """Run parse, extract and classify on one message; quarantine it on any failure."""
    return run_stages_on_batch([raw], resources)[0]


def run_stages_on_batch(
    raws: Sequence[RawMail], resources: PipelineResources
) -> list[ProcessedMail]:
    """``run_stages`` for many messages, with one classifier call for all their questions
    (the model scores each question alone, so the topics are the same, at half the cost)."""
    staged = [_parse_and_extract(raw, resources) for raw in raws]
    asking = [mail for mail in staged if mail.extraction is not None and mail.extraction.questions]
    try:
        topics = classify_extractions([mail.extraction for mail in asking], resources.classifier)
    # Any failure of the model on the batch: retried one message at a time, so that only a
    # message whose questions fail on their own is quarantined.
    except Exception:  # noqa: BLE001
        if len(raws) == 1:
            return [_stage_failure(raws[0])]
        logger.warning("classifying %s messages at once failed; one by one", len(raws))
        return [run_stages(raw, resources) for raw in raws]
    classified = {id(mail): found for mail, found in zip(asking, topics, strict=True)}
    return [replace(mail, topics=classified.get(id(mail), ())) for mail in staged]


def _parse_and_extract(raw: RawMail, resources: PipelineResources) -> ProcessedMail:
    if len(raw.raw) > resources.max_message_bytes:
        reason = f"Nachricht zu groß ({len(raw.raw)} Bytes > {resources.max_message_bytes})"
        return quarantined_mail(raw, reason)
    try:
        parsed = parse_message(raw.raw)
        extraction = extract_message(parsed, resources.extract)
    except ParseError as exc:
        return quarantined_mail(raw, f"nicht lesbar: {exc}")
    # The one place that turns any stage failure into quarantine: a bug or a hostile mail
    # must cost one message (kept with its raw bytes), never the rest of the batch.
    except Exception:  # noqa: BLE001
        return _stage_failure(raw)
    return ProcessedMail(raw, parsed, extraction, (), MessageStatus.PROCESSED, None)


def _stage_failure(raw: RawMail) -> ProcessedMail:
    """Quarantine for an unexpected exception; call only inside an ``except`` block."""
    logger.exception("stage failure for %s", raw.source)
    error = sys.exc_info()[1]
    return quarantined_mail(raw, f"Verarbeitungsfehler: {type(error).__name__}: {error}")


def classify_extractions(
    extractions: Sequence[Extraction | None], classifier: TopicClassifier
) -> list[tuple[TopicPrediction, ...]]:
    """The topic of each question of each extraction, in one classifier call; an
    "organisation" hint from extraction wins."""
    questions = [q for extraction in extractions if extraction for q in extraction.questions]
    predictions = iter(classifier.predict([q.text for q in questions]) if questions else [])
    return [
        tuple(
            _apply_hint(next(predictions), question.topic_hint)
            for question in (extraction.questions if extraction else ())
        )
        for extraction in extractions
    ]


def _apply_hint(prediction: TopicPrediction, hint: str | None) -> TopicPrediction:
    if hint != ORGANISATION_TOPIC or prediction.topic == ORGANISATION_TOPIC:
        return prediction
    return TopicPrediction(
        topic=ORGANISATION_TOPIC,
        confidence=max(prediction.confidence, 0.9),
        source=TopicSource.RULES,
        model_version=prediction.model_version,
        secondary=prediction.secondary,
    )


def quarantined_mail(raw: RawMail, reason: str) -> ProcessedMail:
    """A quarantined result for ``raw`` with the reason; the raw bytes are kept as they are."""
    logger.warning("quarantined %s: %s", raw.source, reason)
    return ProcessedMail(
        raw=raw,
        parsed=fallback_headers(raw.raw),
        extraction=None,
        topics=(),
        status=MessageStatus.QUARANTINED,
        error=reason,
    )


def fallback_headers(raw: bytes) -> ParsedMail:
    """Best-effort headers of a message the parser could not handle (never raises)."""
    try:
        message = email.message_from_bytes(raw[:200_000], policy=email.policy.compat32)
        message_id = (message.get("Message-ID") or "").strip() or None
        name, address = parseaddr(str(message.get("From") or ""))
        subject = str(message.get("Subject") or "")
        date = parsedate_to_datetime(str(message["Date"])) if message.get("Date") else None
    # Best effort on a mail the parser already failed on: a broken header must not lose it.
    except Exception:  # noqa: BLE001
        message_id, name, address, subject, date = None, "", "", "", None
    if date is not None and date.tzinfo is None:
        date = None
    return ParsedMail(
        message_id=message_id,
        subject=subject[:998],
        from_name=name,
        from_address=address.lower(),
        to=(),
        date=date,
        headers=(),
        body_text="",
    )
