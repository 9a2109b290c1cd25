"""What the moderator reads: report, briefing, export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ikz_inbox import service
from ikz_inbox.cli.common import EventOption, app, err, open_session, out, utc_now
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.publish import (
    briefing_stem,
    prepare_briefing,
    publish_briefing,
    report_options,
    write_atomically,
)
from ikz_inbox.report import BRIEFING_FORMATS, SUMMARY_SIZE, render_document
from ikz_inbox.types import Briefing

# --- reports ----------------------------------------------------------------------------


BriefingEventOption = Annotated[
    str | None,
    typer.Option(
        "--event",
        help="Veranstaltungs-ID oder 'all' (Standard: die nächste Veranstaltung).",
    ),
]


@app.command()
def report(
    ctx: typer.Context,
    event: BriefingEventOption = None,
    fmt: Annotated[str, typer.Option("--format", help="html, pdf oder md")] = "html",
    output: Annotated[
        Path | None, typer.Option("--output", help="Zieldatei, '-' für Ausgabe")
    ] = None,
) -> None:
    """Briefing für eine Veranstaltung (Standard: die nächste; 'all': alle) schreiben."""
    if fmt not in BRIEFING_FORMATS:
        raise IkzInboxError("--format muss 'html', 'pdf' oder 'md' sein.")
    with open_session(ctx) as (application, session):
        result = prepare_briefing(session, application, event, utc_now())
    # Rendering (a PDF takes seconds) needs no database session.
    options = report_options(application)
    document = render_document(result, fmt, application.topic_labels, options)
    stem = briefing_stem(result.event.id if result.event else None)
    target = output or application.settings.report_dir / f"{stem}.{fmt}"
    if str(target) == "-":
        sys.stdout.buffer.write(document)
        return
    write_atomically(target, document)
    _print_note(result)
    out.print(f"Briefing geschrieben: {target}")


@app.command()
def briefing(
    ctx: typer.Context,
    event: BriefingEventOption = None,
    *,
    send: Annotated[
        bool, typer.Option("--send", help="Per E-Mail an die Moderation senden ([delivery]).")
    ] = False,
) -> None:
    """Briefing als HTML, PDF und Markdown schreiben und die fünf wichtigsten Fragen zeigen."""
    with open_session(ctx) as (application, session):
        published = publish_briefing(session, application, event, utc_now(), mail=send)
    _print_note(published.briefing)
    for path in published.paths:
        out.print(f"Briefing geschrieben: {path}")
    if published.mailed:
        out.print("Briefing per E-Mail versandt.")
    for part in published.briefing.parts or (published.briefing,):
        _print_top(part)


def _print_note(result: Briefing) -> None:
    if result.note:
        err.print(result.note, markup=False, soft_wrap=True)


def _print_top(result: Briefing, count: int = SUMMARY_SIZE) -> None:
    title = result.event.title if result.event else "ohne Veranstaltung"
    out.print(f"\nDie {count} wichtigsten Fragen ({title}):")
    for entry in result.content[:count]:
        out.print(f"  {entry.rank}. {entry.representative.text}  [{entry.reason}]")
    if not result.content:
        out.print("  (noch keine Fragen)")


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", help="Zieldatei (JSON).")],
    event: EventOption = None,
    personal: Annotated[
        str | None,
        typer.Option(
            "--personal",
            metavar="ADRESSE",
            help="Alle Daten zu dieser Absenderadresse (Art. 15 DSGVO, ikz-inbox/personal/1).",
        ),
    ] = None,
) -> None:
    """Nachrichten, Fragen und Gruppen als JSON exportieren (Schema ikz-inbox/export/1);
    mit --personal ADRESSE alles, was zu einer Absenderin / einem Absender gespeichert ist."""
    with open_session(ctx) as (application, session):
        document = service.export_data(
            session, application.events, utc_now(), lambda: application.dedup, event, personal
        )
    write_atomically(output, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    out.print(f"Export geschrieben: {output}")
