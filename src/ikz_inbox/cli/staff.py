"""What staff read and correct: questions, clusters (merge, split, pin, suggestions), audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ikz_inbox import service
from ikz_inbox.cli.common import (
    ByOption,
    EventOption,
    JsonOption,
    NoteOption,
    actor_name,
    app,
    clusters_app,
    err,
    open_session,
    out,
    print_json,
    questions_app,
    utc_now,
)
from ikz_inbox.store.records import StoredQuestion
from ikz_inbox.types import SuggestionAction

# --- questions --------------------------------------------------------------------------


@questions_app.command("list")
def questions_list(
    ctx: typer.Context,
    event: EventOption = None,
    topic: Annotated[str | None, typer.Option(help="Nur dieses Thema.")] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Fragen auflisten."""
    with open_session(ctx) as (_application, session):
        rows = service.list_questions(session, event, topic)
    _show_questions(rows, as_json=as_json)


@questions_app.command("review")
def questions_review(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Fragen mit unsicherem Thema zur Prüfung auflisten."""
    with open_session(ctx) as (_application, session):
        rows = service.review_queue(session)
    _show_questions(rows, as_json=as_json)


def _show_questions(rows: list[StoredQuestion], *, as_json: bool) -> None:
    if as_json:
        print_json([service.question_json(row) for row in rows])
        return
    table = Table("ID", "Thema", "Sicherheit", "Gruppe", "Absender", "Frage")
    for row in rows:
        table.add_row(
            str(row.id),
            row.topic,
            f"{row.confidence:.2f}",
            str(row.cluster_id or "-"),
            row.sender_org or row.from_address,
            row.text,
        )
    out.print(table)
    out.print(f"{len(rows)} Fragen.")


@questions_app.command("show")
def questions_show(ctx: typer.Context, question_id: int, *, as_json: JsonOption = False) -> None:
    """Eine Frage mit allen Angaben zeigen."""
    with open_session(ctx) as (_application, session):
        row = service.question_details(session, question_id)
    data = service.question_json(row)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        out.print(f"{key:18s} {value}")


@questions_app.command("reclassify")
def questions_reclassify(
    ctx: typer.Context, question_id: int, topic: str, by: ByOption = None, note: NoteOption = None
) -> None:
    """Thema einer Frage korrigieren (wird protokolliert; das Modell überschreibt es nie)."""
    with open_session(ctx) as (application, session):
        previous = service.reclassify_question(
            session,
            question_id,
            topic,
            application.topic_ids,
            actor=actor_name(by),
            note=note,
            now=utc_now(),
        )
    out.print(f"Frage {question_id}: Thema {previous} → {topic} (protokolliert).")


# --- clusters ---------------------------------------------------------------------------


@clusters_app.command("list")
def clusters_list(
    ctx: typer.Context, event: EventOption = None, *, as_json: JsonOption = False
) -> None:
    """Fragengruppen in Rangfolge auflisten."""
    with open_session(ctx) as (application, session):
        listings = service.list_clusters_ranked(
            session, application.events, utc_now(), application.dedup, event
        )
    if as_json:
        print_json(
            [
                {
                    **listing.cluster.__dict__,
                    "question_ids": list(listing.cluster.question_ids),
                    "representative": listing.representative,
                }
                for listing in listings
            ]
        )
        return
    table = Table("Rang", "Gruppe", "Thema", "Fragen", "Begründung", "Repräsentative Frage")
    for listing in listings:
        c = listing.cluster
        table.add_row(
            str(c.rank or "-"),
            str(c.id),
            c.topic,
            str(len(c.question_ids)),
            c.reason,
            listing.representative or "",
        )
    out.print(table)


@clusters_app.command("show")
def clusters_show(ctx: typer.Context, cluster_id: int) -> None:
    """Eine Gruppe mit allen Fragen zeigen."""
    with open_session(ctx) as (_application, session):
        details = service.cluster_details(session, cluster_id)
    cluster = details.cluster
    out.print(
        f"Gruppe {cluster.id} · Rang {cluster.rank or '-'} · {cluster.topic} · {cluster.reason}"
    )
    for member in details.members:
        out.print(f"  [{member.id}] {member.text} ({member.sender_org or member.from_address})")


@clusters_app.command("merge")
def clusters_merge(
    ctx: typer.Context, cluster_ids: list[int], by: ByOption = None, note: NoteOption = None
) -> None:
    """Gruppen zusammenführen (bleibt bei jeder Neugruppierung erhalten)."""
    with open_session(ctx) as (application, session):
        service.merge_clusters(
            session,
            cluster_ids,
            application.dedup,
            application.events,
            actor=actor_name(by),
            note=note,
            now=utc_now(),
        )
    out.print(f"Gruppen {', '.join(map(str, cluster_ids))} zusammengeführt (protokolliert).")


@clusters_app.command("suggest")
def clusters_suggest(
    ctx: typer.Context,
    event: EventOption = None,
    limit: Annotated[int, typer.Option("--limit", help="Höchstens so viele Vorschläge.")] = 20,
    *,
    as_json: JsonOption = False,
) -> None:
    """Die unsichersten Gruppierungsentscheidungen zum Bestätigen oder Ablehnen."""
    with open_session(ctx) as (application, session):
        suggestions = service.grouping_suggestions(session, application.dedup, event, limit)
    if as_json:
        print_json(
            [
                {
                    "key": s.key,
                    "action": s.action,
                    "question_id": s.question_id,
                    "other_question_id": s.other_question_id,
                    "similarity": round(s.similarity, 3),
                    "texts": list(s.texts),
                }
                for s in suggestions
            ]
        )
        return
    if not suggestions:
        out.print("Keine unsicheren Entscheidungen.")
        return
    for suggestion in suggestions:
        verb = "zusammenführen?" if suggestion.action is SuggestionAction.MERGE else "abtrennen?"
        out.print(
            f"[bold]{suggestion.key}[/bold]  {verb}  (Ähnlichkeit {suggestion.similarity:.2f})"
        )
        out.print(f"    {escape(suggestion.texts[0])}")
        out.print(f"    {escape(suggestion.texts[1])}")
    out.print(
        "Annehmen: 'ikz-inbox clusters accept SCHLÜSSEL', ablehnen: 'clusters reject SCHLÜSSEL'."
    )


@clusters_app.command("accept")
def clusters_accept(
    ctx: typer.Context, key: str, by: ByOption = None, note: NoteOption = None
) -> None:
    """Einen Vorschlag aus 'clusters suggest' annehmen (bleibt als Vorgabe erhalten)."""
    _decide(ctx, key, accept=True, by=by, note=note)


@clusters_app.command("reject")
def clusters_reject(
    ctx: typer.Context, key: str, by: ByOption = None, note: NoteOption = None
) -> None:
    """Einen Vorschlag aus 'clusters suggest' ablehnen (bleibt als Vorgabe erhalten)."""
    _decide(ctx, key, accept=False, by=by, note=note)


def _decide(
    ctx: typer.Context, key: str, *, accept: bool, by: str | None, note: str | None
) -> None:
    with open_session(ctx) as (application, session):
        result = service.decide_suggestion(
            session,
            key,
            application.dedup,
            application.events,
            accept=accept,
            actor=actor_name(by),
            note=note,
            now=utc_now(),
        )
    out.print(f"Vorschlag {key}: {result} (protokolliert).")


@clusters_app.command("split")
def clusters_split(
    ctx: typer.Context,
    cluster_id: int,
    question_ids: list[int],
    by: ByOption = None,
    note: NoteOption = None,
) -> None:
    """Fragen aus einer Gruppe herauslösen (bleibt bei jeder Neugruppierung erhalten)."""
    with open_session(ctx) as (application, session):
        service.split_cluster(
            session,
            cluster_id,
            question_ids,
            application.dedup,
            application.events,
            actor=actor_name(by),
            note=note,
            now=utc_now(),
        )
    out.print(
        f"Fragen {', '.join(map(str, question_ids))} aus Gruppe {cluster_id} gelöst "
        "(protokolliert)."
    )


def _flag_command(action: str, message: str) -> None:
    def command(
        ctx: typer.Context, cluster_id: int, by: ByOption = None, note: NoteOption = None
    ) -> None:
        with open_session(ctx) as (application, session):
            service.flag_cluster(
                session,
                cluster_id,
                action,
                application.events,
                application.dedup,
                actor=actor_name(by),
                note=note,
                now=utc_now(),
            )
        out.print(message.format(cluster_id=cluster_id))

    command.__doc__ = message.format(cluster_id="ID").replace(" (protokolliert)", "")
    clusters_app.command(action)(command)


_flag_command("pin", "Gruppe {cluster_id} angeheftet (protokolliert).")
_flag_command("unpin", "Gruppe {cluster_id} nicht mehr angeheftet (protokolliert).")
_flag_command("exclude", "Gruppe {cluster_id} aus dem Briefing ausgeschlossen (protokolliert).")
_flag_command("include", "Gruppe {cluster_id} wieder im Briefing (protokolliert).")
_flag_command("answered", "Gruppe {cluster_id} als beantwortet markiert (protokolliert).")
_flag_command("unanswered", "Gruppe {cluster_id} wieder als offen markiert (protokolliert).")


SinceOption = Annotated[
    datetime | None,
    typer.Option(
        "--since",
        help="Nur Einträge ab diesem Zeitpunkt (z. B. 2026-12-01).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    ),
]


@app.command()
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Höchstens so viele Einträge (0: alle).")] = 50,
    since: SinceOption = None,
    *,
    as_json: JsonOption = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Hash-Kette prüfen; Exit-Code 1 bei Manipulation.")
    ] = False,
) -> None:
    """Protokoll aller Aktionen des Teams zeigen (wer, wann, vorher/nachher) oder prüfen."""
    if verify:
        _verify_audit(ctx)
        return
    start = since.replace(tzinfo=since.tzinfo or UTC) if since else None
    with open_session(ctx) as (_application, session):
        entries = service.audit_entries(session, limit or None, start)
    if as_json:
        print_json([entry.__dict__ for entry in entries])
        return
    table = Table("Zeit", "Wer", "Aktion", "Ziel", "Details", "Notiz")
    for entry in entries:
        table.add_row(
            entry.at.strftime("%d.%m.%Y %H:%M"),
            entry.actor,
            entry.action,
            f"{entry.target_type} {entry.target_id}",
            json.dumps(entry.details, ensure_ascii=False),
            entry.note or "",
        )
    out.print(table)


def _verify_audit(ctx: typer.Context) -> None:
    with open_session(ctx) as (_application, session):
        check = service.verify_audit(session)
    for problem in check.problems:
        out.print(problem)
    if check.problems:
        err.print(
            f"Protokoll manipuliert: {len(check.problems)} Befund(e) in {check.checked} Einträgen."
        )
        raise typer.Exit(1)
    out.print(f"Protokoll unverändert: {check.checked} Einträge, Hash-Kette lückenlos.")
