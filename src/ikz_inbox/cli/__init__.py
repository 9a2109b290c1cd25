"""The ``ikz-inbox`` command line: thin commands, each calling one service function.

Messages to staff are German; ``--json`` gives machine-readable output for scripts.
Exit codes: 0 done; 1 a check failed (``status`` unhealthy, ``poll`` left a mailbox
unpolled, ``doctor`` found a problem); 2 invalid configuration, usage or request; 130
interrupted.
"""

from __future__ import annotations

import typer
from rich.markup import escape

# The command modules register their commands on ``app`` when imported.
from ikz_inbox.cli import admin, inbox, privacy, reports, staff  # noqa: F401
from ikz_inbox.cli.common import app, err
from ikz_inbox.errors import IkzInboxError

__all__ = ["app", "main"]


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
