"""Render the moderator's briefing as HTML, PDF or Markdown.

In: a ``Briefing`` (one event, or all events as parts), the topic labels and the report
options (privacy, version). Out: the document as text (HTML, Markdown) or bytes (PDF).
No I/O here: the caller writes the file (atomically). Templates are Jinja2 package data,
HTML with autoescape on; in Markdown every string from a message goes through ``md``.
The PDF is the HTML's print layout set by WeasyPrint, which may fetch nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ikz_inbox import __version__
from ikz_inbox.charts import BarChart, count_days, count_topics, day_chart, topic_chart
from ikz_inbox.privacy import scrub_contacts
from ikz_inbox.types import (
    LOCAL_ZONE,
    Briefing,
    ClusterMember,
    RankedCluster,
    ReviewItem,
    ReviewKind,
    distinct_askers,
)

ReportFormat = Literal["html", "md"]
BriefingFormat = Literal["html", "pdf", "md"]
BRIEFING_FORMATS: tuple[BriefingFormat, ...] = ("html", "pdf", "md")
_TEMPLATES: dict[str, str] = {"html": "briefing.html.j2", "md": "briefing.md.j2"}
# How many questions the summary at the top lists.
SUMMARY_SIZE = 5
NO_ORGANISATION = "Absender ohne Organisationsangabe"
# Print (PDF): WeasyPrint lays out about 20 pages a second, and nobody prints 2,000 cards.
# The first PRINT_DETAIL groups are printed in full, the rest one line each; the appendix
# is printed up to PRINT_APPENDIX_MAX questions (it is always in HTML and Markdown).
PRINT_DETAIL = 100
PRINT_APPENDIX_MAX = 1_000
# Markdown: characters that could start markup inline; < > & become entities instead.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~])")
_WHITESPACE = re.compile(r"\s+")
# An & that would start a character reference (&amp; &#60; &#x3c;); any other & is text.
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


@dataclass(frozen=True)
class ReportOptions:
    """How a briefing is rendered: privacy and the version named in its footer."""

    show_contact_details: bool = False  # True: addresses and phone numbers of senders shown
    version: str = __version__


@dataclass(frozen=True)
class _PartView:
    """One event's briefing with what the templates derive from it."""

    briefing: Briefing
    summary: tuple[RankedCluster, ...]
    answered: tuple[RankedCluster, ...]
    review: Mapping[ReviewKind, tuple[ReviewItem, ...]]  # "Zur Prüfung", by kind
    appendix: tuple[tuple[str, tuple[tuple[ClusterMember, int], ...]], ...]
    topic_chart: BarChart
    day_chart: BarChart
    days_outside: int


def render_briefing(
    briefing: Briefing,
    fmt: ReportFormat,
    topic_labels: Mapping[str, str],
    options: ReportOptions | None = None,
) -> str:
    """Return the briefing document as HTML or Markdown."""
    return _render(briefing, fmt, topic_labels, options or ReportOptions(), for_print=False)


def render_briefing_pdf(
    briefing: Briefing, topic_labels: Mapping[str, str], options: ReportOptions | None = None
) -> bytes:
    """Return the briefing as PDF: page numbers, the event in the running header."""
    from weasyprint import HTML, URLFetcher  # imported on use: about half a second

    html = _render(briefing, "html", topic_labels, options or ReportOptions(), for_print=True)
    # No protocol allowed: the document is self-contained and must never fetch anything.
    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=()))
    pdf: bytes = document.write_pdf()
    return pdf


def render_document(
    briefing: Briefing,
    fmt: BriefingFormat,
    topic_labels: Mapping[str, str],
    options: ReportOptions | None = None,
) -> bytes:
    """The briefing in any of the three formats, as the bytes of its file."""
    if fmt == "pdf":
        return render_briefing_pdf(briefing, topic_labels, options)
    return render_briefing(briefing, fmt, topic_labels, options).encode("utf-8")


def _render(
    briefing: Briefing,
    fmt: ReportFormat,
    topic_labels: Mapping[str, str],
    options: ReportOptions,
    *,
    for_print: bool,
) -> str:
    labels = dict(topic_labels)
    parts = briefing.parts or (briefing,)
    template = _environment(options).get_template(_TEMPLATES[fmt])
    return template.render(
        briefing=briefing,
        parts=[_part_view(part, labels, index) for index, part in enumerate(parts)],
        topic_labels=labels,
        options=options,
        for_print=for_print,
        print_detail=PRINT_DETAIL,
        print_appendix_max=PRINT_APPENDIX_MAX,
    )


