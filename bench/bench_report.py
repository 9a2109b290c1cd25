"""Render a large briefing: 10,000 questions in 2,000 clusters, as HTML and as PDF.

Targets (issue #17): HTML <= 3 s, PDF <= 15 s. Prints the median of ``--runs`` runs of
each (ranking excluded: the briefing is built once), the document sizes and PDF pages.

    .venv/bin/python bench/bench_report.py --runs 3
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from pypdf import PdfReader

from ikz_inbox.rank import rank_clusters
from ikz_inbox.report import render_briefing, render_briefing_pdf
from ikz_inbox.types import Briefing, ClusterMember, ClusterSummary, Event, ReviewItem, ReviewKind

QUESTIONS, CLUSTERS = 10_000, 2_000
TOPICS = ("foerderung", "rechtsform", "steuern", "vergabe", "personal", "organisation")
EVENT = Event(
    id="bench",
    title="Digitale Sprechstunde mit dem Landesbeauftragten",
    starts_at=datetime(2024, 10, 9, 8, 0, tzinfo=UTC),
    ends_at=datetime(2024, 10, 9, 9, 0, tzinfo=UTC),
    themes=("Förderung",),
    keywords=(),
    questions_from=date(2024, 9, 12),
    questions_until=date(2024, 10, 9),
)
WORDS = (
    "Förderquote Zweckverband Kooperation Antrag Bezirksregierung Vergabe Umsatzsteuer "
    "Personalgestellung Kreis Gemeinde Vereinbarung Eigenanteil Bewilligung Frist"
).split()


def build_briefing(seed: int = 7) -> Briefing:
    rng = random.Random(seed)
    start = datetime(2024, 9, 12, 8, 0, tzinfo=UTC)
    summaries = []
    qid = 0
    for cid in range(1, CLUSTERS + 1):
        topic = TOPICS[cid % len(TOPICS)]
        members = []
        for _ in range(QUESTIONS // CLUSTERS):
            qid += 1
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) + "?"
            asker = f"Gemeinde {rng.randint(1, 396)}"
            when = start + timedelta(minutes=rng.randint(0, 27 * 24 * 60))
            members.append(ClusterMember(qid, f"Frage {qid}: {text}", topic, asker, when))
        summaries.append(ClusterSummary(cid, EVENT.id, topic, tuple(members)))
    ranked = rank_clusters(summaries, {EVENT.id: EVENT}, datetime(2024, 10, 8, tzinfo=UTC))
    review = tuple(
        ReviewItem(ReviewKind.TOPIC, f"Frage {n}", f"Frage {n}", "steuern", 0.3)
        for n in range(1, 200)
    )
    return Briefing(
        title=f"Fragen-Briefing: {EVENT.title}",
        event=EVENT,
        generated_at=datetime(2024, 10, 8, tzinfo=UTC),
        stats={"questions": QUESTIONS, "messages": QUESTIONS, "askers": 396, "groups": CLUSTERS},
        clusters=tuple(ranked),
        review=review,
        new_question_ids=frozenset(range(1, QUESTIONS, 7)),
        previous_at=datetime(2024, 10, 7, tzinfo=UTC),
    )


def timed(function: object, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = function()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    briefing = build_briefing()
    labels = {topic: topic.capitalize() for topic in TOPICS}
    import weasyprint  # noqa: F401  (imported once, outside the timing)

    html_time, html = timed(lambda: render_briefing(briefing, "html", labels), args.runs)
    md_time, md = timed(lambda: render_briefing(briefing, "md", labels), args.runs)
    pdf_time, pdf = timed(lambda: render_briefing_pdf(briefing, labels), args.runs)
    assert isinstance(html, str) and isinstance(md, str) and isinstance(pdf, bytes)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{QUESTIONS:,} questions in {CLUSTERS:,} clusters, median of {args.runs} runs")
    print(f"HTML     {html_time:6.2f} s  {len(html) / 1e6:5.1f} MB   (target <= 3 s)")
    print(f"Markdown {md_time:6.2f} s  {len(md) / 1e6:5.1f} MB")
    print(f"PDF      {pdf_time:6.2f} s  {len(pdf) / 1e6:5.1f} MB, {pages} pages   (target <= 15 s)")


if __name__ == "__main__":
    main()
