"""Plain, frozen data objects passed between the pipeline stages.

Nothing here imports any other module of ours; every stage takes and returns these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TypeAlias
from zoneinfo import ZoneInfo


class MessageKind(StrEnum):
    """What a message is, as staff would sort it."""

    FRAGE = "frage"
    ANMELDUNG = "anmeldung"
    ABWESENHEIT = "abwesenheit"
    UNZUSTELLBAR = "unzustellbar"
    NEWSLETTER = "newsletter"
    SPAM = "spam"
    SONSTIGES = "sonstiges"


class MessageStatus(StrEnum):
    """Whether the pipeline finished on a message."""

    PROCESSED = "processed"
    QUARANTINED = "quarantined"


class ReviewKind(StrEnum):
    """Why an item is on the briefing's review list."""

    TOPIC = "topic"  # a question's topic is below the review threshold
    INCOHERENT = "incoherent"  # a cluster whose members disagree
    QUARANTINE = "quarantine"  # a message the stages could not process


class SuggestionAction(StrEnum):
    """What a grouping suggestion proposes to staff."""

    MERGE = "merge"  # two clusters that may ask the same
    SPLIT = "split"  # a question that may not belong to its cluster


class ClusterFlag(StrEnum):
    """The staff flags of a cluster (columns of the clusters table)."""

    PINNED = "pinned"
    EXCLUDED = "excluded"
    ANSWERED = "answered"


class TopicSource(StrEnum):
    """Who set a question's topic; staff topics are never overwritten by a model."""

    MODEL = "model"
    RULES = "rules"
    STAFF = "staff"


# The topic of organisational questions (registration, venue, slides, ...): a taxonomy topic
# like the others, but such questions are listed apart and never ranked as content, and a
# rule that is sure of it (``QuestionSpan.topic_hint``) wins over the topic model.
ORGANISATION_TOPIC = "organisation"

# The time zone of the events, staff and moderators (North Rhine-Westphalia): briefing
# times, question-window dates, chart days and the worker's schedules are local to it.
LOCAL_ZONE = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class RawMail:
    """The bytes of one message exactly as received, and where they came from."""

    raw: bytes
    source: str  # "file:/path/x.eml", "mbox:/path#12", "imap:host/INBOX;UIDVALIDITY=1;UID=7"


@dataclass(frozen=True)
class Attachment:
    """An attachment as listed by the parse stage.

    Its text is read only on demand (``parse.read_attachment``), as reading a PDF costs more
    than parsing the whole mail: ``text_kind`` says whether it can be read ("txt", "pdf",
    "docx"; None for other types and for attachments over the size bound), ``data`` holds
    the decoded bytes of a readable one (empty otherwise).
    """

    filename: str
    content_type: str
    size: int
    text_kind: str | None = None
    charset: str | None = None
    data: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class AttachmentText:
    """The text read from an attachment ("" when unreadable) and what was odd about it."""

    text: str
    defects: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedMail:
    """A decoded message: headers, the readable body text, attachments, embedded mails."""

    message_id: str | None  # with angle brackets, as in the header; None when absent
    subject: str
    from_name: str
    from_address: str  # lower-cased addr-spec, "" when unparseable
    to: tuple[str, ...]
    date: datetime | None  # timezone-aware when the header had a zone
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, decoded value), in order
    body_text: str  # text/plain if real, else HTML turned into text; "" if none
    body_html: str = ""
    attachments: tuple[Attachment, ...] = ()
    embedded: tuple[ParsedMail, ...] = ()  # attached message/rfc822 parts
    delivery_status: str = ""  # text of a message/delivery-status part (RFC 3464), if any
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


# The parse stage's reader of attachment text (``parse.read_attachment``): the wiring hands
# it to the extract stage, as a stage imports no other stage.
AttachmentReader: TypeAlias = Callable[[Attachment], AttachmentText]
# The parse stage's entry point (``parse.parse_message``), handed in the same way to the
# training of the kind model, which computes its features from parsed messages.
MessageParser: TypeAlias = Callable[[bytes], ParsedMail]


@dataclass(frozen=True)
class QuestionSpan:
    """One question found in a message's new text (or in its subject)."""

    position: int  # 0-based order within the message
    text: str
    start: int  # character span in ``Extraction.new_text``; -1/-1 for the subject
    end: int
    topic_hint: str | None = None  # e.g. ORGANISATION_TOPIC when rules are sure


@dataclass(frozen=True)
class Extraction:
    """What the extract stage understood of one message."""

    kind: MessageKind
    new_text: str
    questions: tuple[QuestionSpan, ...]
    sender_org: str | None
    event_id: str | None


@dataclass(frozen=True)
class TopicPrediction:
    """A topic for one question with the classifier's confidence."""

    topic: str
    confidence: float
    source: TopicSource
    model_version: str
    secondary: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassifiedQuestion:
    """A question of a message with its topic; ``needs_review`` when the topic is unsure."""

    span: QuestionSpan
    topic: TopicPrediction
    needs_review: bool