def _part_view(part: Briefing, labels: dict[str, str], index: int) -> _PartView:
    members = [member for entry in part.clusters for member in entry.summary.members]
    window = (part.event.questions_from, part.event.questions_until) if part.event else None
    days, outside = count_days(
        (member.received_at for member in members), *(window or (None, None))
    )
    return _PartView(
        briefing=part,
        summary=part.content[:SUMMARY_SIZE],
        answered=tuple(e for e in part.clusters if e.summary.answered and not e.summary.excluded),
        review={
            kind: tuple(item for item in part.review if item.kind is kind) for kind in ReviewKind
        },
        appendix=_appendix(part.clusters, labels),
        topic_chart=topic_chart(
            f"chart-topics-{index}", count_topics([m.topic for m in members], labels)
        ),
        day_chart=day_chart(f"chart-days-{index}", days),
        days_outside=outside,
    )


def _appendix(
    clusters: Sequence[RankedCluster], labels: dict[str, str]
) -> tuple[tuple[str, tuple[tuple[ClusterMember, int], ...]], ...]:
    """All questions by topic label (labels sorted), each with its cluster id."""
    by_topic: dict[str, list[tuple[ClusterMember, int]]] = defaultdict(list)
    for entry in clusters:
        for member in entry.summary.members:
            by_topic[labels.get(member.topic, member.topic)].append((member, entry.cluster_id))
    return tuple(
        (label, tuple(sorted(items, key=lambda item: item[0].question_id)))
        for label, items in sorted(by_topic.items())
    )


@cache  # loading the templates costs about 45 ms; a briefing renders three or four times
def _environment(options: ReportOptions) -> Environment:
    environment = Environment(
        loader=PackageLoader("ikz_inbox", "templates"),
        # Markdown escapes with the ``md`` filter; anything else is HTML-escaped.
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "svg.j2"),
            disabled_extensions=("md.j2",),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        de_datetime=_de_datetime,
        de_date=_de_date,
        de_time=_de_time,
        md=markdown_text,
        clean=lambda text: clean_text(text, options),
        asker_display=lambda asker: asker_display(asker, options),
        askers=lambda entry: cluster_askers(entry, options),
        asker_count=lambda entry: distinct_askers(entry.summary.members),
        first_received=_first_received,
        last_received=_last_received,
        number=_de_number,
    )
    return environment


def markdown_text(value: object) -> str:
    """A message's string as Markdown that renders as exactly this text, on one line."""
    text = _WHITESPACE.sub(" ", str(value)).strip()
    text = _MD_ENTITY.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def clean_text(value: object, options: ReportOptions) -> str:
    """A message's string with senders' mail addresses and phone numbers hidden, unless
    the options show contact details."""
    text = str(value)
    return text if options.show_contact_details else scrub_contacts(text)


def asker_display(asker: object, options: ReportOptions) -> str:
    """Organisations by name; a sender's address only when contact details are shown."""
    text = str(asker)
    if options.show_contact_details and text:
        return text
    return NO_ORGANISATION if "@" in text or not text else text


def cluster_askers(entry: RankedCluster, options: ReportOptions) -> list[str]:
    """The distinct askers of a cluster as shown, sorted (senders without an organisation
    may share one entry: count askers with ``distinct_askers``, as the ranking does)."""
    shown = {asker_display(member.asker, options) for member in entry.summary.members}
    return sorted(shown, key=str.casefold)


def _first_received(entry: RankedCluster) -> datetime | None:
    times = [m.received_at for m in entry.summary.members if m.received_at]
    return min(times) if times else None


def _last_received(entry: RankedCluster) -> datetime | None:
    times = [m.received_at for m in entry.summary.members if m.received_at]
    return max(times) if times else None


def _de_datetime(value: object) -> str:
    """German date and time in the portal's time zone."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y, %H:%M Uhr")


def _de_time(value: object) -> str:
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(LOCAL_ZONE).strftime("%H:%M Uhr")


def _de_date(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return ""


def _de_number(value: object) -> str:
    """A count with the German thousands separator (10.000)."""
    return f"{value:,}".replace(",", ".") if isinstance(value, int) else str(value)
