"""The extract stage: message kind, new text, questions, sender organisation, event.

In: a ``ParsedMail`` and the resources of ``load_extract_resources`` (sentence pipeline,
gazetteer, events, and the parse stage's attachment reader, handed in by the wiring). Out:
an ``Extraction``.

The kind is decided in two steps (``kinds.settle_kind`` before question extraction, with
header evidence, spam and sure automatic kinds; ``kinds.final_kind`` after it: questions make
"frage"), with the kind model of ``kind_model`` where it is loaded, by rules otherwise.
Automatic mail (bounce, auto-reply, newsletter, spam) has no questions and no event; an
auto-reply names the sender's organisation and a newsletter its publisher from the
signature. A human mail's new text is what the sender wrote plus the new text of every
attached message/rfc822 (a colleague's forwarded mail counts); where it asks nothing itself
but says that its questions are attached ("Unsere Fragen finden Sie im Anhang"), the text of
its .txt/.pdf/.docx attachments joins it (read only then: a PDF costs more than the rest of
the mail). Its questions decide between "frage" and the other human kinds. "frage" and
"anmeldung" always get an event when events exist; "sonstiges" only when the message names
one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ikz_inbox.defaults import packaged
from ikz_inbox.extract.event import EventMatcher, assign_event, compile_event_matchers
from ikz_inbox.extract.kind_model import KindModel, load_kind_model_or_none
from ikz_inbox.extract.kinds import final_kind, settle_kind
from ikz_inbox.extract.newtext import isolate_new_text_with_subject
from ikz_inbox.extract.questions import build_sentence_pipeline, extract_questions
from ikz_inbox.extract.sender import Gazetteer, find_sender_org, load_gazetteer
from ikz_inbox.types import (
    AttachmentReader,
    Event,
    Extraction,
    MessageKind,
    ParsedMail,
    QuestionSpan,
)

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["ExtractResources", "extract_message", "load_extract_resources"]

logger = logging.getLogger(__name__)

# Kinds whose sender organisation the signature still names (the sender or publisher).
_ORG_KINDS = frozenset({MessageKind.ABWESENHEIT, MessageKind.NEWSLETTER})
# Between the sender's new text and the new text of each attached mail.
_JOINER = "\n\n"
# The kinds a person writes; the others are extracted as automatic mail.
_HUMAN_KINDS = frozenset({MessageKind.FRAGE, MessageKind.ANMELDUNG, MessageKind.SONSTIGES})
# Human kinds that always belong to an event (the next one when none is named).
_EVENT_KINDS = frozenset({MessageKind.FRAGE, MessageKind.ANMELDUNG})
# The new text points at an attachment ("im Anhang", "anbei", "in der Anlage", "attached") ...
_POINTS_TO_ATTACHMENT = re.compile(
    r"\b(?:anhang|anhängend|angehängt|anlage|anbei|beigefügt|beiliegend|anliegend"
    r"|attached|attachment)\b",
    re.IGNORECASE,
)
# ... and the subject, new text or a file name speaks of questions.
_SPEAKS_OF_QUESTIONS = re.compile(r"frage|question", re.IGNORECASE)


@dataclass(frozen=True)
class ExtractResources:
    """What the extract stage needs besides the message; built once per process."""

    nlp: Language
    gazetteer: Gazetteer
    events: tuple[Event, ...]
    event_matchers: tuple[EventMatcher, ...]  # the events' naming patterns, compiled
    read_attachment: AttachmentReader  # the parse stage's reader (``parse.read_attachment``)
    kind_model: KindModel | None = None  # None: the rules decide message kinds alone


def load_extract_resources(
    gazetteer_path: Path,
    events: Sequence[Event],
    kind_model_dir: Path | None = None,
    *,
    read_attachment: AttachmentReader,
) -> ExtractResources:
    """Build the sentence pipeline, read the gazetteer (ConfigError when it is bad), compile
    the events' naming patterns and load the kind model (``kind_model_dir``, else the
    packaged ``models/kinds``; missing or broken: a warning, and the rules decide kinds).
    ``read_attachment`` reads an attachment's text when a mail points to it (the wiring
    passes ``parse.read_attachment``)."""
    return ExtractResources(
        nlp=build_sentence_pipeline(),
        gazetteer=load_gazetteer(gazetteer_path),
        events=tuple(events),
        event_matchers=compile_event_matchers(events),
        read_attachment=read_attachment,
        kind_model=load_kind_model_or_none(kind_model_dir or packaged("models/kinds")),
    )


def extract_message(parsed: ParsedMail, resources: ExtractResources) -> Extraction:
    """Return kind, new text, questions, sender organisation and event of one message."""
    own_text = isolate_new_text_with_subject(parsed.body_text, parsed.subject)
    parts = _new_text_parts(parsed, own_text)
    decision = settle_kind(parsed, parsed.body_text, _JOINER.join(parts), resources.kind_model)
    if decision.kind is not None:
        return _automatic_extraction(parsed, decision.kind, own_text, resources)
    questions = _questions(parts, resources.nlp)
    if not questions and _questions_attached(parsed, parts):
        with_attachments = parts + _attachment_texts(parsed, resources.read_attachment)
        questions = _questions(with_attachments, resources.nlp)
        if questions:
            parts = with_attachments
    if not questions:
        questions = extract_questions("", parsed.subject, resources.nlp)
    new_text = _JOINER.join(parts)
    kind = final_kind(decision, parsed, new_text, has_questions=bool(questions))
    if kind not in _HUMAN_KINDS:
        return _automatic_extraction(parsed, kind, own_text, resources)
    if kind is not MessageKind.FRAGE:
        questions = ()
    sender_org = find_sender_org(parsed, parsed.body_text, resources.gazetteer)
    event_id = _event_for(kind, parsed, new_text, resources.event_matchers)
    logger.debug(
        "%s kind=%s questions=%s org=%s event=%s",
        parsed.message_id,
        kind,
        len(questions),
        sender_org,
        event_id,
    )
    return Extraction(kind, new_text, questions, sender_org, event_id)


def _automatic_extraction(
    parsed: ParsedMail, kind: MessageKind, own_text: str, resources: ExtractResources
) -> Extraction:
    """``own_text``: the new text of the mail's own body (attached messages left out)."""
    sender_org = None
    if kind in _ORG_KINDS:
        sender_org = find_sender_org(parsed, parsed.body_text, resources.gazetteer)
    logger.debug("%s automatic kind=%s org=%s", parsed.message_id, kind, sender_org)
    return Extraction(kind, own_text, (), sender_org, None)