@dataclass(frozen=True)
class MessageResult:
    """Everything the stages made of one message, with its fingerprints: what the store
    keeps of it (the store maps it to rows). ``kind`` is None for a quarantined message."""

    raw: RawMail
    content_sha256: str
    raw_sha256: str
    received_at: datetime
    message_id: str | None
    subject: str
    from_name: str
    from_address: str
    sent_at: datetime | None
    sender_org: str | None
    kind: MessageKind | None
    event_id: str | None
    status: MessageStatus
    error: str | None
    new_text: str
    questions: tuple[ClassifiedQuestion, ...]


@dataclass(frozen=True)
class Event:
    """An event questions are collected for (from ``config/events.toml``)."""

    id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    questions_from: date
    questions_until: date


@dataclass(frozen=True)
class Topic:
    """One entry of the topic taxonomy."""

    id: str
    label: str
    description: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class DedupItem:
    """A question as the dedup stage sees it."""

    question_id: int
    text: str
    topic: str
    asker: str  # sender organisation, else sender address: one asker counts once
    event_id: str | None = None


@dataclass(frozen=True)
class ClusterConstraints:
    """Staff decisions every automatic clustering must respect."""

    must_link: frozenset[tuple[int, int]] = frozenset()
    cannot_link: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class ClusterMember:
    """A stored question inside a cluster, as the ranking stage reads it."""

    question_id: int
    text: str
    topic: str
    asker: str
    received_at: datetime | None


def distinct_askers(members: Sequence[ClusterMember]) -> int:
    """How many different organisations (or senders) ask; one asker counts once in any case
    (what the ranking ranks by and the briefing shows)."""
    return len({member.asker.casefold() for member in members})


@dataclass(frozen=True)
class ClusterSummary:
    """A cluster with everything ranking needs."""

    cluster_id: int
    event_id: str | None
    topic: str
    members: tuple[ClusterMember, ...]
    pinned: bool = False
    excluded: bool = False
    answered: bool = False
    incoherent: bool = False  # its members disagree (dedup.is_incoherent): never leads


@dataclass(frozen=True)
class RankedCluster:
    """A cluster's place in the moderator's list, with a German reason."""

    cluster_id: int
    rank: int | None  # None for organisation questions and excluded clusters
    score: float
    reason: str
    representative: ClusterMember
    summary: ClusterSummary


@dataclass(frozen=True)
class ReviewItem:
    """Something staff should check before the event (the briefing's "Zur Prüfung")."""

    kind: ReviewKind
    reference: str  # "Frage 12", "Gruppe 3", "Nachricht 7"
    text: str  # the question, the cluster's representative question, or the mail's subject
    topic: str | None = None
    confidence: float | None = None
    error: str | None = None  # why a quarantined message could not be processed


@dataclass(frozen=True)
class PreviousBriefing:
    """What the last written briefing of an event held: when, and which questions."""

    generated_at: datetime
    question_keys: frozenset[str]


@dataclass(frozen=True)
class Briefing:
    """Everything the report renders for one event (or, with ``parts``, for all events)."""

    title: str
    event: Event | None
    generated_at: datetime
    stats: dict[str, int] = field(default_factory=dict)
    note: str = ""  # e.g. that no event is upcoming and the most recent one is shown
    clusters: tuple[RankedCluster, ...] = ()  # every cluster (appendix, charts, answered)
    review: tuple[ReviewItem, ...] = ()
    new_question_ids: frozenset[int] = frozenset()  # not in the previous briefing
    previous_at: datetime | None = None  # when the previous briefing was written
    question_keys: frozenset[str] = frozenset()  # stable keys of all questions (next "new")
    parts: tuple[Briefing, ...] = ()  # one per event when the briefing covers all events

    @property
    def content(self) -> tuple[RankedCluster, ...]:
        """The ranked list: clusters with a rank, in rank order."""
        return tuple(entry for entry in self.clusters if entry.rank is not None)

    @property
    def organisation(self) -> tuple[RankedCluster, ...]:
        """Organisational questions (never ranked as content), unless staff excluded them."""
        return tuple(
            e
            for e in self.clusters
            if e.summary.topic == ORGANISATION_TOPIC and not e.summary.excluded
        )


@dataclass(frozen=True)
class GroupedQuestions:
    """One cluster's questions as the suggestion search reads them (first = representative)."""

    cluster_id: int
    event_id: str | None
    questions: tuple[tuple[int, str], ...]  # (question id, text) in question id order


@dataclass(frozen=True)
class GroupingSuggestion:
    """An uncertain grouping decision for staff to accept or reject.

    ``merge``: the clusters of ``question_id`` and ``other_question_id`` may ask the same
    thing. ``split``: ``other_question_id`` may not belong in the cluster of
    ``question_id``. ``key`` names the decision in ``clusters accept|reject``.
    """

    action: SuggestionAction
    question_id: int
    other_question_id: int
    similarity: float
    texts: tuple[str, str]

    @property
    def key(self) -> str:
        return f"{self.action}:{self.question_id}:{self.other_question_id}"
