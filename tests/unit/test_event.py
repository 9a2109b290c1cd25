"""Tests for choosing the event a message is meant for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ikz_inbox.extract.event import assign_event, compile_event_matchers
from ikz_inbox.types import Event

CEST = timezone(timedelta(hours=2))

TOURISM = Event(
    id="erfahrungsaustausch-tourismus-2024-09-11",
    title="Digitaler Erfahrungsaustausch, Schwerpunkt Tourismus und Stadtmarketing",
    starts_at=datetime(2024, 9, 11, 9, 0, tzinfo=CEST),
    ends_at=datetime(2024, 9, 11, 10, 30, tzinfo=CEST),
    themes=("Tourismus", "Stadtmarketing"),
    keywords=("Erfahrungsaustausch", "Tourismus"),
    questions_from=date(2024, 8, 1),
    questions_until=date(2024, 9, 11),
)
CONSULTATION = Event(
    id="sprechstunde-2024-10-09",
    title="Digitale Sprechstunde mit dem Landesbeauftragten",
    starts_at=datetime(2024, 10, 9, 10, 0, tzinfo=CEST),
    ends_at=datetime(2024, 10, 9, 11, 0, tzinfo=CEST),
    themes=("Förderung",),
    keywords=("Sprechstunde", "Landesbeauftragte"),
    questions_from=date(2024, 9, 12),
    questions_until=date(2024, 10, 9),
)
HEALTH = Event(
    id="spotlight-gesundheit-2024-11-06",
    title="Online-Spotlight IKZ im Bereich Gesundheit",
    starts_at=datetime(2024, 11, 6, 10, 0, tzinfo=UTC),
    ends_at=datetime(2024, 11, 6, 11, 0, tzinfo=UTC),
    themes=("Gesundheit",),
    keywords=("Spotlight", "Gesundheitskiosk"),
    questions_from=date(2024, 10, 10),
    questions_until=date(2024, 11, 6),
)
MATCHERS = compile_event_matchers((TOURISM, CONSULTATION, HEALTH))


def _at(month: int, day: int) -> datetime:
    return datetime(2024, month, day, 9, 0, tzinfo=CEST)


@pytest.mark.parametrize(
    ("subject", "text", "sent_at", "expected"),
    [
        # named by keyword, whatever the date
        ("Fragen für die Sprechstunde", "Wie hoch ist die Quote?", _at(8, 20), CONSULTATION.id),
        ("Frage", "Wie wird der Gesundheitskiosk bezahlt?", _at(9, 20), HEALTH.id),
        ("Frage", "Für den Erfahrungsaustausch: Wie vermarkten andere?", _at(9, 20), TOURISM.id),
        # named by date only
        ("Frage zum 9.10.", "Wie hoch ist die Quote?", _at(8, 20), CONSULTATION.id),
        ("Termin am 09.10.2024", "Text", _at(8, 20), CONSULTATION.id),
        ("Frage", "Für den 6. November haben wir eine Frage?", _at(9, 20), HEALTH.id),
        ("Question for 9 October", "What is the rate?", _at(8, 20), CONSULTATION.id),
        # names none: the window that holds the date, else the next, else the last
        ("Frage", "Wie hoch ist die Quote?", _at(8, 15), TOURISM.id),
        ("Frage", "Wie hoch ist die Quote?", _at(10, 1), CONSULTATION.id),
        ("Frage", "Wie hoch ist die Quote?", _at(10, 20), HEALTH.id),
        ("Frage", "Wie hoch ist die Quote?", _at(12, 1), HEALTH.id),
        ("Frage", "Wie hoch ist die Quote?", None, HEALTH.id),
    ],
)
def test_assign_event(subject: str, text: str, sent_at: datetime | None, expected: str) -> None:
    assert assign_event(subject, text, sent_at, MATCHERS) == expected


def test_several_named_the_one_the_questions_are_for() -> None:
    text = (
        "im Newsletter haben wir vom Erfahrungsaustausch Tourismus gelesen.\n\n"
        "Für die Sprechstunde haben wir diese Frage: Wie hoch ist die Förderquote?\n\n"
        "Am Erfahrungsaustausch Tourismus können wir leider nicht teilnehmen."
    )
    assert assign_event("Fragen", text, _at(8, 20), MATCHERS) == CONSULTATION.id


def test_subject_outweighs_a_mention_in_the_text() -> None:
    text = "An der Sprechstunde nehmen wir teil. Wie wird der Kiosk finanziert?"
    subject = "Fragen zum Spotlight Gesundheitskiosk"
    assert assign_event(subject, text, _at(9, 30), MATCHERS) == HEALTH.id


def test_no_events() -> None:
    assert assign_event("Sprechstunde", "Frage?", _at(9, 1), ()) is None


def test_without_fallback_only_a_named_event() -> None:
    assert assign_event("Danke", "Vielen Dank!", _at(9, 12), MATCHERS, fallback=False) is None
    assert (
        assign_event(
            "Danke", "Der Erfahrungsaustausch war toll.", _at(9, 12), MATCHERS, fallback=False
        )
        == TOURISM.id
    )


def test_naive_dates_are_compared_as_utc() -> None:
    naive = datetime(2024, 10, 20, 9, 0)
    assert assign_event("Frage", "Wie hoch?", naive, MATCHERS) == HEALTH.id


def test_themes_alone_do_not_name_an_event() -> None:
    text = "Wie finanzieren andere Kreise die Gesundheit ihrer Beschäftigten?"
    assert assign_event("Frage", text, _at(9, 20), MATCHERS) == CONSULTATION.id


def test_themes_decide_between_named_events() -> None:
    text = "Zur Sprechstunde und zum Spotlight: Wie wird Gesundheit vor Ort gefördert?"
    assert assign_event("Frage", text, _at(9, 20), MATCHERS) == HEALTH.id


@pytest.mark.parametrize(
    "folded",
    [
        "sprechstunde am 9.10.",
        "zur online-sprechstunde am 09. 10. 2024",
        "am 9. oktober",
        "am 9 october",
        "19.10. und 9.1. und 9.100.",
        "am 9.10.24 um 10 uhr",
        "landesbeauftragte, landesbeauftragten und xsprechstunde",
        "nichts davon",
        "",
    ],
)
def test_literals_skip_only_texts_without_hits(folded: str) -> None:
    for matcher in MATCHERS:
        for pattern in (matcher.keywords, matcher.themes, matcher.date):
            assert pattern is not None
            assert pattern.count(folded) == len(pattern.pattern.findall(folded))


def test_matchers_keep_the_event_order() -> None:
    assert [matcher.event for matcher in MATCHERS] == [TOURISM, CONSULTATION, HEALTH]
    assert compile_event_matchers(()) == ()
