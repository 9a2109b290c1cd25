"""Mail coming in: import, reprocess, poll, run (the service), status, evaluate."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ikz_inbox import ingest, service
from ikz_inbox.app import open_app
from ikz_inbox.cli.common import (
    ByOption,
    JsonOption,
    actor_name,
    app,
    cli_state,
    err,
    open_session,
    out,
    print_json,
    utc_now,
)
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.evaluation import MetricLine, load_labels, score_export
from ikz_inbox.publish import write_atomically
from ikz_inbox.store import session_scope

# Messages per committed batch from which `import` shows a progress bar.
PROGRESS_FROM = 20


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help=".eml-Dateien, Ordner, mbox-Dateien, Maildirs")
    ],
) -> None:
    """Nachrichten aus Dateien einlesen, verarbeiten und gruppieren."""
    with open_session(ctx) as (application, session), _ImportProgress() as progress:
        summary = ingest.import_files(
            session, application, paths, progress=progress.advance, now=utc_now
        )
    out.print(
        f"Importiert: {summary.stored} gespeichert, {summary.duplicates} Duplikate übersprungen, "
        f"{summary.quarantined} in Quarantäne."
    )


class _ImportProgress:
    """A progress bar on stderr for large imports (the total is not known in advance): it
    appears once a committed batch held PROGRESS_FROM messages or more."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("[bold]Import"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _ImportProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._bar.stop()

    def advance(self, count: int) -> None:
        if self._task is None:
            if count < PROGRESS_FROM:
                return
            self._bar.start()
            self._task = self._bar.add_task("import", total=None)
        self._bar.advance(self._task, count)


@app.command()
def reprocess(
    ctx: typer.Context,
    *,
    classify: Annotated[bool, typer.Option("--classify", help="Nur Themen neu zuordnen.")] = False,
    by: ByOption = None,
) -> None:
    """Gespeicherte Nachrichten neu verarbeiten (ohne Postfachzugriff)."""
    with open_session(ctx) as (application, session):
        if classify:
            changed = service.reclassify_and_regroup(
                session,
                application.classifier,
                application.settings.review_threshold,
                utc_now(),
                model=application.dedup,
                events=application.events,
                actor=actor_name(by),
            )
            out.print(f"Themen neu zugeordnet; {changed} Fragen haben ein anderes Thema.")
        else:
            summary = ingest.reprocess_messages(
                session, application, utc_now(), actor=actor_name(by)
            )
            out.print(f"{summary.total} Nachrichten neu verarbeitet.")


@app.command()
def evaluate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Ordner mit NNNN.eml und labels.jsonl")],
    *,
    as_json: JsonOption = False,
    export_to: Annotated[Path | None, typer.Option("--export", help="Export hier ablegen.")] = None,
) -> None:
    """Ordner in eine Wegwerf-Datenbank einlesen und gegen labels.jsonl bewerten.

    Liegt im Ordner eine events.toml, gelten deren Veranstaltungen statt der konfigurierten.
    """
    labels_path = directory / "labels.jsonl"
    if not labels_path.is_file():
        raise IkzInboxError(f"{labels_path} fehlt.")
    state = cli_state(ctx)
    own_events = directory / "events.toml"
    with tempfile.TemporaryDirectory(prefix="ikz-evaluate-") as scratch:
        application = open_app(
            state.config,
            f"sqlite:///{scratch}/evaluate.sqlite3",
            events_path=own_events if own_events.is_file() else None,
        )
        try:
            with session_scope(application.database) as session:
                document = ingest.evaluation_export(
                    session, application, sorted(directory.glob("*.eml")), utc_now()
                )
        finally:
            application.close()
    if export_to is not None:
        write_atomically(export_to, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    metrics = score_export(load_labels(labels_path), document)
    if as_json:
        sys.stdout.write(json.dumps(metrics, sort_keys=True) + "\n")
        return
    for name, value in metrics.items():
        out.print(str(MetricLine(name, value)))


# --- worker -----------------------------------------------------------------------------


@app.command()
def poll(
    ctx: typer.Context,
    *,
    once: Annotated[bool, typer.Option("--once", help="Einmal abrufen und beenden.")] = True,
) -> None:
    """Neue Nachrichten aus den konfigurierten Postfächern abrufen und verarbeiten.

    Exit-Code 1, wenn ein Postfach nicht abgerufen werden konnte."""
    from ikz_inbox.polling import poll_all_mailboxes, unpolled_mailboxes

    del once  # polling once is the only mode of this command; `run` is the service
    application = cli_state(ctx).app
    results = poll_all_mailboxes(application)
    for result in results:
        summary = result.summary
        out.print(
            f"{result.mailbox}/{result.folder}: {summary.stored} gespeichert, "
            f"{summary.duplicates} Duplikate, {summary.quarantined} in Quarantäne"
            + (", vollständig neu abgeglichen (UIDVALIDITY)" if result.resynced else "")
        )
    failed = unpolled_mailboxes(application.settings.mailboxes, results)
    if failed:
        err.print(f"Nicht abgerufen (siehe Protokoll): {', '.join(failed)}", markup=False)
        raise typer.Exit(1)


@app.command()
def run(ctx: typer.Context) -> None:
    """Als Dienst laufen: Postfach regelmäßig (oder per IDLE) abrufen, Briefing schreiben."""
    from ikz_inbox.worker import run_service

    run_service(cli_state(ctx).app)


@app.command()
def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Zustand zeigen; Exit-Code 1, wenn der letzte erfolgreiche Abruf zu alt ist."""
    from ikz_inbox.polling import collect_status

    report_ = collect_status(cli_state(ctx).app, utc_now())
    if as_json:
        print_json(
            {
                "healthy": report_.healthy,
                "overdue": list(report_.overdue),
                "counts": report_.counts,
                "model_version": report_.model_version,
                "model_fallback": report_.model_fallback,
                "mailboxes": [state.__dict__ for state in report_.mailboxes],
            }
        )
    else:
        _print_status(report_)
    if not report_.healthy:
        raise typer.Exit(1)


def _print_status(report_: Any) -> None:
    for state in report_.mailboxes:
        last = (
            state.last_success_at.strftime("%d.%m.%Y %H:%M:%S UTC")
            if state.last_success_at
            else "nie"
        )
        out.print(
            f"Postfach {state.mailbox}/{state.folder}: letzter erfolgreicher Abruf {last}, "
            f"Rückstand {state.backlog}, UID {state.last_uid}"
            + (f", letzter Fehler: {state.last_error}" if state.last_error else "")
        )
    counts = report_.counts
    out.print(
        f"Nachrichten: {counts.get('status:processed', 0)} verarbeitet, "
        f"{counts.get('status:quarantined', 0)} in Quarantäne"
    )
    model = report_.model_version
    out.print(
        f"Themenmodell: {model}"
        + (
            " (ACHTUNG: Ersatz durch Stichwortregeln – Modell fehlt oder ist defekt)"
            if report_.model_fallback
            else ""
        )
    )
    for name in report_.overdue:
        out.print(f"ACHTUNG – Abruf überfällig: {name}")
