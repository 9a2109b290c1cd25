"""Golden tests for the briefing: fixed input and clock, output compared byte for byte.

Regenerate deliberately with ``pytest tests/unit/test_report.py --update-golden``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pytest

from ikz_inbox.rank import rank_clusters
from ikz_inbox.report import ReportOptions, render_briefing
from ikz_inbox.types import Briefing, ClusterMember, ClusterSummary, Event, ReviewItem, ReviewKind

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
NOW = datetime(2024, 10, 8, 6, 0, tzinfo=UTC)
EVENT = Event(
    id="sprechstunde-2024-10-09",
    title="Digitale Sprechstunde mit dem Landesbeauftragten",
    starts_at=datetime(2024, 10, 9, 8, 0, tzinfo=UTC),
    ends_at=datetime(2024, 10, 9, 9, 0, tzinfo=UTC),
    themes=("Förderung",),
    keywords=(),
    questions_from=date(2024, 9, 12),
    questions_until=date(2024, 10, 9),
)
# The version is frozen so that a release does not change the golden files.
OPTIONS = ReportOptions(version="TEST")
LABELS = {
    "foerderung": "Förderung & Antragstellung",
    "organisation": "Veranstaltungsorganisation",
    "steuern": "Steuern",
}


def briefing() -> Briefing:
    def m(qid: int, text: str, asker: str, topic: str = "foerderung") -> ClusterMember:
        return ClusterMember(qid, text, topic, asker, datetime(2024, 10, 1, tzinfo=UTC))

    clusters = [
        ClusterSummary(
            1,
            EVENT.id,
            "foerderung",
            (
                m(1, "Wie hoch ist die Förderquote nach der Förderrichtlinie IKZ?", "Stadt Lemgo"),
                m(2, "Mit welchem Fördersatz können wir rechnen?", "Gemeinde Kalletal"),
                m(3, "What is the funding rate? Call me: 0521 123456", "anna@gmx.de"),
            ),
        ),
        ClusterSummary(
            2,
            EVENT.id,
            "steuern",
            (m(4, "Gilt § 2b UStG für <unsere> Kooperation & Co.?", "Kreis Lippe", "steuern"),),
            pinned=True,
        ),
        ClusterSummary(
            3,
            EVENT.id,
            "organisation",
            (m(5, "Wird die Sprechstunde aufgezeichnet?", "Stadt Detmold", "organisation"),),
        ),
    ]
    ranked = rank_clusters(clusters, {EVENT.id: EVENT}, NOW)
    return Briefing(
        title=f"Fragen-Briefing: {EVENT.title}",
        event=EVENT,
        generated_at=NOW,
        stats={"questions": 5, "messages": 4, "askers": 5, "groups": 3},
        clusters=tuple(ranked),
        review=(
            ReviewItem(ReviewKind.TOPIC, "Frage 2", "Mit welchem Fördersatz?", "foerderung", 0.31),
            ReviewItem(ReviewKind.QUARANTINE, "Nachricht 9", "Fragen zur IKZ", error="ParseError"),
        ),
        new_question_ids=frozenset({2}),
        previous_at=datetime(2024, 10, 7, 6, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_briefing_matches_golden_file(
    fmt: Literal["html", "md"], request: pytest.FixtureRequest
) -> None:
    rendered = render_briefing(briefing(), fmt, LABELS, OPTIONS)
    golden = GOLDEN / f"briefing.{fmt}"
    if request.config.getoption("--update-golden"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_html_escapes_question_text() -> None:
    rendered = render_briefing(briefing(), "html", LABELS)
    assert "&lt;unsere&gt; Kooperation &amp; Co." in rendered
    assert "<unsere>" not in rendered


def test_private_addresses_are_not_shown() -> None:
    for fmt in ("html", "md"):
        rendered = render_briefing(briefing(), fmt, LABELS)
        assert "anna@gmx.de" not in rendered
        assert "Absender ohne Organisationsangabe" in rendered


def test_contact_details_in_question_texts_are_hidden_by_default() -> None:
    for fmt in ("html", "md"):
        rendered = render_briefing(briefing(), fmt, LABELS)
        assert "0521 123456" not in rendered
        assert "Telefonnummer entfernt" in rendered


def test_contact_details_are_shown_when_configured() -> None:
    options = ReportOptions(show_contact_details=True)
    for fmt in ("html", "md"):
        rendered = render_briefing(briefing(), fmt, LABELS, options)
        assert "anna@gmx.de" in rendered
        assert "0521 123456" in rendered


def test_new_questions_and_staff_marks_are_shown() -> None:
    html = render_briefing(briefing(), "html", LABELS)
    assert "neu seit dem letzten Briefing (1 von 3)" in html
    assert "angeheftet" in html
    md = render_briefing(briefing(), "md", LABELS)
    assert "**\\[neu\\]** seit dem letzten Briefing (1 von 3)" in md


def test_sections_review_charts_and_appendix() -> None:
    html = render_briefing(briefing(), "html", LABELS)
    for heading in ("Organisatorische Fragen", "Zur Prüfung", "Thema unsicher", "Diagramme"):
        assert heading in html
    assert "Nicht verarbeitete Nachrichten, die Fragen enthalten können" in html
    assert "Anhang: alle Fragen nach Thema" in html
    assert html.count("<svg ") == 2 and html.count("<title id=") == 2
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_all_events_briefing_has_a_section_per_event() -> None:
    part = briefing()
    other = Event(
        id="spotlight",
        title="Online-Spotlight Gesundheit",
        starts_at=datetime(2024, 11, 6, 9, 0, tzinfo=UTC),
        ends_at=datetime(2024, 11, 6, 10, 0, tzinfo=UTC),
        themes=(),
        keywords=(),
        questions_from=date(2024, 10, 10),
        questions_until=date(2024, 11, 6),
    )
    empty = Briefing("Fragen-Briefing: x", other, NOW)
    combined = Briefing("Fragen-Briefing: alle Veranstaltungen", None, NOW, parts=(part, empty))
    html = render_briefing(combined, "html", LABELS)
    assert html.count('class="event-part"') == 2
    assert "Online-Spotlight Gesundheit" in html and EVENT.title in html
    md = render_briefing(combined, "md", LABELS)
    assert f"## Fragen-Briefing: {EVENT.title}" in md and "## Fragen-Briefing: x" in md
