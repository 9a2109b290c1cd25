"""Administration: version, init, config, doctor, migrate, train."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ikz_inbox import __version__, service
from ikz_inbox.app import App
from ikz_inbox.cli.common import (
    ByOption,
    JsonOption,
    actor_name,
    app,
    cli_state,
    out,
    print_json,
    utc_now,
)
from ikz_inbox.config import effective_settings, load_settings
from ikz_inbox.dedup import load_dedup_model
from ikz_inbox.errors import IkzInboxError
from ikz_inbox.starter import write_starter_files
from ikz_inbox.store import session_scope


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
    state = cli_state(ctx)
    rows = effective_settings(load_settings(state.config, state.db))
    if as_json:
        print_json([{"key": key, "value": value, "origin": origin} for key, value, origin in rows])
        return
    width = max(len(key) for key, _, _ in rows)
    for key, value, origin in rows:
        out.print(f"{key:{width}s} = {value}  ({origin})")


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Installation prüfen, eine Zeile je Prüfung; Exit-Code 1 bei einem Fehler."""
    from ikz_inbox.doctor import run_checks

    state = cli_state(ctx)
    checks = run_checks(state.config, state.db, os.environ, utc_now())
    for check in checks:
        out.print(f"{'OK    ' if check.ok else 'FEHLER'} {check.name}: {check.detail}")
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Datenbankschema anlegen oder aktualisieren."""
    application = cli_state(ctx).app
    out.print(f"Datenbank ist aktuell: {application.database.url}")


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
    application = cli_state(ctx).app
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
        record_retrain(session, model, folder, before, utc_now(), actor=actor_name(by))


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
