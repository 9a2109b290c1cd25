"""The boundaries the README's architecture promises, read from the source: only ``store/``
imports SQLAlchemy at runtime, only ``mailbox.py`` imports imapclient, a stage imports no
other stage and no I/O module, the shells (CLI, worker) do not reach into the repository,
and nothing imports the CLI."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "ikz_inbox"
STAGES = ("parse", "extract", "classify", "dedup", "rank", "report")
IO_AND_SERVICES = (
    "store",
    "mailbox",
    "service",
    "ingest",
    "polling",
    "pipeline",
    "processing",
    "worker",
    "cli",
    "app",
    "publish",
)


def runtime_imports(path: Path) -> Iterator[str]:
    """Modules ``path`` imports when it runs (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            if node.module == "ikz_inbox":
                yield from (f"ikz_inbox.{alias.name}" for alias in node.names)


def modules(*names: str) -> list[Path]:
    """The source files of top-level modules or packages of ikz_inbox."""
    found: list[Path] = []
    for name in names:
        package = PACKAGE / name
        found += sorted(package.rglob("*.py")) if package.is_dir() else [PACKAGE / f"{name}.py"]
    return found


def our_module(imported: str) -> str | None:
    """``ikz_inbox.store.repository`` -> ``store``; None for other packages."""
    parts = imported.split(".")
    return parts[1] if parts[0] == "ikz_inbox" and len(parts) > 1 else None


def offenders(files: list[Path], forbidden: Callable[[str], bool]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)} imports {imported}"
        for path in files
        for imported in runtime_imports(path)
        if forbidden(imported)
    ]


def test_only_the_store_imports_sqlalchemy_at_runtime() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts]
    found = offenders(outside, lambda name: name.split(".")[0] == "sqlalchemy")
    assert found == []


def test_only_the_mailbox_module_imports_imapclient() -> None:
    others = [p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "mailbox.py"]
    assert offenders(others, lambda name: name.split(".")[0] == "imapclient") == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage_and_no_io(stage: str) -> None:
    forbidden = {*STAGES, *IO_AND_SERVICES} - {stage}
    found = offenders(modules(stage), lambda name: our_module(name) in forbidden)
    assert found == []


def test_the_shells_do_not_reach_into_the_repository() -> None:
    found = offenders(modules("cli", "worker"), lambda name: name == "ikz_inbox.store.repository")
    found += [
        f"{path.name} uses store.repository"
        for path in modules("cli", "worker")
        if "repository." in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_nothing_imports_the_cli() -> None:
    others = [
        p
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py" and "cli" not in p.relative_to(PACKAGE).parts
    ]
    assert offenders(others, lambda name: our_module(name) == "cli") == []


def test_the_check_sees_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\nimport sqlalchemy.orm\n"
        "from ikz_inbox import store\nif TYPE_CHECKING:\n    from imapclient import IMAPClient\n"
    )
    assert sorted(runtime_imports(sample)) == [
        "ikz_inbox",
        "ikz_inbox.store",
        "sqlalchemy.orm",
        "typing",
    ]
