"""End to end over the bundled sample inbox: import, briefing, export, staff actions.

Runs the real console script in subprocesses against a real SQLite file in a temp dir.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.components import chromium_or_skip

ROOT = Path(__file__).resolve().parents[2]
INBOX = ROOT / "examples" / "inbox"
BINARY = str(Path(sys.executable).parent / "ikz-inbox")


def cli(
    db: Path, *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [
        BINARY,
        "--config",
        str(ROOT / "config" / "ikz-inbox.toml"),
        "--db",
        f"sqlite:///{db}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd or ROOT)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="module")
def imported_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample") / "sample.sqlite3"
    result = cli(db, "import", str(INBOX))
    assert "gespeichert" in result.stdout
    return db


@pytest.fixture
def db(imported_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(imported_db, copy)
    return copy


def labels() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (INBOX / "labels.jsonl").read_text().splitlines() if line]
    return [row for row in rows if not row.get("resend_of")]


def export(db: Path, tmp_path: Path) -> dict[str, Any]:
    target = tmp_path / "export.json"
    cli(db, "export", "--output", str(target))
    data: dict[str, Any] = json.loads(target.read_text())
    return data


def test_import_stores_each_message_once(db: Path, tmp_path: Path) -> None:
    again = cli(db, "import", str(INBOX))
    assert "0 gespeichert" in again.stdout
    data = export(db, tmp_path)
    assert data["schema"] == "ikz-inbox/export/1"
    ids = [m["message_id"] for m in data["messages"]]
    assert len(ids) == len(set(ids)) == len(labels())
    assert all(m["status"] == "processed" for m in data["messages"])


def test_export_kinds_and_questions_follow_the_labels(db: Path, tmp_path: Path) -> None:
    data = export(db, tmp_path)
    kinds = {m["message_id"]: m["kind"] for m in data["messages"]}
    correct = sum(kinds.get(row["message_id"]) == row["kind"] for row in labels())
    assert correct / len(labels()) >= 0.9
    asked = Counter(q["message_id"] for q in data["questions"])
    for row in labels():
        if row["kind"] in ("abwesenheit", "unzustellbar", "spam", "newsletter"):
            assert asked[row["message_id"]] == 0, row["file"]
    labelled = sum(len(row["questions"]) for row in labels())
    assert abs(len(data["questions"]) - labelled) <= labelled * 0.15


def test_briefing_top_entries_are_the_most_asked_groups(db: Path, tmp_path: Path) -> None:
    result = cli(db, "briefing", cwd=tmp_path)
    assert "Die 5 wichtigsten Fragen (" in result.stdout
    data = export(db, tmp_path)
    by_cluster = {c["id"]: c for c in data["clusters"]}
    gold_askers: dict[str, set[str]] = {}
    group_of: dict[tuple[str, str], str] = {}
    for row in labels():
        for q in row["questions"]:
            if q["topic"] != "organisation":
                gold_askers.setdefault(q["group"], set()).add(row["message_id"])
            group_of[(row["message_id"], q["text"])] = q["group"]
    top_groups = sorted(gold_askers, key=lambda g: (-len(gold_askers[g]), g))[:3]
    best_rank: dict[str, int] = {}
    from ikz_inbox.evaluation import token_f1

    for q in data["questions"]:
        rank = by_cluster[q["cluster_id"]]["rank"]
        for (message_id, text), group in group_of.items():
            if message_id == q["message_id"] and token_f1(text, q["text"]) >= 0.5 and rank:
                best_rank[group] = min(best_rank.get(group, 99), rank)
    assert all(best_rank.get(group, 99) <= 5 for group in top_groups), best_rank


def test_report_formats_and_output(db: Path, tmp_path: Path) -> None:
    html = tmp_path / "b.html"
    cli(db, "report", "--format", "html", "--output", str(html))
    assert html.read_text().startswith("<!DOCTYPE html>")
    markdown = cli(
        db, "report", "--event", "sprechstunde-2024-10-09", "--format", "md", "--output", "-"
    ).stdout
    assert markdown.startswith("# Fragen-Briefing: Digitale Sprechstunde")
    assert "**Termin:** 09.10.2024, 10:00 Uhr" in markdown
    assert "## Organisatorische Fragen" in markdown


def test_questions_list_and_show_json(db: Path, tmp_path: Path) -> None:
    rows = json.loads(cli(db, "questions", "list", "--json").stdout)
    assert rows and {"id", "text", "topic", "confidence", "cluster_id"} <= rows[0].keys()
    shown = json.loads(cli(db, "questions", "show", str(rows[0]["id"]), "--json").stdout)
    assert shown == rows[0]
    exported = {q["id"]: q for q in export(db, tmp_path)["questions"]}
    assert exported[shown["id"]] == shown  # one schema for the CLI and the export


def test_reclassify_is_audited_and_survives_reprocess(db: Path) -> None:
    question = json.loads(cli(db, "questions", "list", "--json").stdout)[0]
    new_topic = "personal" if question["topic"] != "personal" else "vergabe"
    cli(
        db,
        "questions",
        "reclassify",
        str(question["id"]),
        new_topic,
        "--by",
        "anna",
        "--note",
        "falsch zugeordnet",
    )
    cli(db, "reprocess")
    after = json.loads(cli(db, "questions", "list", "--json").stdout)
    same = [q for q in after if q["text"] == question["text"]]
    assert same and same[0]["topic"] == new_topic and same[0]["topic_source"] == "staff"
    audit = json.loads(cli(db, "audit", "--json").stdout)
    assert [entry["action"] for entry in audit[:2]] == ["reprocess", "reclassify"]
    assert audit[1]["actor"] == "anna" and audit[1]["note"] == "falsch zugeordnet"


def test_unknown_topic_is_refused_in_german(db: Path) -> None:
    question = json.loads(cli(db, "questions", "list", "--json").stdout)[0]
    result = cli(db, "questions", "reclassify", str(question["id"]), "quatsch", check=False)
    assert result.returncode == 2
    assert "Unbekanntes Thema" in result.stderr and "Traceback" not in result.stderr


def clusters(db: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(cli(db, "clusters", "list", "--json").stdout)
    return data


def cluster_of(db: Path, question_id: int) -> set[int]:
    return next(set(c["question_ids"]) for c in clusters(db) if question_id in c["question_ids"])


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
def test_suggestions_are_decided_with_one_command_and_kept(db: Path) -> None:
    suggestions: list[dict[str, Any]] = json.loads(
        cli(db, "clusters", "suggest", "--json", "--limit", "50").stdout
    )
    merges = [s for s in suggestions if s["action"] == "merge"]
    assert len(merges) >= 2, suggestions
    accepted, rejected = merges[0], merges[1]
    assert "zusammengeführt" in cli(db, "clusters", "accept", accepted["key"]).stdout
    assert accepted["other_question_id"] in cluster_of(db, accepted["question_id"])
    cli(db, "clusters", "reject", rejected["key"], "--by", "Moderation")
    assert rejected["other_question_id"] not in cluster_of(db, rejected["question_id"])
    cli(db, "reprocess")  # both decisions hold through a full re-grouping
    assert accepted["other_question_id"] in cluster_of(db, accepted["question_id"])
    assert rejected["other_question_id"] not in cluster_of(db, rejected["question_id"])
    again = json.loads(cli(db, "clusters", "suggest", "--json", "--limit", "50").stdout)
    assert accepted["key"] not in {s["key"] for s in again}
    assert rejected["key"] not in {s["key"] for s in again}  # a settled decision is not asked again
    audit = json.loads(cli(db, "audit", "--json").stdout)
    decisions = [e for e in audit if e["action"].startswith("suggestion-")]
    assert [e["action"] for e in decisions] == ["suggestion-reject", "suggestion-accept"]
    assert decisions[0]["actor"] == "Moderation"
    unknown = cli(db, "clusters", "accept", "merge:x:y", check=False)
    assert unknown.returncode != 0 and "Unbekannter Vorschlag" in unknown.stdout + unknown.stderr


@pytest.mark.timeout(180)  # 7-11 s here (--durations); a loaded CI runner is slower
def test_pin_exclude_merge_split(db: Path) -> None:
    ranked = [c for c in clusters(db) if c["rank"]]
    last = ranked[-1]
    cli(db, "clusters", "pin", str(last["id"]))
    assert {c["id"]: c["rank"] for c in clusters(db)}[last["id"]] == 1
    cli(db, "clusters", "exclude", str(ranked[0]["id"]))
    assert {c["id"]: c["rank"] for c in clusters(db)}[ranked[0]["id"]] is None
    singles = [c for c in clusters(db) if len(c["question_ids"]) == 1 and c["rank"]][:2]
    cli(db, "clusters", "merge", str(singles[0]["id"]), str(singles[1]["id"]))
    merged = [
        c
        for c in clusters(db)
        if set(c["question_ids"]) >= {*singles[0]["question_ids"], *singles[1]["question_ids"]}
    ]
    assert len(merged) == 1
    moved = singles[1]["question_ids"][0]
    cli(db, "clusters", "split", str(merged[0]["id"]), str(moved))
    after = clusters(db)
    holder = [c for c in after if moved in c["question_ids"]][0]
    assert singles[0]["question_ids"][0] not in holder["question_ids"]
    # constraints hold through a full re-clustering
    cli(db, "reprocess")
    again = clusters(db)
    holder = [c for c in again if moved in c["question_ids"]][0]
    assert singles[0]["question_ids"][0] not in holder["question_ids"]
    actions = [entry["action"] for entry in json.loads(cli(db, "audit", "--json").stdout)]
    assert actions[:5] == ["reprocess", "split", "merge", "exclude", "pin"]


def test_invalid_config_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[worker]\npoll_interval = 0\n")
    result = subprocess.run(
        [BINARY, "--config", str(bad), "questions", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "'worker.poll_interval'" in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    result = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=60)
    commands = [
        "import",
        "report",
        "briefing",
        "export",
        "evaluate",
        "questions",
        "clusters",
        "reprocess",
        "train",
        "poll",
        "run",
        "status",
        "migrate",
        "audit",
        "purge",
        "forget",
        "init",
        "config",
        "doctor",
    ]
    for command in commands:
        assert command in result.stdout
        readme = (ROOT / "README.md").read_text()
        assert f"ikz-inbox {command}" in readme, f"README does not document `ikz-inbox {command}`"


def headless(browser: str, profile: Path, *args: str) -> list[str]:
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]


@pytest.mark.browser
def test_briefing_opens_in_a_real_headless_browser(db: Path, tmp_path: Path) -> None:
    browser = chromium_or_skip()
    html = tmp_path / "briefing.html"
    cli(db, "report", "--format", "html", "--output", str(html))
    dom = subprocess.run(
        headless(browser, tmp_path / "profile", "--dump-dom", html.as_uri()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="content-questions"' in dom.stdout
    assert dom.stdout.count('class="cluster') >= 5
    assert "Fragen für die Moderation" in dom.stdout
    screenshot = tmp_path / "briefing.png"
    shot = subprocess.run(
        headless(
            browser,
            tmp_path / "profile2",
            f"--screenshot={screenshot}",
            "--window-size=1200,1600",
            html.as_uri(),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000
