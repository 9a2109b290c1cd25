"""Golden tests for the briefing: fixed input and clock, output compared byte for byte.

Regenerate deliberately with ``pytest tests/unit/test_report.py --update-golden``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pytest

from ikz_inbox.rank import rank_clusters
from ikz_inbox.report import render_briefing
from ikz_inbox.types import Briefing, ClusterMember, ClusterSummary, Event

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
                m(3, "What is the funding rate?", "anna@gmx.de"),
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
        content=tuple(r for r in ranked if r.rank is not None),
        organisation=tuple(r for r in ranked if r.summary.topic == "organisation"),
        stats={"questions": 5, "messages": 4},
    )


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_briefing_matches_golden_file(
    fmt: Literal["html", "md"], request: pytest.FixtureRequest
) -> None:
    rendered = render_briefing(briefing(), fmt, LABELS)
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
