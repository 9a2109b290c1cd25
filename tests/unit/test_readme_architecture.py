"""The README's architecture section names every module of the package, and names none
that does not exist: a newcomer finds each stage from there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "ikz_inbox"
# Entry points and package markers, not stages or services.
NOT_DESCRIBED = {"__init__.py", "__main__.py"}


def architecture_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Architecture\n")
    return readme[start : readme.index("\n## ", start + 1)]


def described_names(section: str) -> set[str]:
    return set(re.findall(r"\b([a-z_]+(?:\.py|/))", section))


def package_modules() -> set[str]:
    """Top-level modules and sub-packages, and the modules inside the sub-packages."""
    names = {p.name for p in PACKAGE.glob("*.py")} | {
        f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    for package in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        if package.name != "store":  # the store's modules are described as one package
            names |= {p.name for p in package.glob("*.py")}
    return names - NOT_DESCRIBED


def test_every_module_is_described() -> None:
    missing = package_modules() - described_names(architecture_section())
    assert not missing, f"not in the README's architecture section: {sorted(missing)}"


def test_every_described_module_exists() -> None:
    existing = {p.name for p in PACKAGE.rglob("*.py")}
    named = {name for name in described_names(architecture_section()) if name.endswith(".py")}
    invented = named - existing
    assert not invented, f"described but not in src/ikz_inbox: {sorted(invented)}"
