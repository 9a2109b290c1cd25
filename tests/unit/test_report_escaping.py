"""Every string that comes from a message is text in HTML, Markdown and PDF, never markup.

Each payload stands in every place a message's string reaches the briefing: question
texts, the asking organisation, a quarantined mail's subject and error. The HTML is parsed,
the Markdown rendered by a CommonMark renderer (raw HTML allowed, as chat tools do), and
the PDF's text extracted; each must show the payload as text and hold no element, comment
or link the payload would have made.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from pypdf import PdfReader

from ikz_inbox.rank import rank_clusters
from ikz_inbox.report import render_briefing, render_briefing_pdf
from ikz_inbox.types import Briefing, ClusterMember, ClusterSummary, Event, ReviewItem, ReviewKind

EVENT = Event(
    id="e1",
    title="Digitale Sprechstunde",
    starts_at=datetime(2024, 10, 9, 8, 0, tzinfo=UTC),
    ends_at=datetime(2024, 10, 9, 9, 0, tzinfo=UTC),
    themes=(),
    keywords=(),
    questions_from=date(2024, 9, 12),
    questions_until=date(2024, 10, 9),
)
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!-- versteckt --> Kommentar",
    "</style><style>body{display:none}</style>",
    "<div style=\"background:url('https://evil.example/t.png')\">CSS</div>",
    "[klick](javascript:alert(1)) Link",
    "![bild](https://evil.example/x.png) Bild",
    "<https://evil.example/autolink>",
    "&lt;b&gt;Entität&lt;/b&gt; &#60;i&#62;",
    "**fett** _kursiv_ `code` | Tabelle | ~~durch~~",
]
LABELS = {"foerderung": "Förderung", "organisation": "Organisation"}
# Tags a payload would bring that the Markdown template itself never makes.
FORBIDDEN = {"script", "img", "iframe", "object", "embed", "style", "div", "code", "del", "s"}


def briefing_with(payload: str) -> Briefing:
    def member(qid: int, topic: str = "foerderung") -> ClusterMember:
        return ClusterMember(
            qid, f"Frage {qid}: {payload}", topic, payload, datetime(2024, 10, 1, tzinfo=UTC)
        )

    summaries = [
        ClusterSummary(1, EVENT.id, "foerderung", (member(1), member(2)), incoherent=True),
        ClusterSummary(2, EVENT.id, "organisation", (member(3, "organisation"),)),
    ]
    ranked = rank_clusters(summaries, {EVENT.id: EVENT}, datetime(2024, 10, 8, tzinfo=UTC))
    return Briefing(
        title="Fragen-Briefing: Digitale Sprechstunde",
        event=EVENT,
        generated_at=datetime(2024, 10, 8, tzinfo=UTC),
        stats={"questions": 3, "messages": 3, "askers": 1, "groups": 2},
        clusters=tuple(ranked),
        review=(
            ReviewItem(ReviewKind.TOPIC, "Frage 2", f"Frage 2: {payload}", "foerderung", 0.2),
            ReviewItem(ReviewKind.INCOHERENT, "Gruppe 1", f"Frage 1: {payload}", "foerderung"),
            ReviewItem(ReviewKind.QUARANTINE, "Nachricht 4", payload, error=payload),
        ),
    )


class _Elements(HTMLParser):
    """Collects start tags (with attributes), comments and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def shape(html: str) -> list[str]:
    """The document's element structure: tag names, attribute names and link targets."""
    return [
        f"{tag}:{sorted(attrs)}:{attrs.get('href', '')}:{attrs.get('src', '')}"
        for tag, attrs in parse(html).tags
    ]


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", "".join(parse(html).text))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_shows_payload_as_text_only(payload: str) -> None:
    html = render_briefing(briefing_with(payload), "html", LABELS)
    benign = render_briefing(briefing_with("harmlos"), "html", LABELS)
    assert shape(html) == shape(benign)
    document = parse(html)
    assert not document.comments
    assert sum(1 for tag, _ in document.tags if tag == "style") == 1
    assert f"Frage 1: {payload}" in visible_text(html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_renders_payload_as_text_only(payload: str) -> None:
    markdown = render_briefing(briefing_with(payload), "md", LABELS)
    renderer = MarkdownIt("commonmark", {"html": True})
    html = renderer.render(markdown)
    benign = renderer.render(render_briefing(briefing_with("harmlos"), "md", LABELS))
    assert shape(html) == shape(benign)
    document = parse(html)
    assert not document.comments
    assert not FORBIDDEN & {tag for tag, _ in document.tags}
    assert not [attrs for tag, attrs in document.tags if tag == "a"]
    assert f"Frage 1: {payload}" in visible_text(html)


def test_the_img_onerror_subject_is_text_in_markdown() -> None:
    """The reported bug: a subject with <img onerror> appeared as that tag in briefing.md."""
    markdown = render_briefing(briefing_with("<img src=x onerror=alert(1)>"), "md", LABELS)
    assert "<img" not in markdown
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in markdown


@pytest.mark.slow
def test_pdf_shows_payloads_as_text() -> None:
    payload = " ".join(PAYLOADS[:4])
    pdf = render_briefing_pdf(briefing_with(payload), LABELS)
    text = re.sub(r"\s+", " ", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    for part in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<!-- versteckt -->"):
        assert part in text
    assert "</style><style>body{display:none}</style>" in text
