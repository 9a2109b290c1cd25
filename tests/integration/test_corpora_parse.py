"""The parse stage over the shared external corpora and the dev set: no crash, decoded text.

The corpora live in ``../shared`` beside the project root; the tests skip when it is absent.
"""

from __future__ import annotations

import builtins
import io
import re
from pathlib import Path
from typing import Any

import pytest

from ikz_inbox.errors import ParseError
from ikz_inbox.parse import parse_message
from ikz_inbox.types import ParsedMail

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CORPORA = SHARED / "corpora"
DEV = SHARED / "evalsets" / "dev"
MESSAGE_CORPORA = ("spamscope-mail-parser", "mikel-mail", "enmime", "cpython-email")
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
# Mojibake that UTF-8 read as latin-1 leaves behind in German text.
MOJIBAKE = re.compile("Ã[¤¶¼„–œŸ]")


def _corpus_files() -> list[Path]:
    files = [
        path
        for name in MESSAGE_CORPORA
        for path in sorted((CORPORA / name).rglob("*"))
        if path.is_file() and not path.name.startswith("UPSTREAM")
    ]
    return files + sorted((CORPORA / "talon").rglob("*.eml"))


def _ids(paths: list[Path], root: Path) -> list[str]:
    return [str(path.relative_to(root)) for path in paths]


CORPUS_FILES = _corpus_files() if CORPORA.is_dir() else []
DEV_FILES = sorted(DEV.glob("*.eml")) if DEV.is_dir() else []
needs_corpora = pytest.mark.skipif(
    not CORPUS_FILES, reason=f"shared corpora not found at {CORPORA.resolve()}"
)
needs_dev = pytest.mark.skipif(not DEV_FILES, reason=f"dev set not found at {DEV.resolve()}")


@pytest.fixture
def no_file_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Fail on any file opened for writing; run in an empty working directory."""
    real_open = builtins.open

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            raise AssertionError(f"parse stage opened {file!r} for writing")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check_decoded(mail: ParsedMail) -> None:
    assert isinstance(mail.body_text, str)
    assert not ENCODED_WORD.search(mail.subject), mail.subject
    assert not ENCODED_WORD.search(mail.from_name), mail.from_name
    assert "\r" not in mail.body_text
    for inner in mail.embedded:
        _check_decoded(inner)


@needs_corpora
@pytest.mark.parametrize("path", CORPUS_FILES, ids=_ids(CORPUS_FILES, CORPORA))
def test_corpus_message_parses_or_raises_parse_error(path: Path, no_file_writes: Path) -> None:
    raw = path.read_bytes()
    try:
        mail = parse_message(raw)
    except ParseError:
        return
    _check_decoded(mail)
    if "charset" in path.name or "multi_charset" in path.parts:
        assert "\ufffd" * 4 not in mail.body_text
    assert list(no_file_writes.iterdir()) == []


@needs_dev
@pytest.mark.parametrize("path", DEV_FILES, ids=_ids(DEV_FILES, DEV))
def test_dev_message_parses_without_mojibake(path: Path) -> None:
    mail = parse_message(path.read_bytes())
    _check_decoded(mail)
    assert mail.message_id and mail.from_address and mail.date is not None
    assert mail.body_text.strip()
    for text in (mail.subject, mail.from_name, mail.body_text):
        assert not MOJIBAKE.search(text)
        assert "\ufffd" not in text


@needs_dev
def test_dev_lying_charset_message_has_umlauts() -> None:
    """0016 declares iso-8859-1 but is UTF-8: umlauts must come out as umlauts."""
    mail = parse_message((DEV / "0016.eml").read_bytes())
    assert re.search("[äöüß]", mail.body_text)
    assert not MOJIBAKE.search(mail.body_text)
    assert any("UTF-8" in defect for defect in mail.defects)
