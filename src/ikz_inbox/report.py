"""Render the moderator's briefing as HTML or Markdown.

In: a ``Briefing`` (ranked clusters of one event or of all events). Out: the document as a
string. No I/O here: the caller writes the file (atomically). Templates are Jinja2 package
data, HTML with autoescape on.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ikz_inbox.types import Briefing

ReportFormat = Literal["html", "md"]
# Staff and moderators read times in the time zone of North Rhine-Westphalia.
LOCAL_ZONE = ZoneInfo("Europe/Berlin")
_TEMPLATES: dict[str, str] = {"html": "briefing.html.j2", "md": "briefing.md.j2"}


def render_briefing(briefing: Briefing, fmt: ReportFormat, topic_labels: dict[str, str]) -> str:
    """Return the briefing document in the given format."""
    environment = _environment()
    template = environment.get_template(_TEMPLATES[fmt])
    return template.render(briefing=briefing, topic_labels=topic_labels)


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ikz_inbox", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["de_datetime"] = _de_datetime
    environment.filters["de_date"] = _de_date
    environment.filters["asker_display"] = _asker_display
    return environment


def _de_datetime(value: object) -> str:
    """German date and time in the portal's time zone."""
    if not isinstance(value, datetime):
        return ""
    return value.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y, %H:%M Uhr")


def _de_date(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_ZONE).strftime("%d.%m.%Y")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return ""


def _asker_display(asker: object) -> str:
    """Organisations by name; private addresses are not shown in the briefing."""
    text = str(asker)
    return "Absender ohne Organisationsangabe" if "@" in text or not text else text
