"""The moderator's briefing of the sample inbox: golden files, PDF, a real browser, the CLI.

The sample inbox is imported once into a real SQLite file (by the console script); the
golden files are rendered in-process with the clock and the version frozen. Regenerate
them deliberately with ``pytest tests/e2e/test_briefing.py --update-golden`` (after a
change to the templates, the ranking or a retrained model).
"""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from ikz_inbox import service
from ikz_inbox.app import open_app
from ikz_inbox.report import ReportOptions, render_briefing, render_briefing_pdf
from ikz_inbox.store import session_scope
from ikz_inbox.types import Briefing
from tests.components import chromium_or_skip
from tests.e2e.cdp import load_page
from tests.e2e.test_sample_inbox import INBOX, ROOT, cli

GOLDEN = ROOT / "tests" / "data" / "golden"
CONFIG = ROOT / "config" / "ikz-inbox.toml"
EVENT_ID = "sprechstunde-2024-10-09"
# The morning before the event; the version is frozen so that a release changes nothing.
FROZEN_NOW = datetime(2024, 10, 8, 4, 0, tzinfo=UTC)
OPTIONS = ReportOptions(version="TEST")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("briefing") / "sample.sqlite3"
    cli(db, "import", str(INBOX))
    return db


@pytest.fixture
def db(sample_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(sample_db, copy)
    return copy


@pytest.fixture(scope="module")
def sample_briefing(sample_db: Path) -> tuple[Briefing, dict[str, str]]:
    application = open_app(CONFIG, f"sqlite:///{sample_db}")
    try:
        with session_scope(application.database) as session:
            briefing = service.build_briefing(
                session, application.events, EVENT_ID, FROZEN_NOW, application.dedup
            )
        return briefing, application.topic_labels
    finally:
        application.close()


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_sample_briefing_matches_golden_file(
    fmt: str, sample_briefing: tuple[Briefing, dict[str, str]], request: pytest.FixtureRequest
) -> None:
    briefing, labels = sample_briefing
    rendered = render_briefing(briefing, "md" if fmt == "md" else "html", labels, OPTIONS)
    golden = GOLDEN / f"sample-{EVENT_ID}.{fmt}"
    if request.config.getoption("--update-golden"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


def test_sample_briefing_is_the_events_own(
    sample_briefing: tuple[Briefing, dict[str, str]],
) -> None:
    briefing, _ = sample_briefing
    assert briefing.event is not None and briefing.event.id == EVENT_ID
    members = [m for entry in briefing.clusters for m in entry.summary.members]
    assert members and briefing.stats["questions"] == len(members)
    assert all(entry.summary.event_id in (EVENT_ID, None) for entry in briefing.clusters)
    assert briefing.content[0].rank == 1


@pytest.mark.slow
def test_pdf_has_pages_title_and_first_question(
    sample_briefing: tuple[Briefing, dict[str, str]], tmp_path: Path
) -> None:
    briefing, labels = sample_briefing
    pdf = render_briefing_pdf(briefing, labels, OPTIONS)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert reader.metadata is not None and reader.metadata.title == briefing.title
    first_page = _words(reader.pages[0].extract_text())
    assert _words(briefing.content[0].representative.text) in first_page
    assert "Seite 1 von" in first_page
    assert _words("Digitale Sprechstunde mit dem Landesbeauftragten") in _words(
        reader.pages[1].extract_text()
    )


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.browser
def test_briefing_in_headless_chromium_without_errors_or_requests(
    sample_briefing: tuple[Briefing, dict[str, str]], tmp_path: Path
) -> None:
    browser = chromium_or_skip()
    briefing, labels = sample_briefing
    html = tmp_path / "briefing.html"
    html.write_text(render_briefing(briefing, "html", labels, OPTIONS), encoding="utf-8")
    report = load_page(browser, html.as_uri(), tmp_path / "profile")
    (tmp_path / "briefing.png").write_bytes(report.screenshot)
    assert report.requests == [html.as_uri()], "the briefing must request nothing"
    assert report.console_errors == []
    assert report.screenshot.startswith(b"\x89PNG") and len(report.screenshot) > 50_000


@pytest.mark.browser
def test_browser_check_catches_a_request(tmp_path: Path) -> None:
    """The check above can fail: a page that loads an image is caught."""
    browser = chromium_or_skip()
    page = tmp_path / "bad.html"
    page.write_text(
        '<html lang="de"><body><img src="https://example.org/x.png" alt="">'
        "<script>console.error('kaputt')</script></body></html>"
    )
    report = load_page(browser, page.as_uri(), tmp_path / "profile")
    assert "https://example.org/x.png" in report.requests
    assert report.console_errors


def test_cli_default_event_says_when_it_is_past(db: Path, tmp_path: Path) -> None:
    result = cli(db, "report", "--format", "md", "--output", str(tmp_path / "b.md"))
    assert "zuletzt vergangenen Veranstaltung" in result.stderr  # the sample events are past
    text = (tmp_path / "b.md").read_text()
    assert text.startswith("# Fragen-Briefing: Online-Spotlight IKZ im Bereich Gesundheit")
    assert "zuletzt vergangenen Veranstaltung" in text


def test_cli_event_all_has_a_section_per_event(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "all.html"
    cli(db, "report", "--event", "all", "--output", str(target))
    html = target.read_text()
    assert html.count('class="event-part"') >= 3
    assert "Fragen-Briefing: alle Veranstaltungen" in html


def test_cli_report_writes_pdf(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "b.pdf"
    cli(db, "report", "--event", EVENT_ID, "--format", "pdf", "--output", str(target))
    assert target.read_bytes().startswith(b"%PDF-")


def test_second_briefing_marks_what_is_new(db: Path, tmp_path: Path) -> None:
    """A question that came in after the last briefing of the event is marked new."""
    reports = tmp_path / "reports"
    cli_here = [str(_config_with_report_dir(tmp_path, reports))]
    first = _cli(db, cli_here, "briefing", "--event", EVENT_ID)
    assert "briefing-sprechstunde-2024-10-09.pdf" in first
    assert (reports / ".briefing-sprechstunde-2024-10-09.json").is_file()
    assert (
        "neu seit dem letzten Briefing" not in (reports / f"briefing-{EVENT_ID}.html").read_text()
    )
    mail = tmp_path / "new.eml"
    mail.write_text(NEW_QUESTION, encoding="utf-8")
    _cli(db, cli_here, "import", str(mail))
    _cli(db, cli_here, "briefing", "--event", EVENT_ID)
    html = (reports / f"briefing-{EVENT_ID}.html").read_text()
    assert "neu seit dem letzten Briefing" in html
    assert "Ringtausch von Bauhoffahrzeugen" in html
    assert "**\\[neu\\]**" in (reports / f"briefing-{EVENT_ID}.md").read_text()


def _config_with_report_dir(folder: Path, reports: Path) -> Path:
    """A copy of the repository's config whose paths point back at it, reports elsewhere."""
    lines = []
    for line in CONFIG.read_text().splitlines():
        match = re.match(r'^(\w+) = "([^"]+)"(.*)$', line)
        if match and match[1] in {
            "events",
            "taxonomy",
            "gazetteer",
            "lexicon",
            "training",
            "spacy_config",
            "topic_model",
            "lock_dir",
            "cache_dir",
        }:
            line = f'{match[1]} = "{(CONFIG.parent / match[2]).resolve()}"'
        elif match and match[1] == "report_dir":
            line = f'report_dir = "{reports}"'
        lines.append(line)
    config = folder / "ikz-inbox.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _cli(db: Path, config: list[str], *args: str) -> str:
    import subprocess

    from tests.e2e.test_sample_inbox import BINARY

    command = [BINARY, "--config", *config, "--db", f"sqlite:///{db}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


NEW_QUESTION = """\
From: Kämmerei <kaemmerei@stadt-lemgo.de>
To: IKZ@Interkommunales.NRW
Subject: Frage zur Digitalen Sprechstunde am 9. Oktober
Date: Mon, 07 Oct 2024 09:15:00 +0200
Message-ID: <neu-2024-10-07@stadt-lemgo.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Sehr geehrte Damen und Herren,

ist ein gemeinsamer Ringtausch von Bauhoffahrzeugen zwischen zwei Gemeinden nach der
Förderrichtlinie IKZ förderfähig?

Mit freundlichen Grüßen
Stadt Lemgo
"""


@pytest.mark.slow
def test_scheduled_job_writes_all_three_formats_for_the_next_event(
    db: Path, tmp_path: Path
) -> None:
    from ikz_inbox.publish import publish_scheduled_briefing

    reports = tmp_path / "reports"
    application = open_app(_config_with_report_dir(tmp_path, reports), f"sqlite:///{db}")
    try:
        paths = publish_scheduled_briefing(application, datetime(2024, 10, 1, 6, 0, tzinfo=UTC))
    finally:
        application.close()
    assert sorted(path.name for path in paths) == [
        f"briefing-{EVENT_ID}.{fmt}" for fmt in ("html", "md", "pdf")
    ]
    assert all(path.stat().st_size > 1000 for path in paths)
    assert (reports / f".briefing-{EVENT_ID}.json").is_file()
