"""Decide which event a message's questions are meant for.

In: the subject, the (new) text, the send date and the configured events, compiled once
per process by ``compile_event_matchers``. Out: an event id, or None when there are no
events (or, with ``fallback=False``, when the message names none).

A message names an event through the event's keywords ("Sprechstunde", "Spotlight
Gesundheit") and its date ("09.10.", "9. Oktober"); the event's themes add weight to an
event named that way but never name one alone. The subject and the sentences that ask or
speak of questions weigh more than the rest; a sentence that says the sender will not take
part, or has no questions for an event, does not count. If no event is named, the event
whose question window holds the date is chosen, else the next event after the date.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ikz_inbox.textnorm import fold
from ikz_inbox.types import Event

logger = logging.getLogger(__name__)

SUBJECT_WEIGHT = 3.0  # the subject usually names the event the mail is for
QUESTION_WEIGHT = 3.0  # sentences that ask or announce questions: what the mail is for
TEXT_WEIGHT = 1.0
KEYWORD_SCORE = 1.0
DATE_SCORE = 1.5  # a date is more specific than a keyword
THEME_SCORE = 0.5  # themes are topics, shared with questions for other events
MAX_TEXT_CHARS = 20_000  # an event is named near the top; bulk text beyond is not read
PAST_EVENT_FACTOR = 0.5  # an event already over when the mail was sent rarely gets questions

_MONTHS_DE = (
    "januar", "februar", "maerz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember",
)  # fmt: skip
_MONTHS_EN = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
# A sentence ends after a word ("... teil. Wie"), not after "6." in "6. November".
_SENTENCE_END = re.compile(r"(?<=[^\W\d]{2}[.!?])\s+(?=[A-ZÄÖÜ])|(?<=\?)\s+|\n\s*\n")
_ASKING = re.compile(r"\?|\bfrage|\bquestion", re.IGNORECASE)
_NOT_ATTENDING = re.compile(
    r"\b(?:nicht\s+teilnehmen|leider\s+nicht|keine\s+(?:eigenen\s+)?fragen|"
    r"nehmen\s+wir\s+(?:leider\s+)?nicht|abmeld\w*|cannot\s+attend|no\s+questions)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _EventPattern:
    """A pattern and the strings one of which every hit of it contains.

    Where none of ``literals`` occurs in a text the pattern cannot match, so the (slower)
    pattern is only run where one does; counts are the same either way.
    """

    pattern: re.Pattern[str]
    literals: tuple[str, ...]

    def count(self, folded: str) -> int:
        if not self.occurs_in(folded):
            return 0
        return len(self.pattern.findall(folded))

    def occurs_in(self, folded: str) -> bool:
        return any(literal in folded for literal in self.literals)


@dataclass(frozen=True)
class EventMatcher:
    """An event with the patterns that name it, compiled once by ``compile_event_matchers``."""

    event: Event
    keywords: _EventPattern | None  # None when the event has no keywords (or themes)
    themes: _EventPattern | None
    date: _EventPattern


def compile_event_matchers(events: Sequence[Event]) -> tuple[EventMatcher, ...]:
    """Compile the keyword, theme and date patterns of ``events`` (in the same order)."""
    return tuple(
        EventMatcher(
            event=event,
            keywords=_words_pattern(event.keywords),
            themes=_words_pattern(event.themes),
            date=_date_pattern(event),
        )
        for event in events
    )


def assign_event(
    subject: str,
    text: str,
    sent_at: datetime | None,
    matchers: Sequence[EventMatcher],
    *,
    fallback: bool = True,
) -> str | None:
    """Return the id of the event the message is for (see the module docstring)."""
    if not matchers:
        return None
    events = [matcher.event for matcher in matchers]
    sentences = _folded_sentences(subject, text[:MAX_TEXT_CHARS])
    scores = {matcher.event.id: _score(matcher, sentences, sent_at) for matcher in matchers}
    best = max(events, key=lambda event: (scores[event.id], -_distance(event, sent_at)))
    if scores[best.id] > 0:
        logger.debug("event %s named (score %.1f)", best.id, scores[best.id])
        return best.id
    if not fallback:
        return None
    return _event_by_date(events, sent_at).id


@dataclass(frozen=True)
class _Sentences:
    """The weighted, folded sentences of one message, and all of them joined by newlines."""

    weighted: list[tuple[float, str]]
    joined: str


def _folded_sentences(subject: str, text: str) -> _Sentences:
    weighted = [
        (weight, _fold(sentence)) for weight, sentence in _weighted_sentences(subject, text)
    ]
    return _Sentences(weighted, "\n".join(folded for _, folded in weighted))


def _score(matcher: EventMatcher, sentences: _Sentences, sent_at: datetime | None) -> float:
    """Keyword and date hits, weighted by where they stand; themes only add to a named event.

    Themes are topics ("Förderung", "Pflege") that questions for any event may touch, so
    they help to choose among the events a message names but never name one by themselves.
    """
    if not _may_be_named(matcher, sentences.joined):
        return 0.0
    naming = _hits(sentences.weighted, matcher.keywords, KEYWORD_SCORE)
    naming += _hits(sentences.weighted, matcher.date, DATE_SCORE)
    if naming == 0:
        return 0.0
    total = naming + _hits(sentences.weighted, matcher.themes, THEME_SCORE)
    if sent_at is not None and _aware(matcher.event.ends_at) < _aware(sent_at):
        total *= PAST_EVENT_FACTOR
    return total


def _may_be_named(matcher: EventMatcher, joined: str) -> bool:
    """False where no sentence can hold a keyword or the date: none of their literals is
    in the joined sentences (one in a sentence would be there too)."""
    if matcher.keywords is not None and matcher.keywords.occurs_in(joined):
        return True
    return matcher.date.occurs_in(joined)


def _hits(
    sentences: Sequence[tuple[float, str]], pattern: _EventPattern | None, score: float
) -> float:
    if pattern is None:
        return 0.0
    return sum(weight * score * pattern.count(folded) for weight, folded in sentences)


def _weighted_sentences(subject: str, text: str) -> Iterator[tuple[float, str]]:
    yield SUBJECT_WEIGHT, subject
    for sentence in _SENTENCE_END.split(text):
        if _NOT_ATTENDING.search(sentence):
            continue
        yield (QUESTION_WEIGHT if _ASKING.search(sentence) else TEXT_WEIGHT), sentence


def _fold(text: str) -> str:
    return " ".join(fold(text).split())


def _words_pattern(words: Sequence[str]) -> _EventPattern | None:
    """Keywords at a word start ("spotlight" also in "online-spotlight"), longest first."""
    folded = sorted({_fold(word) for word in words if word.strip()}, key=len, reverse=True)
    if not folded:
        return None
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, folded)) + ")")
    return _EventPattern(pattern, tuple(folded))


def _date_pattern(event: Event) -> _EventPattern:
    """The event's date written as "09.10.", "9.10.2024", "9. oktober", "9 october".

    Every hit contains the month and a full stop ("10.") or the month's name.
    """
    day, month = event.starts_at.day, event.starts_at.month
    german, english = _MONTHS_DE[month - 1], _MONTHS_EN[month - 1]
    numeric = rf"(?<![\d.])0?{day}\.\s?0?{month}\.(?:\s?(?:20)?\d\d(?!\d))?"
    spoken = rf"(?<!\d)0?{day}\.?\s+(?:{german}|{english})\b"
    return _EventPattern(re.compile(f"{numeric}|{spoken}"), (f"{month}.", german, english))


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC so that they compare with aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _distance(event: Event, sent_at: datetime | None) -> float:
    """Seconds from the send date to the event start; past events count as far away."""
    if sent_at is None:
        return 0.0
    delta = (_aware(event.starts_at) - _aware(sent_at)).total_seconds()
    return delta if delta >= 0 else 10 * abs(delta)


def _event_by_date(events: Sequence[Event], sent_at: datetime | None) -> Event:
    """The event whose questions window holds the date, else the next one, else the last."""
    ordered = sorted(events, key=lambda event: _aware(event.starts_at))
    if sent_at is None:
        return ordered[-1]
    day = sent_at.date()
    upcoming = [e for e in ordered if _aware(e.ends_at) >= _aware(sent_at)]
    in_window = [e for e in ordered if e.questions_from <= day <= e.questions_until]
    open_upcoming = [e for e in in_window if e in upcoming]
    if open_upcoming or in_window:
        return (open_upcoming or in_window)[0]
    return upcoming[0] if upcoming else ordered[-1]
