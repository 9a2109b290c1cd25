"""The ``ikz-inbox`` command line: thin commands, each calling one service function.

Messages to staff are German; ``--json`` gives machine-readable output for scripts.
Exit codes: 0 done; 1 a check failed (``status`` unhealthy, ``poll`` left a mailbox
unpolled, ``doctor`` found a problem); 2 invalid configuration, usage or request; 130
interrupted.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ikz_inbox import __version__, ingest, service
from ikz_inbox.app import App, open_app
from ikz_inbox.config import effective_settings, load_settings
from ikz_inbox.dedup import load_dedup_model
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.evaluation import MetricLine, load_labels, score_export
from ikz_inbox.publish import (
    briefing_stem,
    prepare_briefing,
    publish_briefing,
    report_options,
    write_atomically,
)
from ikz_inbox.report import BRIEFING_FORMATS, BriefingFormat, render_document
from ikz_inbox.starter import write_starter_files
from ikz_inbox.store import session_scope
from ikz_inbox.store.records import StoredQuestion
from ikz_inbox.types import Briefing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(
    name="ikz-inbox",
    help="Fragen aus dem Postfach IKZ@Interkommunales.NRW als Briefing für Veranstaltungen.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
questions_app = typer.Typer(help="Gespeicherte Fragen lesen und korrigieren.", no_args_is_help=True)
clusters_app = typer.Typer(
    help="Fragengruppen lesen, zusammenführen, teilen, anheften.", no_args_is_help=True
)
app.add_typer(questions_app, name="questions")
app.add_typer(clusters_app, name="clusters")

# Question texts and names are data, never Rich markup.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Konfigurationsdatei (TOML).")]
DbOption = Annotated[str | None, typer.Option("--db", help="Datenbank-URL (überschreibt Datei).")]
# Messages per committed batch from which `import` shows a progress bar.
PROGRESS_FROM = 20

# Boolean options come after a bare * in the commands (keyword-only, ruff FBT): Typer and
# click pass every parameter by name, and no Python caller can mix up two flags.
JsonOption = Annotated[bool, typer.Option("--json", help="Ausgabe als JSON.")]
EventOption = Annotated[str | None, typer.Option("--event", help="Veranstaltungs-ID.")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Name der Bearbeiterin / des Bearbeiters.")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Begründung fürs Protokoll.")]


class _State:
    """Global options, and the App opened on first use."""

    def __init__(self, config: Path | None, db: str | None) -> None:
        self.config = config
        self.db = db
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = open_app(self.config, self.db)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None


def _state(ctx: typer.Context) -> _State:
    state = ctx.find_root().obj
    assert isinstance(state, _State)
    return state


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOption = None,
    db: DbOption = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Mehr Protokoll.")
    ] = 0,
) -> None:
    """Global options for every command."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = _State(config, db)
    ctx.call_on_close(ctx.obj.close)


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(by: str | None) -> str:
    return by or os.environ.get("SUDO_USER") or getpass.getuser()


@contextmanager
def _session(ctx: typer.Context) -> Iterator[tuple[App, Session]]:
    application = _state(ctx).app
    with session_scope(application.database) as session:
        yield application, session


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))


# --- setup and ingest -------------------------------------------------------------------


@app.command()
def version() -> None:
    """Version ausgeben."""
    out.print(f"ikz-inbox {__version__}")


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Zielordner (Standard: aktueller Ordner).")
    ] = Path(),
) -> None:
    """Kommentierte Start-Konfiguration und Veranstaltungsdatei anlegen (überschreibt nie)."""
    for starter in write_starter_files(directory):
        verb = "geschrieben" if starter.written else "vorhanden, nicht überschrieben"
        out.print(f"{verb}: {starter.path}")
    config_file = directory / "ikz-inbox.toml"
    out.print(
        f"Als Nächstes: [imap] in {config_file} und die Veranstaltungen ausfüllen, dann "
        f"'ikz-inbox --config {config_file} doctor'."
    )


