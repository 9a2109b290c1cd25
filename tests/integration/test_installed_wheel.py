"""The built wheel, installed into a fresh venv, runs from an empty folder (issue #16).

The wheel is built from a copy of the sources (``pip wheel --no-deps --no-build-isolation``,
so no network) and installed with ``--no-deps`` into a new venv in a temp dir. The
dependencies (spaCy, SQLAlchemy, ...) come from the test's own environment through a
``.pth`` line, which makes them importable but adds neither the checkout nor its editable
install: the package, its data, its models and its console script come only from the
wheel (a test checks where ``ikz_inbox`` is imported from). Every command runs in a
subprocess from an empty temp folder, with its own per-user data folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.dovecot import DovecotServer, ImapUser, free_port

ROOT = Path(__file__).resolve().parents[2]
# What the build needs; everything else of the checkout stays out of the copy.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "config", "models")
# Issue #16: the wheel should stay small enough to ship anywhere.
WHEEL_SIZE_TARGET = 30 * 1024 * 1024
PASSWORD_ENV = "IKZ_TEST_IMAP_PASSWORD"
INBOX = ROOT / "examples" / "inbox"


@dataclass(frozen=True)
class Installed:
    """The fresh venv with the wheel in it."""

    venv: Path
    wheel: Path

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "ikz-inbox"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run_checked([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", "dist", "."], source)
    wheel = next((source / "dist").glob("ikz_inbox-*.whl"))
    venv = scratch / "venv"
    run_checked([sys.executable, "-m", "venv", "--without-pip", str(venv)], scratch)
    python = venv / "bin" / "python"
    run_checked([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)])
    site = Path(
        run_checked(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).strip()
    )
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz-test-dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    return Installed(venv, wheel)


def run_checked(args: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """An empty working folder; the per-user data folder is tmp_path/data."""
    folder = tmp_path / "empty"
    folder.mkdir()
    yield folder


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "data"), **extra)
    return env


def ikz(
    installed: Installed, cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_wheel_holds_models_and_config_and_stays_small(
    installed: Installed, capsys: pytest.CaptureFixture[str]
) -> None:
    size = installed.wheel.stat().st_size
    with capsys.disabled():
        sys.stdout.write(f"\nwheel {installed.wheel.name}: {size / 1024 / 1024:.1f} MB\n")
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    defaults = "ikz_inbox/defaults/"
    for required in (
        "config/taxonomy.toml",
        "config/gazetteer/nrw-kommunen.csv",
        "config/lexicon.toml",
        "config/spacy/topics.cfg",
        "config/events.toml",
        "models/topics/ikz-model.json",
        "models/topics/textcat/model",
        "models/kinds/kind-model.json",
        "models/grouping/pairs.json",
    ):
        assert defaults + required in names, required
    for folder in ("config/training/", "config/training/paraphrases/", "config/training/kinds/"):
        source = sorted(p.name for p in (ROOT / folder).glob("*.jsonl"))
        assert source and all(defaults + folder + name in names for name in source), folder
    assert "ikz_inbox/starter_files/ikz-inbox.toml" in names
    assert defaults + "config/ikz-inbox.toml" not in names  # the checkout's own config
    assert size <= WHEEL_SIZE_TARGET


def test_import_and_briefing_from_an_empty_folder(
    installed: Installed, home: Path, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    where = run_checked(
        [str(installed.python), "-c", "import ikz_inbox; print(ikz_inbox.__file__)"]
    )
    assert Path(where.strip()).is_relative_to(installed.venv)
    imported = ikz(installed, home, env, "import", str(INBOX))
    assert imported.returncode == 0, imported.stderr
    assert "gespeichert" in imported.stdout
    briefing = ikz(installed, home, env, "briefing")
    assert briefing.returncode == 0, briefing.stderr
    state = tmp_path / "data" / "ikz-inbox"
    written = [
        Path(line.split(": ", 1)[1])
        for line in briefing.stdout.splitlines()
        if line.startswith("Briefing geschrieben: ")
    ]
    assert {path.suffix for path in written} >= {".html", ".md"}, briefing.stdout
    assert all(path.parent == state and path.is_file() for path in written)
    assert (state / "ikz-inbox.sqlite3").is_file()
    assert list(home.iterdir()) == []  # nothing written into the working folder
    status = json.loads(ikz(installed, home, env, "status", "--json").stdout)
    assert not status["model_fallback"]  # the packaged topic model was loaded


def test_a_config_naming_only_events_uses_them_and_packaged_defaults(
    installed: Installed, home: Path, tmp_path: Path
) -> None:
    events = write_events(tmp_path / "own" / "events.toml", "eigene-sprechstunde", "Testtag")
    config = tmp_path / "etc" / "ikz-inbox.toml"
    config.parent.mkdir()
    config.write_text(f'[paths]\nevents = "{events}"\n')
    env = environment(tmp_path, IKZ_INBOX_CONFIG=str(config))
    shown = ikz(installed, home, env, "config", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = {row["key"]: row for row in json.loads(shown.stdout)}
    assert rows["paths.events"]["value"] == str(events)
    assert rows["paths.events"]["origin"] == "Datei"
    for key in ("taxonomy", "gazetteer", "lexicon", "topic_model", "kind_model"):
        assert rows[f"paths.{key}"]["origin"] == "Vorgabe: Paket"
        assert Path(rows[f"paths.{key}"]["value"]).is_relative_to(installed.venv)
    mail = tmp_path / "mail" / "frage.eml"
    mail.parent.mkdir()
    mail.write_bytes(question_mail("Frage zum Testtag"))
    assert ikz(installed, home, env, "import", str(mail.parent)).returncode == 0
    questions = json.loads(ikz(installed, home, env, "questions", "list", "--json").stdout)
    assert questions and {q["event"] for q in questions} == {"eigene-sprechstunde"}


def test_exit_codes_of_the_console_script(installed: Installed, home: Path, tmp_path: Path) -> None:
    env = environment(tmp_path, **{PASSWORD_ENV: "egal"})
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("[worker]\npoll_interval = 0\n")
    result = ikz(installed, home, env, "--config", str(invalid), "status")
    assert result.returncode == 2 and "'worker.poll_interval'" in result.stderr
    missing = tmp_path / "missing-events.toml"
    missing.write_text('[paths]\nevents = "weg.toml"\n')
    result = ikz(installed, home, env, "--config", str(missing), "status")
    assert result.returncode == 2
    assert "'[paths] events'" in result.stderr and "Traceback" not in result.stderr
    never_polled = imap_config(tmp_path / "never.toml", port=free_port(), user="ikz")
    result = ikz(installed, home, env, "--config", str(never_polled), "status")
    assert result.returncode == 1 and "überfällig" in result.stdout
    assert ikz(installed, home, env, "--help").returncode == 0


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
@pytest.mark.dovecot
def test_poll_and_doctor_against_dovecot_with_only_the_mailbox_configured(
    installed: Installed, home: Path, tmp_path: Path, dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    for path in sorted(INBOX.glob("*.eml"))[:3]:
        dovecot.append(imap_user, path.read_bytes())
    only_imap = imap_config(
        tmp_path / "only-imap.toml", dovecot.imaps_port, imap_user.username, dovecot.ca_file
    )
    env = environment(tmp_path, **{PASSWORD_ENV: imap_user.password})
    polled = ikz(installed, home, env, "--config", str(only_imap), "poll", "--once")
    assert polled.returncode == 0, polled.stderr
    assert "3 gespeichert" in polled.stdout
    status = ikz(installed, home, env, "--config", str(only_imap), "status")
    assert status.returncode == 0, status.stdout

    events = write_events(tmp_path / "events.toml", "naechste-sprechstunde", "Sprechstunde")
    deployment = imap_config(
        tmp_path / "deployment.toml",
        dovecot.imaps_port,
        imap_user.username,
        dovecot.ca_file,
        extra=f'[paths]\nevents = "{events}"\n',
    )
    doctor = ikz(installed, home, env, "--config", str(deployment), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith("OK") for line in lines), doctor.stdout
    assert "UIDPLUS ja, MOVE ja, IDLE ja" in doctor.stdout

    wrong = environment(tmp_path, **{PASSWORD_ENV: "falsches-passwort"})
    doctor = ikz(installed, home, wrong, "--config", str(deployment), "doctor")
    assert doctor.returncode == 1
    failed = [line for line in doctor.stdout.splitlines() if line.startswith("FEHLER")]
    assert len(failed) == 1 and failed[0].startswith("FEHLER IMAP default/INBOX:"), doctor.stdout
    assert "falsches-passwort" not in doctor.stdout + doctor.stderr
    refused = ikz(installed, home, wrong, "--config", str(only_imap), "poll", "--once")
    assert refused.returncode == 1 and "default/INBOX" in refused.stderr

    unreachable = imap_config(tmp_path / "unreachable.toml", free_port(), imap_user.username)
    result = ikz(installed, home, env, "--config", str(unreachable), "poll", "--once")
    assert result.returncode == 1 and "default/INBOX" in result.stderr


def imap_config(
    path: Path, port: int, user: str, ca_file: Path | None = None, extra: str = ""
) -> Path:
    lines = [
        "[imap]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'security = "tls"',
        f'username = "{user}"',
        f'password_env = "{PASSWORD_ENV}"',
        "timeout = 5",
        *([f'ca_file = "{ca_file}"'] if ca_file else []),
    ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def write_events(path: Path, event_id: str, keyword: str) -> Path:
    """An events file with one event a week from now that names itself by ``keyword``."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[[event]]\nid = "{event_id}"\ntitle = "Sprechstunde am {keyword}"\n'
        f"starts_at = {start.isoformat()}\nends_at = {(start + timedelta(hours=1)).isoformat()}\n"
        f"questions_from = {(start - timedelta(days=60)).date()}\n"
        f"questions_until = {start.date()}\n"
        f'themes = ["Förderung"]\nkeywords = ["{keyword}"]\n'
    )
    return path


def question_mail(subject: str) -> bytes:
    date = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        "From: Anna Beispiel <anna.beispiel@lemgo.de>\r\n"
        "To: IKZ@Interkommunales.NRW\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        "Message-ID: <frage-testtag@lemgo.de>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Guten Tag,\r\n\r\nwir planen mit zwei Nachbargemeinden einen gemeinsamen Bauhof.\r\n"
        "Welche Fördermittel des Landes können wir dafür beantragen?\r\n\r\n"
        "Mit freundlichen Grüßen\r\nAnna Beispiel\r\nStadt Lemgo\r\n"
    ).encode()