def _new_text_parts(parsed: ParsedMail, own_text: str | None = None) -> list[str]:
    """The sender's new text followed by that of each attached message/rfc822 (``own_text``:
    the new text of the mail's own body when the caller has it already)."""
    if own_text is None:
        own_text = isolate_new_text_with_subject(parsed.body_text, parsed.subject)
    parts = [own_text]
    parts.extend(_embedded_texts(parsed.embedded))
    return [part for part in parts if part.strip()]


def _questions(parts: Sequence[str], nlp: Language) -> tuple[QuestionSpan, ...]:
    """Questions of each part, with spans in the parts joined by ``_JOINER``."""
    found: list[QuestionSpan] = []
    offset = 0
    for part in parts:
        for question in extract_questions(part, "", nlp):
            found.append(
                replace(
                    question,
                    position=len(found),
                    start=question.start + offset,
                    end=question.end + offset,
                )
            )
        offset += len(part) + len(_JOINER)
    return tuple(found)


def _questions_attached(parsed: ParsedMail, parts: Sequence[str]) -> bool:
    """True when the new text points at a readable attachment and questions are spoken of."""
    readable = [attachment for attachment in parsed.attachments if attachment.text_kind]
    if not readable or not any(_POINTS_TO_ATTACHMENT.search(part) for part in parts):
        return False
    names = " ".join(attachment.filename for attachment in readable)
    return bool(_SPEAKS_OF_QUESTIONS.search(f"{parsed.subject}\n{names}\n" + "\n".join(parts)))


def _attachment_texts(parsed: ParsedMail, read_attachment: AttachmentReader) -> list[str]:
    """The text of each readable attachment (defects are logged, never raised)."""
    texts: list[str] = []
    for attachment in parsed.attachments:
        read = read_attachment(attachment)
        for defect in read.defects:
            logger.info("%s: %s", parsed.message_id, defect)
        if read.text.strip():
            texts.append(read.text.strip())
    return texts


def _embedded_texts(embedded: Sequence[ParsedMail]) -> list[str]:
    texts: list[str] = []
    for mail in embedded:
        texts.append(isolate_new_text_with_subject(mail.body_text, mail.subject))
        texts.extend(_embedded_texts(mail.embedded))
    return texts


def _event_for(
    kind: MessageKind, parsed: ParsedMail, new_text: str, matchers: Sequence[EventMatcher]
) -> str | None:
    """The named event (new text first, then the quoted mail); by date for frage/anmeldung."""
    named = assign_event(parsed.subject, new_text, parsed.date, matchers, fallback=False)
    if named is not None:
        return named
    return assign_event(
        parsed.subject, parsed.body_text, parsed.date, matchers, fallback=kind in _EVENT_KINDS
    )
