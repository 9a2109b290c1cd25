"""What every command shares: the Typer apps, the consoles, the option types, the global
options and the App they open, the session a command works in."""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ikz_inbox.app import App, open_app
from ikz_inbox.store import session_scope

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

# Question texts and names are data: no Rich markup on stdout, and no emoji codes on either
# console (":x:" in a suggestion key or a question must stay as typed).
out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Konfigurationsdatei (TOML).")]
DbOption = Annotated[str | None, typer.Option("--db", help="Datenbank-URL (überschreibt Datei).")]

# Boolean options come after a bare * in the commands (keyword-only, ruff FBT): Typer and
# click pass every parameter by name, and no Python caller can mix up two flags.
JsonOption = Annotated[bool, typer.Option("--json", help="Ausgabe als JSON.")]
EventOption = Annotated[str | None, typer.Option("--event", help="Veranstaltungs-ID.")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Name der Bearbeiterin / des Bearbeiters.")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Begründung fürs Protokoll.")]


class CliState:
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


def cli_state(ctx: typer.Context) -> CliState:
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
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
    ctx.obj = CliState(config, db)
    ctx.call_on_close(ctx.obj.close)


def utc_now() -> datetime:
    return datetime.now(UTC)


def actor_name(by: str | None) -> str:
    return by or os.environ.get("SUDO_USER") or getpass.getuser()


@contextmanager
def open_session(ctx: typer.Context) -> Iterator[tuple[App, Session]]:
    application = cli_state(ctx).app
    with session_scope(application.database) as session:
        yield application, session


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False, default=str))
