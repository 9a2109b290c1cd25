"""Data protection: purge (retention) and forget (erasure)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ikz_inbox import service
from ikz_inbox.cli.common import ByOption, NoteOption, actor_name, app, open_session, out, utc_now

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

    now = utc_now()  # one time for the plan and its audit entry
    with open_session(ctx) as (application, session):
        retention = application.settings.retention
        plan = plan_purge(session, application.events, retention, now)
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
        run_purge(session, application.database, plan, retention, now, actor=actor_name(by))
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
    with open_session(ctx) as (application, session):
        result = service.erase_sender(
            session,
            application.database,
            sender,
            application.settings.lock_dir,
            os.environ,
            utc_now(),
            actor=actor_name(by),
            note=note,
        )
    out.print(
        f"Gelöscht: {result.messages} Nachrichten dieser Adresse ({result.questions} Fragen "
        f"bleiben anonym), Adresse aus {result.mentions} weiteren Nachrichten entfernt. "
        f"Protokolliert als HMAC-SHA256 {result.address_hash}."
    )