@app.command("config")
def config_(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Wirksame Einstellungen mit Herkunft zeigen (Datei, Umgebung, Vorgabe); ohne Geheimnisse."""
    state = _state(ctx)
    rows = effective_settings(load_settings(state.config, state.db))
    if as_json:
        _print_json([{"key": key, "value": value, "origin": origin} for key, value, origin in rows])
        return
    width = max(len(key) for key, _, _ in rows)
    for key, value, origin in rows:
        out.print(f"{key:{width}s} = {value}  ({origin})")


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Installation prüfen, eine Zeile je Prüfung; Exit-Code 1 bei einem Fehler."""
    from ikz_inbox.doctor import run_checks

    state = _state(ctx)
    checks = run_checks(state.config, state.db, os.environ, _now())
    for check in checks:
        out.print(f"{'OK    ' if check.ok else 'FEHLER'} {check.name}: {check.detail}")
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Datenbankschema anlegen oder aktualisieren."""
    application = _state(ctx).app
    out.print(f"Datenbank ist aktuell: {application.database.url}")


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help=".eml-Dateien, Ordner, mbox-Dateien, Maildirs")
    ],
) -> None:
    """Nachrichten aus Dateien einlesen, verarbeiten und gruppieren."""
    with _session(ctx) as (application, session), _ImportProgress() as progress:
        summary = ingest.import_files(
            session, application, paths, progress=progress.advance, now=_now
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
    with _session(ctx) as (application, session):
        if classify:
            changed = service.reclassify_and_regroup(
                session,
                application.classifier,
                application.settings.review_threshold,
                _now(),
                model=application.dedup,
                events=application.events,
                actor=_actor(by),
            )
            out.print(f"Themen neu zugeordnet; {changed} Fragen haben ein anderes Thema.")
        else:
            summary = ingest.reprocess_messages(session, application, _now(), actor=_actor(by))
            out.print(f"{summary.total} Nachrichten neu verarbeitet.")


@app.command()
def train(
    ctx: typer.Context,
    *,
    with_corrections: Annotated[
        bool, typer.Option("--with-corrections", help="Korrekturen des Teams einbeziehen.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Zufallsstartwert.")] = 0,
    model: Annotated[
        str, typer.Option("--model", help="topics, kinds, grouping oder all (Standard).")
    ] = "all",
    by: ByOption = None,
) -> None:
    """Modelle aus den Trainingsdaten neu trainieren: Themen (mit Korrekturen), Nachrichtenarten
    und Gruppierung (protokolliert, mit Fingerabdruck des Modells vorher/nachher)."""
    if model not in {"topics", "kinds", "grouping", "all"}:
        raise IkzInboxError(f"Unbekanntes Modell {model!r}: topics, kinds, grouping oder all.")
    application = _state(ctx).app
    settings = application.settings
    if model in {"topics", "all"}:
        with _audited_retrain(application, "topics", settings.topic_model_dir, by):
            _train_topics(application, with_corrections=with_corrections, seed=seed)
    if model in {"kinds", "all"}:
        with _audited_retrain(application, "kinds", settings.kind_model_dir, by):
            _train_kinds(application)
    if model in {"grouping", "all"}:
        with _audited_retrain(application, "grouping", settings.grouping_model_dir, by):
            _train_grouping(application)


@contextmanager
def _audited_retrain(application: App, model: str, folder: Path, by: str | None) -> Iterator[None]:
    from ikz_inbox.audit import model_fingerprint, record_retrain

    before = model_fingerprint(folder)
    yield
    with session_scope(application.database) as session:
        record_retrain(session, model, folder, before, _now(), actor=_actor(by))


def _train_kinds(application: App) -> None:
    from ikz_inbox.extract.kind_model import train_kind_model
    from ikz_inbox.parse import parse_message

    settings = application.settings
    result = train_kind_model(
        settings.training_dir / "kinds", settings.kind_model_dir, parse=parse_message
    )
    out.print(
        f"Modell der Nachrichtenarten {result.model_version} gespeichert in "
        f"{settings.kind_model_dir}: {result.examples} Beispiele."
    )


def _train_grouping(application: App) -> None:
    from ikz_inbox.dedup.learn import train_grouping_model

    settings = application.settings
    base = load_dedup_model(settings.lexicon_path, cache_dir=settings.cache_dir)
    result = train_grouping_model(
        settings.training_dir / "paraphrases", base, settings.grouping_model_dir
    )
    held_out = result.metrics["held_out"]
    out.print(
        f"Gruppierungsmodell gespeichert in {settings.grouping_model_dir}: "
        f"{result.asks} Anliegen, {result.wordings} Formulierungen, {result.pairs} Paare."
    )
    out.print(
        f"Zurückgehaltene Anliegen: paarweise F1 {held_out['f1']:.3f} "
        f"(Präzision {held_out['precision']:.3f}, Trefferquote {held_out['recall']:.3f})."
    )
    out.print("Mit 'ikz-inbox reprocess' die gespeicherten Fragen neu gruppieren.")


def _train_topics(application: App, *, with_corrections: bool, seed: int) -> None:
    from ikz_inbox.train import train_topic_model

    extra: list[tuple[str, str]] = []
    if with_corrections:
        with session_scope(application.database) as session:
            extra = service.staff_corrections(session)
    settings = application.settings
    result = train_topic_model(
        settings.training_dir,
        application.taxonomy,
        settings.topic_model_dir,
        config_path=settings.spacy_config_path,
        extra_examples=extra,
        seed=seed,
    )
    out.print(f"Modell {result.model_version} gespeichert in {settings.topic_model_dir}.")
    out.print(
        f"Korrekturen einbezogen: {len(extra)}. Kennzahlen (Testanteil): "
        f"Makro-F1 {result.macro_f1:.3f}, Genauigkeit {result.accuracy:.3f}."
    )
    out.print("Mit 'ikz-inbox reprocess --classify' die gespeicherten Fragen neu zuordnen.")


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
    with _session(ctx) as (application, session):
        result = prepare_briefing(session, application, event, _now())
        document = render_document(
            result, fmt_checked(fmt), application.topic_labels, report_options(application)
        )
        stem = briefing_stem(result.event.id if result.event else None)
        target = output or application.settings.report_dir / f"{stem}.{fmt}"
    if str(target) == "-":
        sys.stdout.buffer.write(document)
        return
    write_atomically(target, document)
    _print_note(result)
    out.print(f"Briefing geschrieben: {target}")


def fmt_checked(fmt: str) -> BriefingFormat:
    return "md" if fmt == "md" else "pdf" if fmt == "pdf" else "html"


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
    with _session(ctx) as (application, session):
        published = publish_briefing(session, application, event, _now(), mail=send)
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


def _print_top(result: Briefing, count: int = 5) -> None:
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
    with _session(ctx) as (application, session):
        document = service.export_data(
            session, application.events, _now(), application.dedup, event, personal
        )
    write_atomically(output, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    out.print(f"Export geschrieben: {output}")


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
    state = _state(ctx)
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
                    session, application, sorted(directory.glob("*.eml")), _now()
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
    with _session(ctx) as (_application, session):
        rows = service.list_questions(session, event, topic)
    _show_questions(rows, as_json=as_json)


@questions_app.command("review")
def questions_review(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Fragen mit unsicherem Thema zur Prüfung auflisten."""
    with _session(ctx) as (_application, session):
        rows = service.review_queue(session)
    _show_questions(rows, as_json=as_json)


def _show_questions(rows: list[StoredQuestion], *, as_json: bool) -> None:
    if as_json:
        _print_json([service.question_json(row) for row in rows])
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
    with _session(ctx) as (_application, session):
        row = service.question_details(session, question_id)
    data = service.question_json(row)
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        out.print(f"{key:18s} {value}")


@questions_app.command("reclassify")
def questions_reclassify(
    ctx: typer.Context, question_id: int, topic: str, by: ByOption = None, note: NoteOption = None
) -> None:
    """Thema einer Frage korrigieren (wird protokolliert; das Modell überschreibt es nie)."""
    with _session(ctx) as (application, session):
        previous = service.reclassify_question(
            session,
            question_id,
            topic,
            application.topic_ids,
            actor=_actor(by),
            note=note,
            now=_now(),
        )
    out.print(f"Frage {question_id}: Thema {previous} → {topic} (protokolliert).")


# --- clusters ---------------------------------------------------------------------------


@clusters_app.command("list")
def clusters_list(
    ctx: typer.Context, event: EventOption = None, *, as_json: JsonOption = False
) -> None:
    """Fragengruppen in Rangfolge auflisten."""
    with _session(ctx) as (application, session):
        listings = service.list_clusters_ranked(
            session, application.events, _now(), application.dedup, event
        )
    if as_json:
        _print_json(
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
    with _session(ctx) as (_application, session):
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
    with _session(ctx) as (application, session):
        service.merge_clusters(
            session,
            cluster_ids,
            application.dedup,
            application.events,
            actor=_actor(by),
            note=note,
            now=_now(),
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
    with _session(ctx) as (application, session):
        suggestions = service.grouping_suggestions(session, application.dedup, event, limit)
    if as_json:
        _print_json(
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
        verb = "zusammenführen?" if suggestion.action == "merge" else "abtrennen?"
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
    with _session(ctx) as (application, session):
        result = service.decide_suggestion(
            session,
            key,
            application.dedup,
            application.events,
            accept=accept,
            actor=_actor(by),
            note=note,
            now=_now(),
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
    with _session(ctx) as (application, session):
        service.split_cluster(
            session,
            cluster_id,
            question_ids,
            application.dedup,
            application.events,
            actor=_actor(by),
            note=note,
            now=_now(),
        )
    out.print(
        f"Fragen {', '.join(map(str, question_ids))} aus Gruppe {cluster_id} gelöst "
        "(protokolliert)."
    )


def _flag_command(action: str, message: str) -> None:
    def command(
        ctx: typer.Context, cluster_id: int, by: ByOption = None, note: NoteOption = None
    ) -> None:
        with _session(ctx) as (application, session):
            service.flag_cluster(
                session,
                cluster_id,
                action,
                application.events,
                application.dedup,
                actor=_actor(by),
                note=note,
                now=_now(),
            )
        out.print(message.format(cluster_id=cluster_id))

    command.__doc__ = message.format(cluster_id="ID").replace(" (protokolliert)", "")
    clusters_app.command(action)(command)


_flag_command("pin", "Gruppe {cluster_id} angeheftet (protokolliert).")
_flag_command("unpin", "Gruppe {cluster_id} nicht mehr angeheftet (protokolliert).")
_flag_command("exclude", "Gruppe {cluster_id} aus dem Briefing ausgeschlossen (protokolliert).")
_flag_command("include", "Gruppe {cluster_id} wieder im Briefing (protokolliert).")
_flag_command("answered", "Gruppe {cluster_id} als beantwortet markiert (protokolliert).")


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
    with _session(ctx) as (_application, session):
        entries = service.audit_entries(session, limit or None, start)
    if as_json:
        _print_json([entry.__dict__ for entry in entries])
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
    with _session(ctx) as (_application, session):
        check = service.verify_audit(session)
    for problem in check.problems:
        out.print(problem)
    if check.problems:
        err.print(
            f"Protokoll manipuliert: {len(check.problems)} Befund(e) in {check.checked} Einträgen."
        )
        raise typer.Exit(1)
    out.print(f"Protokoll unverändert: {check.checked} Einträge, Hash-Kette lückenlos.")


# --- data protection --------------------------------------------------------------------


@app.command()
def purge(
    ctx: typer.Context,
    *,
    yes: Annotated[
        bool, typer.Option("--yes", help="Wirklich löschen (sonst nur anzeigen).")
    ] = False,
    by: ByOption = None,
) -> None:
    """Aufbewahrungsfristen anwenden ([retention]): zeigt, was gelöscht würde; löscht nur
    mit --yes."""
    from ikz_inbox.dataprotection import plan_purge
    from ikz_inbox.dataprotection import purge as run_purge

    with _session(ctx) as (application, session):
        retention = application.settings.retention
        plan = plan_purge(session, application.events, retention, _now())
        out.print(
            f"Rohnachricht entfernen (älter als {retention.raw_days} Tage): "
            f"{len(plan.raw_only)} Nachrichten"
        )
        out.print(
            f"Absenderdaten entfernen (älter als {retention.personal_days} Tage): "
            f"{len(plan.personal)} Nachrichten"
        )
        if not yes:
            out.print("Nichts gelöscht (Probelauf). Mit --yes ausführen.")
            return
        run_purge(session, application.database, plan, retention, _now(), actor=_actor(by))
    out.print("Gelöscht und protokolliert." if not plan.empty else "Nichts zu löschen.")


@app.command()
def forget(
    ctx: typer.Context,
    sender: Annotated[str, typer.Option("--sender", help="E-Mail-Adresse der Person.")],
    by: ByOption = None,
    note: NoteOption = None,
) -> None:
    """Alle Daten einer Absenderin / eines Absenders löschen (Art. 17 DSGVO); die Fragen
    bleiben als anonymer Text."""
    with _session(ctx) as (application, session):
        result = service.erase_sender(
            session,
            application.database,
            sender,
            application.settings.lock_dir,
            os.environ,
            _now(),
            actor=_actor(by),
            note=note,
        )
    out.print(
        f"Gelöscht: {result.messages} Nachrichten dieser Adresse ({result.questions} Fragen "
        f"bleiben anonym), Adresse aus {result.mentions} weiteren Nachrichten entfernt. "
        f"Protokolliert als HMAC-SHA256 {result.address_hash}."
    )


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
    application = _state(ctx).app
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

    run_service(_state(ctx).app)


@app.command()
def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Zustand zeigen; Exit-Code 1, wenn der letzte erfolgreiche Abruf zu alt ist."""
    from ikz_inbox.polling import collect_status

    report_ = collect_status(_state(ctx).app, _now())
    if as_json:
        _print_json(
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


def main() -> int:
    """Console entry point: German error messages instead of tracebacks; returns the exit
    code (the console script passes it to sys.exit)."""
    try:
        code = app(standalone_mode=False)
    except IkzInboxError as exc:
        err.print(f"[bold red]Fehler:[/] {escape(str(exc))}")
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("Abgebrochen.")
        return 130
    except Exception as exc:  # click usage errors are ClickException subclasses
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    # Without standalone mode click returns the code of a typer.Exit, else the command's
    # return value (None: success).
    return code if isinstance(code, int) else 0
