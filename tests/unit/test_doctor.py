"""`ikz-inbox doctor` without a mail server: each failing check is one line, the rest run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ikz_inbox.doctor import run_checks

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_invalid_config_is_the_only_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[worker]\npoll_interval = 0\n")
    checks = run_checks(bad, None, {}, NOW)
    assert [(c.name, c.ok) for c in checks] == [("Konfiguration", False)]
    assert "'worker.poll_interval'" in checks[0].detail


def test_packaged_defaults_pass_until_events_and_mailbox(tmp_path: Path) -> None:
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(
        '[imap]\nhost = "127.0.0.1"\nport = 1\nusername = "ikz"\npassword_env = "NICHT_GESETZT"\n'
    )
    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    checks = {c.name: c for c in run_checks(config, None, environ, NOW)}
    assert checks["Konfiguration"].ok and checks["Datenbank"].ok
    assert checks["Themenmodell"].ok, checks["Themenmodell"].detail
    assert checks["Berichtsordner"].ok
    # The packaged sample events all lie in the past.
    assert not checks["Veranstaltungen"].ok
    assert "Beispieldatei" in checks["Veranstaltungen"].detail
    mailbox = checks["IMAP default/INBOX"]
    assert not mailbox.ok and "NICHT_GESETZT" in mailbox.detail


def test_missing_events_file_and_unwritable_report_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "ikz-inbox.toml"
    config.write_text(f'[paths]\nevents = "weg.toml"\nreport_dir = "{blocker / "reports"}"\n')
    checks = {c.name: c for c in run_checks(config, None, {"XDG_DATA_HOME": str(tmp_path)}, NOW)}
    assert (
        not checks["Veranstaltungen"].ok and "'[paths] events'" in checks["Veranstaltungen"].detail
    )
    assert not checks["Berichtsordner"].ok
    assert not checks["IMAP"].ok  # no [imap] at all
    assert all("\n" not in c.detail for c in checks.values())
