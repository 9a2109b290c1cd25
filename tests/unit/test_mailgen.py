"""Tests for the benchmark mail generator ``bench/mailgen.py``."""

from __future__ import annotations

import email
import email.policy
import importlib.util
import sys
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType

import pytest

MAILGEN_PATH = Path(__file__).resolve().parents[2] / "bench" / "mailgen.py"


def _load_mailgen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ikz_bench_mailgen", MAILGEN_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


mailgen = _load_mailgen()


@pytest.fixture(scope="module")
def sample() -> list[bytes]:
    """600 messages of seed 0, shared by the tests that look at a larger batch."""
    return list(mailgen.generate_messages(600, 0))


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (25, 0), (25, 7)])
def test_same_seed_gives_same_bytes(n: int, seed: int) -> None:
    assert list(mailgen.generate_messages(n, seed)) == list(mailgen.generate_messages(n, seed))


def test_different_seeds_give_different_messages() -> None:
    assert list(mailgen.generate_messages(10, 1)) != list(mailgen.generate_messages(10, 2))


def test_prefix_does_not_depend_on_count() -> None:
    assert list(mailgen.generate_messages(8, 3)) == list(mailgen.generate_messages(20, 3))[:8]


@pytest.mark.parametrize("n", [0, 1, 13])
def test_yields_exactly_n_messages(n: int) -> None:
    assert sum(1 for _ in mailgen.generate_messages(n)) == n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_message_parses_without_defects(seed: int) -> None:
    for raw in mailgen.generate_messages(150, seed):
        msg = _parse(raw)
        for part in msg.walk():
            assert not part.defects, (msg["message-id"], part.get_content_type(), part.defects)
            if part.get_content_maintype() == "text":
                assert isinstance(part.get_content(), str)
        assert "=?" not in str(msg["subject"])
        assert msg["from"].addresses


def test_message_ids_are_unique(sample: list[bytes]) -> None:
    ids = [_parse(raw)["message-id"] for raw in sample]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_sizes_stay_between_one_and_about_two_hundred_kilobytes(sample: list[bytes]) -> None:
    sizes = [len(raw) for raw in sample]
    assert min(sizes) >= 1_000
    assert max(sizes) <= 220_000
    assert any(size > 50_000 for size in sizes)


def _features(raw: bytes) -> set[str]:
    msg = _parse(raw)
    found = {f"type:{msg.get_content_type()}"}
    if msg["list-unsubscribe"]:
        found.add("newsletter")
    if msg["auto-submitted"] or "Automatische Antwort" in str(msg["subject"]):
        found.add("auto-reply")
    for part in msg.walk():
        if part.get_content_disposition() == "attachment":
            found.add("attachment")
        if part.get_content_maintype() == "text":
            found.add(f"cte:{part.get('content-transfer-encoding', '')}")
            found.add(f"charset:{part.get_content_charset()}")
    return found


def test_output_varies_in_kind_structure_and_encoding(sample: list[bytes]) -> None:
    seen = Counter(f for raw in sample for f in _features(raw))
    for feature in (
        "type:text/plain",
        "type:text/html",
        "type:multipart/alternative",
        "type:multipart/mixed",
        "type:multipart/report",
        "newsletter",
        "auto-reply",
        "attachment",
        "cte:quoted-printable",
        "cte:base64",
        "cte:8bit",
        "charset:utf-8",
        "charset:iso-8859-1",
        "charset:windows-1252",
    ):
        assert seen[feature] > 0, feature


def test_cli_writes_the_generated_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mailgen.main(["--count", "4", "--out", str(tmp_path), "--seed", "9"]) == 0
    files = sorted(tmp_path.glob("*.eml"))
    assert [f.read_bytes() for f in files] == list(mailgen.generate_messages(4, 9))
    assert "wrote 4 messages" in capsys.readouterr().out
